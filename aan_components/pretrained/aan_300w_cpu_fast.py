# The shipped model's test-time network (docs/pretrained_model.md). Made by
#   python -m bench.pretrained_model (from the run of:)
#   mim train mmpose mm_configs/aan_300w_cpu_batchaug.py --work-dir
#   work_dirs/fast_recipe_300w/cosine_seed1 --cfg-options randomness.seed=1
#   model.head.output_init=mean_shape model.head.embedding_sigma=median
#   param_scheduler._delete_=True param_scheduler.type=CosineAnnealingLR
#   param_scheduler.by_epoch=False param_scheduler.begin=0 param_scheduler.end=12100
#   train_cfg.max_iters=12100 max_iters=12100 train_cfg.val_interval=12100
#   default_hooks.checkpoint.interval=12100 default_hooks.checkpoint.interval=500
#   default_hooks.checkpoint.max_keep_ckpts=1 default_hooks.checkpoint.save_last=True
#   train_dataloader.dataset.dataset.data_root=data/300w/
#   val_dataloader.dataset.data_root=data/300w/ test_dataloader.dataset.data_root=data/300w/
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
cache_codec = dict(
    input_size=(
        224,
        224,
    ), type='RegressionLabel')
cache_padding = 2.1875
cache_size = (
    224,
    224,
)
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
        interval=500,
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
max_iters = 12100
model = dict(
    backbone=dict(
        attention='none',
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
        batch_augments=[
            dict(
                blur_p=0.0,
                channel_shuffle_p=0.5,
                color=(
                    0.125,
                    0.5,
                    0.0,
                    0.0,
                ),
                color_p=0.75,
                degrees=25.0,
                flip=True,
                gamma=(
                    1.0,
                    1.0,
                ),
                mean=[
                    123.675,
                    116.28,
                    103.53,
                ],
                noise_std=0.0,
                output_size=(
                    128,
                    128,
                ),
                scale=(
                    0.87,
                    1.11,
                ),
                std=[
                    58.395,
                    57.12,
                    57.375,
                ],
                translate=0.06,
                type='RandomFaceBatchAugment'),
        ],
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
        type='PixelBatchAugmentPreprocessor'),
    head=dict(
        decoder=dict(input_size=(
            128,
            128,
        ), type='RegressionLabel'),
        embedding_dim=256,
        embedding_sigma='median',
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
        output_init='mean_shape',
        type='CosineEmbeddingHead'),
    test_cfg=dict(flip_test=False, shift_coords=True),
    type='AANPoseEstimator')
num_joints = 68
optim_wrapper = dict(
    optimizer=dict(fused=True, lr=0.001, type='Adam', weight_decay=0.001),
    type='BF16AutocastOptimWrapper')
param_scheduler = dict(
    begin=0, by_epoch=False, end=12100, type='CosineAnnealingLR')
randomness = dict(seed=1)
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
train_cfg = dict(by_epoch=False, max_iters=12100, val_interval=12100)
train_dataloader = dict(
    batch_size=32,
    dataset=dict(
        dataset=dict(
            ann_file='annotations/face_landmarks_300w_train.json',
            data_mode='topdown',
            data_prefix=dict(img='images/'),
            data_root='data/300w/',
            pipeline=[
                dict(on_error='skip', type='LoadFaceImage'),
                dict(padding=2.1875, type='GetBBoxCenterScale'),
                dict(input_size=(
                    224,
                    224,
                ), type='TopdownAffine'),
                dict(
                    encoder=dict(
                        input_size=(
                            224,
                            224,
                        ), type='RegressionLabel'),
                    type='GenerateTarget'),
                dict(type='PackPoseInputs'),
            ],
            type='AANFace300WDataset'),
        device='cpu',
        num_workers=2,
        type='CropCacheDataset'),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(shuffle=True, type='InfiniteSampler'))
train_pipeline = [
    dict(on_error='skip', type='LoadFaceImage'),
    dict(type='GetBBoxCenterScale'),
    dict(input_size=(
        128,
        128,
    ), type='TopdownAffine'),
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
