# MMPose's HRNetv2-w18 heatmap model (its only 300W model), as MMPose ships it, adapted to a
# 2-core CPU and to the 300W data `aan convert 300w` makes; a peer for AAN's CPU recipe
# (../aan_300w_cpu_aug.py) on the same faces, scored by the same metric.
#   aan convert 300w RAW data/300w
#   mim train mmpose mm_configs/baselines/hrnetv2-w18_300w_cpu.py
# Kept from MMPose's config (td-hm_hrnetv2-w18_8xb64-60e_300w-256x256): the network, the
# heatmap head and its loss, the MSRA heatmap codec and its sigma (in heatmap pixels), Adam at
# its learning rate (not scaled to the smaller batch, as `mim train` without --auto-scale-lr),
# the warm-up and the two lr steps at 40/60 and 55/60 of training, its augmentation (flip with
# 300W's point pairs, zoom and rotation of the face box) and its flip test.
# Chosen for a 2-core CPU, as a user without a GPU would:
#  - 128 x 128 crops (32 x 32 heatmaps) and batch 32: AAN's CPU recipe's crop and batch, so
#    both see the same pixels a face (a quarter of the 256 px crop's);
#  - 6,000 iterations, iteration-based (the AAN CPU recipe's images seen; an equal-time run
#    sets its own count and restates the lr steps, as ../resnet50-regression_300w_cpu_aug.py);
#  - from scratch, as AAN: the same data and nothing else (an ImageNet start, MMPose's default,
#    needs the download: --cfg-options
#    "model.backbone.init_cfg.type=Pretrained" "model.backbone.init_cfg.checkpoint=open-mmlab://msra/hrnetv2_w18");
#  - the CPU switch (bf16 autocast with the head in fp32, fused Adam, channels-last weights,
#    the cores split between model and loader), and AAN's loader: each face decoded once and
#    kept in memory (LoadFaceImage), one worker;
#  - the last checkpoint, tested once at the end on common (no best-on-test checkpoint), with
#    AAN's metric: NME inter-ocular and inter-pupil, AUC@0.08, FR@0.1.
_base_ = ['mmpose::face_2d_keypoint/topdown_heatmap/300w/'
          'td-hm_hrnetv2-w18_8xb64-60e_300w-256x256.py',
          '../_base_/peer_300w_cpu.py']

# registers aan-components' classes (dataset, metric, CPU switch) and its process-wide fixes
custom_imports = dict(imports=['aan_components.plugin'], allow_failed_imports=False)

num_joints = 68
input_size = (128, 128)
codec = dict(type='MSRAHeatmap', input_size=input_size, heatmap_size=(32, 32), sigma=1.5)
model = dict(
    backbone=dict(init_cfg=None),
    head=dict(out_channels=num_joints, decoder=codec))

# schedule: iteration-based, the recipe's warm-up and lr steps at the same fractions
max_iters = _base_.peer_max_iters
train_cfg = _base_.peer_train_cfg
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),  # warm-up
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[max_iters * 40 // 60, max_iters * 55 // 60], gamma=0.1),
]

# the CPU switch, the last checkpoint, AAN's data and metric (../_base_/peer_300w_cpu.py)
optim_wrapper = _base_.peer_optim_wrapper
default_hooks = _base_.peer_default_hooks
log_processor = _base_.peer_log_processor
custom_hooks = _base_.peer_custom_hooks

train_pipeline = [
    dict(type='LoadFaceImage', on_error='skip', cache_images=True),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_prob=0, rotate_factor=60,
         scale_factor=(0.75, 1.25)),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadFaceImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='PackPoseInputs'),
]
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
