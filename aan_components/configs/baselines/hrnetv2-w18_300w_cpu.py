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
          'td-hm_hrnetv2-w18_8xb64-60e_300w-256x256.py']

# registers aan-components' classes (dataset, metric, CPU switch) and its process-wide fixes
custom_imports = dict(imports=['aan_components.plugin'], allow_failed_imports=False)

num_joints = 68
input_size = (128, 128)
codec = dict(type='MSRAHeatmap', input_size=input_size, heatmap_size=(32, 32), sigma=1.5)
model = dict(
    backbone=dict(init_cfg=None),
    head=dict(out_channels=num_joints, decoder=codec))

# schedule: iteration-based, the recipe's warm-up and lr steps at the same fractions
max_iters = 6000
train_cfg = dict(_delete_=True, by_epoch=False, max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),  # warm-up
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[max_iters * 40 // 60, max_iters * 55 // 60], gamma=0.1),
]

# the CPU switch (../_base_/cpu_switch.py)
optim_wrapper = dict(type='BF16AutocastOptimWrapper', optimizer=dict(fused=True))
default_hooks = dict(
    channels_last=dict(type='ChannelsLastHook'),
    cpu_threads=dict(type='CPUThreadsHook'),
    logger=dict(interval=100),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1, save_last=True,
                    save_best=None))
log_processor = dict(by_epoch=False)
custom_hooks = [dict(type='SyncBuffersHook'), dict(type='FiniteLossHook')]

# data: the 300W files `aan convert 300w` writes; trained on train, tested on common
dataset_type = 'AANFace300WDataset'  # MMPose's Face300WDataset; no data: says how to get it
data_root = 'data/300w/'
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
train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/face_landmarks_300w_train.json',
                 pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1,
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/face_landmarks_300w_common.json',
                 pipeline=val_pipeline))
test_dataloader = val_dataloader
# AAN's evaluators (../aan_300w.py): per-image NME, AUC and failure rate, both normalisations
val_evaluator = [
    dict(type='FaceAlignmentMetric', norm_mode='inter_ocular', subsets='300w'),
    dict(type='FaceAlignmentMetric', norm_mode='inter_pupil', subsets='300w',
         prefix='inter_pupil'),
]
test_evaluator = val_evaluator
