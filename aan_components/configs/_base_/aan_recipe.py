# The AAN recipe every dataset config starts from: the paper's model, loss, optimiser and
# schedule (Sec. 4.2), and its data handling (faces cropped with the dataset's box, no
# augmentation). Not a config to train by itself: a dataset config on top sets
#   model.head.num_joints, the dataloaders' dataset type / data_root / ann_file and the
#   evaluators (../aan_300w.py, ../aan_aflw.py, ../aan_celeba.py, ../aan_300vw.py,
#   ../aan_synthetic.py).
# Choices the paper leaves open are marked "open:" and documented in docs/reproducing.md.
_base_ = ['mmpose::_base_/default_runtime.py']

# registers aan-components' classes and makes its process-wide fixes (aan_components/plugin.py)
custom_imports = dict(imports=['aan_components.plugin'], allow_failed_imports=False)

# ---------------------------------------------------------------- schedule (paper, Sec. 4.2)
# Adam, lr 1e-3, weight decay 1e-3, batch 64; lr x0.1 after 25k and 40k iterations
# (the paper says "epochs"; at batch 64 only iterations make sense). open: end at 50k.
# Checkpoint: the LAST one (a fixed schedule, as the paper's). No config here validates on
# its test data during training or keeps a "best" checkpoint: choosing among checkpoints by
# their test NME would bias the reported number down. The one validation runs at the end of
# training, on the final weights, and equals `mim test` of the last checkpoint
# (docs/reproducing.md).
max_iters = 50000
train_cfg = dict(by_epoch=False, max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-3))
# Adam's weight_decay is coupled L2 (added to the gradient): its strength against the data
# term grows with fewer loss terms (no branches: 1 term instead of 5) and smaller gradients.
# Decoupled decay instead (not the paper's; independent of the loss scale), in a child config:
#   optim_wrapper = dict(optimizer=dict(type='AdamW'))  # lr and weight_decay as above
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
# batch, as the paper's batch 64 on one GPU); None keeps per-GPU statistics (docs/gpu_training.md)
sync_bn = None

# ---------------------------------------------------------------------------------- model
input_size = (256, 256)  # open: the paper does not give its crop size
stage_channels = (128, 256, 512, 1024)  # open: channel widths
codec = dict(type='RegressionLabel', input_size=input_size)

model = dict(
    # TopdownPoseEstimator that fills the head's 'auto' sizes from the backbone: a child that
    # changes the crop (codec), stem stride or widths (backbone) types no map size or channels
    type='AANPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='AANBackbone',
        stem_channels=64,
        # open: 4 = ResNet stem (7x7/2 conv + 3x3/2 max-pool), five poolings with the stages';
        # 2 = conv only, exactly the paper's "four pooling layers" but ~4x the FLOPs
        # (docs/studies.md, "Table 5 on synthetic faces")
        stem_stride=4,
        stage_channels=stage_channels,
        blocks_per_stage=1,  # paper: one residual bottleneck block per building block
        attention='aan',  # the paper's F = (1 + M) * H; other forms: aan_core.create_attention
        pool='max',  # open: which pooling
        out_indices=(0, 1, 2, 3)),
    head=dict(
        type='CosineEmbeddingHead',
        in_channels='auto',  # the backbone's outputs: one intermediate branch per stage
        embedding_dim=256,  # paper: d = 256 (cross-validated)
        # paper: "the feature vector produced by the last residual block" into fully connected
        # layers, read literally: the flattened C x H x W map, for the head and the branches
        # (docs/studies.md, "Table 5 on synthetic faces": flattening beat global average
        # pooling there).
        final_input='flatten',
        branch_input='flatten',
        # each map's (H, W): the backbone's geometry (stem stride, stages) at the codec's crop
        feature_sizes='auto',
        loss=dict(
            type='IntermediateSupervisionLoss',
            # open: the loss. L2 as the era's Caffe EuclideanLoss, sum((pred - gt)^2) / (2 N):
            # MMPose's element-mean MSELoss times K, K read from the prediction (no config
            # restates it). The scale matters: with MMPose's plain mean the gradients are K
            # times smaller and the paper's weight decay (1e-3, Adam's coupled L2) outweighs
            # them; training then stalls at the mean shape (measured on synthetic faces:
            # docs/reproducing.md, "The loss scale").
            loss=dict(type='EuclideanLoss', use_target_weight=True),
            stage_weights=(1.0, 1.0, 1.0, 1.0),  # paper: all losses summed (one per stage)
            final_weight=1.0),
        # Not the paper's (off here): normalise_weights=True in the loss divides the weights
        # by their total (they sum to 1 with or without branches); output_init='mean_shape'
        # starts every regressor at the first training batch's mean shape (output weights
        # 0); embedding_sigma='median' sets the embedding's bandwidth to that batch's median
        # pairwise distance. Both starts are skipped for loaded weights (CosineEmbeddingHead).
        decoder=codec),
    # The paper reports single-pass numbers; flip test (MMPose TTA) is available.
    test_cfg=dict(flip_test=False, shift_coords=True))

# ----------------------------------------------------------------------------------- data
data_mode = 'topdown'

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
        data_mode=data_mode,
        data_prefix=dict(img='images/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        data_mode=data_mode,
        data_prefix=dict(img='images/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader
