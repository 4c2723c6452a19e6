# MMPose's RTMPose-m (CSPNeXt-m, RTMCC head on SimCC labels), its face recipe as MMPose ships
# it for WFLW, adapted to 300W's 68 points, to a 2-core CPU and to the data `aan convert 300w`
# makes; a peer for AAN's CPU recipe (../aan_300w_cpu_aug.py) on the same faces, scored by the
# same metric. It needs the full-mmcv stack (CSPNeXt comes from mmdet, whose import chain needs
# mmcv's compiled ops; the Albumentation step needs albumentations<2):
#   bash scripts/setup_full_mmcv.sh && source .venv-fullmmcv/bin/activate
#   aan convert 300w RAW data/300w
#   mim train mmpose mm_configs/baselines/rtmpose-m_300w_cpu.py
# Kept from MMPose's config (rtmpose-m_8xb64-60e_wflw-256x256): the network (CSPNeXt-m with
# channel attention, the RTMCC head with its GAU), the KL-divergence SimCC loss, the SimCC
# codec (split ratio 2), AdamW at its learning rate and weight decay (not scaled to the smaller
# batch, as `mim train` without --auto-scale-lr), no decay on norms and biases, its 1,000
# iteration warm-up, the cosine over the second half of training down to 5% of the learning
# rate, its EMA of the weights (ExpMomentumEMA, momentum 0.0002), its augmentation (flip with
# 300W's point pairs, shift, zoom and rotation of the face box, YOLOX's HSV jitter, blur,
# median blur and one cut-out a face) with its milder second stage over the last 10/60 of
# training (no shift, less zoom and rotation, the cut-out on half the faces), and its flip
# test.
# Changed for 300W: 68 points (WFLW has 98), 300W's dataset, flip pairs and metric.
# Chosen for a 2-core CPU, as a user without a GPU would:
#  - 128 x 128 crops and batch 32: AAN's CPU recipe's crop and batch, so both see the same
#    pixels a face (a quarter of the 256 px crop's); the SimCC label's sigma halved with the
#    crop (2.83 px for 5.66), so the label is as wide against the face as in MMPose's, and
#    the head's input map 4 x 4 (128 / 32);
#  - 6,000 iterations, iteration-based (the AAN CPU recipe's images seen; an equal-time run
#    sets its own count and restates the schedule at the same fractions, as
#    ../resnet50-regression_300w_cpu_aug.py); the cosine from 30/60 to the end and the second
#    stage from 50/60 (MMPose's epochs 30 and 50 of 60) counted in iterations: mmdet's
#    PipelineSwitchHook switches at an epoch, which an iteration-based run never starts, so
#    aan-components' IterPipelineSwitchHook switches at the iteration;
#  - from scratch, as AAN: the same data and nothing else (MMPose's default starts from
#    CSPNeXt-m trained on body poses, a download: --cfg-options
#    "model.backbone.init_cfg.type=Pretrained" "model.backbone.init_cfg.prefix=backbone."
#    "model.backbone.init_cfg.checkpoint=https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/cspnext-m_udp-aic-coco_210e-256x192-f2f7d6f6_20230130.pth");
#  - the CPU switch (bf16 autocast with the head and loss in fp32, fused AdamW, channels-last
#    weights, the cores split between model and loader), and AAN's loader: each face decoded
#    once and kept in memory (LoadFaceImage), one worker; plain BatchNorm (SyncBN needs a
#    process group, and one process has nothing to sync);
#  - the last checkpoint (the EMA weights, as MMPose tests them), tested once at the end on
#    common (no best-on-test checkpoint), with AAN's metric: NME inter-ocular and
#    inter-pupil, AUC@0.08, FR@0.1.
_base_ = ['mmpose::face_2d_keypoint/rtmpose/wflw/'
          'rtmpose-m_8xb64-60e_wflw-256x256.py',
          '../_base_/peer_300w_cpu.py']

# registers aan-components' classes (dataset, metric, CPU switch, IterPipelineSwitchHook) and
# its process-wide fixes
custom_imports = dict(imports=['aan_components.plugin'], allow_failed_imports=False)

num_joints = 68
input_size = (128, 128)
codec = dict(type='SimCCLabel', input_size=input_size, sigma=(2.83, 2.83),
             simcc_split_ratio=2.0, normalize=False, use_dark=False)
model = dict(
    backbone=dict(norm_cfg=dict(type='BN'), init_cfg=None),
    head=dict(out_channels=num_joints, input_size=input_size,
              in_featuremap_size=(input_size[0] // 32, input_size[1] // 32), decoder=codec))

# schedule: iteration-based; the recipe's warm-up, and its cosine and second stage at the
# same fractions of training
max_iters = _base_.peer_max_iters
base_lr = _base_.base_lr  # 4e-3
train_cfg = _base_.peer_train_cfg
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0e-5, by_epoch=False, begin=0, end=1000),  # warm-up
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05, by_epoch=False,
         begin=max_iters * 30 // 60, end=max_iters, T_max=max_iters - max_iters * 30 // 60),
]

# the CPU switch (the recipe's AdamW, fused), the last checkpoint, AAN's data and metric
# (../_base_/peer_300w_cpu.py)
optim_wrapper = _base_.peer_optim_wrapper
default_hooks = _base_.peer_default_hooks
log_processor = _base_.peer_log_processor

train_pipeline = [
    dict(type='LoadFaceImage', on_error='skip', cache_images=True),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', scale_factor=[0.6, 1.4], rotate_factor=80),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(type='Albumentation', transforms=[
        dict(type='Blur', p=0.1),
        dict(type='MedianBlur', p=0.1),
        dict(type='CoarseDropout', max_holes=1, max_height=0.4, max_width=0.4, min_holes=1,
             min_height=0.2, min_width=0.2, p=1.0),
    ]),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
train_pipeline_stage2 = [
    dict(type='LoadFaceImage', on_error='skip', cache_images=True),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_factor=0., scale_factor=[0.75, 1.25],
         rotate_factor=60),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(type='Albumentation', transforms=[
        dict(type='Blur', p=0.1),
        dict(type='MedianBlur', p=0.1),
        dict(type='CoarseDropout', max_holes=1, max_height=0.4, max_width=0.4, min_holes=1,
             min_height=0.2, min_width=0.2, p=0.5),
    ]),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadFaceImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='PackPoseInputs'),
]
# the recipe's EMA and second stage, then the peers' hooks
custom_hooks = [
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002, update_buffers=True,
         priority=49),
    dict(type='IterPipelineSwitchHook', switch_iter=max_iters * 50 // 60,
         switch_pipeline=train_pipeline_stage2),
] + _base_.peer_custom_hooks

dataset_type = _base_.peer_dataset.type  # the base's own (COCO, WFLW, 300W) is not used
data_root = _base_.peer_dataset.data_root
train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_base_.peer_dataset, ann_file=_base_.peer_train_ann, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1,
    dataset=dict(_base_.peer_dataset, ann_file=_base_.peer_test_ann, test_mode=True,
                 pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = _base_.peer_evaluators
test_evaluator = val_evaluator
