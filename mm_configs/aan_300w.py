# AAN on 300W (68 points): the paper's recipe (Sec. 4.2).
#   mim train mmpose mm_configs/aan_300w.py
# Data: `aan convert 300w RAW data/300w` (README "Reproduce the paper"); MMPose's released 300W
# files work too (ann_file face_landmarks_300w_train.json / _valid.json: the same full set).
# Choices the paper leaves open are marked "open:" and documented in README.md.
_base_ = ['mmpose::_base_/default_runtime.py']

custom_imports = dict(imports=['aan_components'], allow_failed_imports=False)

# ---------------------------------------------------------------- schedule (paper, Sec. 4.2)
# Adam, lr 1e-3, weight decay 1e-3, batch 64; lr x0.1 after 25k and 40k iterations
# (the paper says "epochs"; at batch 64 only iterations make sense). open: end at 50k.
# Checkpoint: the LAST one (a fixed schedule, as the paper's). No config here validates on
# its test data during training or keeps a "best" checkpoint: choosing among checkpoints by
# their test NME would bias the reported number down. The one validation runs at the end of
# training, on the final weights, and equals `mim test` of the last checkpoint (README).
max_iters = 50000
train_cfg = dict(by_epoch=False, max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-3))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[25000, 40000], gamma=0.1),
]
auto_scale_lr = dict(base_batch_size=64)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=3,
                    save_last=True, save_best=None),
)
log_processor = dict(by_epoch=False)
# stop at the first NaN/inf loss, naming the iteration, before a diverged checkpoint is saved
custom_hooks = [dict(type='FiniteLossHook')]
# multi-GPU: 'torch' turns every BatchNorm into SyncBatchNorm (statistics over the global
# batch, as the paper's batch 64 on one GPU); None keeps per-GPU statistics (README)
sync_bn = None

# ---------------------------------------------------------------------------------- model
input_size = (256, 256)  # open: the paper does not give its crop size
num_joints = 68
stage_channels = (128, 256, 512, 1024)  # open: channel widths
codec = dict(type='RegressionLabel', input_size=input_size)

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='AANBackbone',
        stem_channels=64,
        # open: 4 = ResNet stem (7x7/2 conv + 3x3/2 max-pool), five poolings with the stages';
        # 2 = conv only, exactly the paper's "four pooling layers" but ~4x the FLOPs (README,
        # "Table 5 on synthetic faces")
        stem_stride=4,
        stage_channels=stage_channels,
        blocks_per_stage=1,  # paper: one residual bottleneck block per building block
        attention=True,
        pool='max',  # open: which pooling
        out_indices=(0, 1, 2, 3)),
    head=dict(
        type='CosineEmbeddingHead',
        in_channels=stage_channels,  # a sequence: one intermediate branch per stage
        num_joints=num_joints,
        embedding_dim=256,  # paper: d = 256 (cross-validated)
        # paper: "the feature vector produced by the last residual block" into fully connected
        # layers, read literally: the flattened C x H x W map, for the head and the branches
        # (README, "Table 5 on synthetic faces": flattening beat global average pooling there).
        # Needs each map's size: input_size / (8, 16, 32, 64) with stem_stride=4.
        final_input='flatten',
        branch_input='flatten',
        feature_sizes=[(input_size[0] // r, input_size[1] // r) for r in (8, 16, 32, 64)],
        loss=dict(
            type='IntermediateSupervisionLoss',
            # open: the loss. L2 as the era's Caffe EuclideanLoss, sum((pred - gt)^2) / (2 N):
            # that is MMPose's element-mean MSELoss times K. The scale matters: with MMPose's
            # plain mean the gradients are K times smaller and the paper's weight decay
            # (1e-3, Adam's coupled L2) outweighs them; training then stalls at the mean
            # shape (measured on synthetic faces: README, "The loss scale").
            loss=dict(type='MSELoss', use_target_weight=True, loss_weight=num_joints),
            stage_weights=(1.0, 1.0, 1.0, 1.0),  # paper: all losses summed (one per stage)
            final_weight=1.0),
        decoder=codec),
    # The paper reports single-pass numbers; flip test (MMPose TTA) is available.
    test_cfg=dict(flip_test=False, shift_coords=True))

# ----------------------------------------------------------------------------------- data
dataset_type = 'AANFace300WDataset'  # MMPose's Face300WDataset; no data: says how to get it
data_mode = 'topdown'
data_root = 'data/300w/'

# MMPose's PackPoseInputs default meta_keys, plus 'box_size' (AFLW's normaliser)
PACKED_META_KEYS = ('id', 'img_id', 'img_path', 'category_id', 'crowd_index', 'ori_shape',
                    'img_shape', 'input_size', 'input_center', 'input_scale', 'flip',
                    'flip_direction', 'flip_indices', 'raw_ann_info', 'dataset_name',
                    'box_size')

# Paper: faces cropped with the dataset's box, no data augmentation. LoadFaceImage = MMPose's
# LoadImage that names unreadable files; in training it skips them (warning with the path).
train_pipeline = [
    dict(type='LoadFaceImage', on_error='skip'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadFaceImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
    # MMPose's default meta keys plus 'box_size': AFLWDataset reads the annotation's box_size
    # (test mode) and FaceAlignmentMetric(norm_mode='box_size') normalises by it; without it
    # the metric would see only the square box MMPose builds from center/scale.
    dict(type='PackPoseInputs', meta_keys=PACKED_META_KEYS),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/face_landmarks_300w_train.json',
        data_prefix=dict(img='images/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        # full set (common + challenging, 689); the metric reports each subset too
        ann_file='annotations/face_landmarks_300w_full.json',
        data_prefix=dict(img='images/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader

# Per-image NME, CED, AUC/FR@0.08/0.1 on full / common / challenging from one run, with both
# normalisations (AAN_SPEC: the paper's 4.38 / 9.44 / 5.39 sit near the inter-pupil scale):
# inter-ocular = outer eye corners 36/45 ("NME"), inter-pupil = eye
# centres ("inter_pupil/NME").
val_evaluator = [
    dict(type='FaceAlignmentMetric', norm_mode='inter_ocular', subsets='300w'),
    dict(type='FaceAlignmentMetric', norm_mode='inter_pupil', subsets='300w',
         prefix='inter_pupil'),
]
test_evaluator = val_evaluator
