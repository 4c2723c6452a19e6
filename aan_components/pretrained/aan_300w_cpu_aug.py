# The shipped model's test-time network (docs/pretrained_model.md). Made by
#   python -m bench.pretrained_model (from the run of:)
#   mim train mmpose mm_configs/aan_300w_cpu_aug.py --work-dir work_dirs/pretrained_300w
#   --cfg-options randomness.seed=0 model.head.loss.loss.type=L1Loss
#   model.head.loss.loss.loss_weight=136
# The training-only intermediate-supervision branches are left out: training
# this config trains without them; train the command's config instead.
PACKED_META_KEYS = (
    'id',
    'img_id',
    'img_path',
    'category_id',
    'crowd_index',
    'ori_shape',
    'img_shape',
    'input_size',
    'input_center',
    'input_scale',
    'flip',
    'flip_direction',
    'flip_indices',
    'raw_ann_info',
    'dataset_name',
    'box_size',
)
auto_scale_lr = dict(base_batch_size=32)
backend_args = dict(backend='local')
codec = dict(
    input_size=(
        128,
        128,
    ), type='RegressionLabel')
custom_hooks = [
    dict(type='FiniteLossHook'),
]
custom_imports = dict(
    allow_failed_imports=False, imports=[
        'aan_components.plugin',
    ])
data_mode = 'topdown'
data_root = 'data/300w/'
dataset_type = 'AANFace300WDataset'
default_hooks = dict(
    badcase=dict(
        _scope_='mmpose',
        badcase_thr=5,
        enable=False,
        metric_type='loss',
        out_dir='badcase',
        type='BadCaseAnalysisHook'),
    channels_last=dict(type='ChannelsLastHook'),
    checkpoint=dict(
        _scope_='mmpose',
        by_epoch=False,
        interval=6000,
        max_keep_ckpts=1,
        save_best=None,
        save_last=True,
        type='CheckpointHook'),
    cpu_threads=dict(type='CPUThreadsHook'),
    logger=dict(_scope_='mmpose', interval=100, type='LoggerHook'),
    param_scheduler=dict(_scope_='mmpose', type='ParamSchedulerHook'),
    sampler_seed=dict(_scope_='mmpose', type='DistSamplerSeedHook'),
    timer=dict(_scope_='mmpose', type='IterTimerHook'),
    visualization=dict(
        _scope_='mmpose', enable=False, type='PoseVisualizationHook'))
default_scope = 'mmpose'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='nccl'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
input_size = (
    128,
    128,
)
log_level = 'INFO'
log_processor = dict(
    _scope_='mmpose',
    by_epoch=False,
    num_digits=6,
    type='LogProcessor',
    window_size=50)
max_iters = 6000
model = dict(
    backbone=dict(
        attention=True,
        blocks_per_stage=1,
        out_indices=(
            0,
            1,
            2,
            3,
        ),
        pool='max',
        stage_channels=(
            64,
            128,
            256,
            512,
        ),
        stem_channels=32,
        stem_stride=4,
        type='AANBackbone'),
    data_preprocessor=dict(
        bgr_to_rgb=True,
        mean=[
            123.675,
            116.28,
            103.53,
        ],
        std=[
            58.395,
            57.12,
            57.375,
        ],
        type='PoseDataPreprocessor'),
    head=dict(
        decoder=dict(input_size=(
            128,
            128,
        ), type='RegressionLabel'),
        embedding_dim=256,
        feature_sizes=[
            [
                2,
                2,
            ],
        ],
        final_input='flatten',
        in_channels=512,
        loss=dict(loss_weight=136, type='L1Loss', use_target_weight=True),
        num_joints=68,
        type='CosineEmbeddingHead'),
    test_cfg=dict(flip_test=False, shift_coords=True),
    type='TopdownPoseEstimator')
num_joints = 68
optim_wrapper = dict(
    optimizer=dict(fused=True, lr=0.001, type='Adam', weight_decay=0.001),
    type='BF16AutocastOptimWrapper')
param_scheduler = [
    dict(
        begin=0,
        by_epoch=False,
        end=6000,
        gamma=0.1,
        milestones=[
            3600,
            5100,
        ],
        type='MultiStepLR'),
]
randomness = dict(seed=0)
stage_channels = (
    64,
    128,
    256,
    512,
)
sync_bn = None
test_cfg = dict()
test_dataloader = dict(
    batch_size=32,
    dataset=dict(
        ann_file='annotations/face_landmarks_300w_common.json',
        data_mode='topdown',
        data_prefix=dict(img='images/'),
        data_root='data/300w/',
        pipeline=[
            dict(type='LoadFaceImage'),
            dict(type='GetBBoxCenterScale'),
            dict(input_size=(
                128,
                128,
            ), type='TopdownAffine'),
            dict(
                meta_keys=(
                    'id',
                    'img_id',
                    'img_path',
                    'category_id',
                    'crowd_index',
                    'ori_shape',
                    'img_shape',
                    'input_size',
                    'input_center',
                    'input_scale',
                    'flip',
                    'flip_direction',
                    'flip_indices',
                    'raw_ann_info',
                    'dataset_name',
                    'box_size',
                ),
                type='PackPoseInputs'),
        ],
        test_mode=True,
        type='AANFace300WDataset'),
    drop_last=False,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(round_up=False, shuffle=False, type='DefaultSampler'))
test_evaluator = [
    dict(norm_mode='inter_ocular', subsets='300w', type='FaceAlignmentMetric'),
    dict(
        norm_mode='inter_pupil',
        prefix='inter_pupil',
        subsets='300w',
        type='FaceAlignmentMetric'),
]
train_cfg = dict(by_epoch=False, max_iters=6000, val_interval=6000)
train_dataloader = dict(
    batch_size=32,
    dataset=dict(
        ann_file='annotations/face_landmarks_300w_train.json',
        data_mode='topdown',
        data_prefix=dict(img='images/'),
        data_root='data/300w/',
        pipeline=[
            dict(cache_images=True, on_error='skip', type='LoadFaceImage'),
            dict(type='GetBBoxCenterScale'),
            dict(direction='horizontal', type='RandomFlip'),
            dict(
                rotate_factor=25.0,
                rotate_prob=1.0,
                scale_factor=(
                    0.9,
                    1.15,
                ),
                scale_prob=1.0,
                shift_factor=0.06,
                shift_prob=1.0,
                type='RandomBBoxTransform'),
            dict(input_size=(
                128,
                128,
            ), type='TopdownAffine'),
            dict(type='PhotometricDistortion'),
            dict(
                encoder=dict(input_size=(
                    128,
                    128,
                ), type='RegressionLabel'),
                type='GenerateTarget'),
            dict(type='PackPoseInputs'),
        ],
        type='AANFace300WDataset'),
    num_workers=1,
    persistent_workers=True,
    sampler=dict(shuffle=True, type='InfiniteSampler'))
train_pipeline = [
    dict(cache_images=True, on_error='skip', type='LoadFaceImage'),
    dict(type='GetBBoxCenterScale'),
    dict(direction='horizontal', type='RandomFlip'),
    dict(
        rotate_factor=25.0,
        rotate_prob=1.0,
        scale_factor=(
            0.9,
            1.15,
        ),
        scale_prob=1.0,
        shift_factor=0.06,
        shift_prob=1.0,
        type='RandomBBoxTransform'),
    dict(input_size=(
        128,
        128,
    ), type='TopdownAffine'),
    dict(type='PhotometricDistortion'),
    dict(
        encoder=dict(input_size=(
            128,
            128,
        ), type='RegressionLabel'),
        type='GenerateTarget'),
    dict(type='PackPoseInputs'),
]
val_cfg = dict()
val_dataloader = dict(
    batch_size=32,
    dataset=dict(
        ann_file='annotations/face_landmarks_300w_common.json',
        data_mode='topdown',
        data_prefix=dict(img='images/'),
        data_root='data/300w/',
        pipeline=[
            dict(type='LoadFaceImage'),
            dict(type='GetBBoxCenterScale'),
            dict(input_size=(
                128,
                128,
            ), type='TopdownAffine'),
            dict(
                meta_keys=(
                    'id',
                    'img_id',
                    'img_path',
                    'category_id',
                    'crowd_index',
                    'ori_shape',
                    'img_shape',
                    'input_size',
                    'input_center',
                    'input_scale',
                    'flip',
                    'flip_direction',
                    'flip_indices',
                    'raw_ann_info',
                    'dataset_name',
                    'box_size',
                ),
                type='PackPoseInputs'),
        ],
        test_mode=True,
        type='AANFace300WDataset'),
    drop_last=False,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(round_up=False, shuffle=False, type='DefaultSampler'))
val_evaluator = [
    dict(norm_mode='inter_ocular', subsets='300w', type='FaceAlignmentMetric'),
    dict(
        norm_mode='inter_pupil',
        prefix='inter_pupil',
        subsets='300w',
        type='FaceAlignmentMetric'),
]
val_pipeline = [
    dict(type='LoadFaceImage'),
    dict(type='GetBBoxCenterScale'),
    dict(input_size=(
        128,
        128,
    ), type='TopdownAffine'),
    dict(
        meta_keys=(
            'id',
            'img_id',
            'img_path',
            'category_id',
            'crowd_index',
            'ori_shape',
            'img_shape',
            'input_size',
            'input_center',
            'input_scale',
            'flip',
            'flip_direction',
            'flip_indices',
            'raw_ann_info',
            'dataset_name',
            'box_size',
        ),
        type='PackPoseInputs'),
]
vis_backends = [
    dict(_scope_='mmpose', type='LocalVisBackend'),
]
visualizer = dict(
    _scope_='mmpose',
    name='visualizer',
    type='PoseLocalVisualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
    ])
