# AAN on real 300W faces, trained on a 2-core CPU in about half an hour: the paper's network,
# loss and recipe (no augmentation) at CPU size, with the CPU switch.
#   aan convert 300w RAW data/300w
#   mim train mmpose mm_configs/aan_300w_cpu.py
# What differs from aan_300w.py, and why (README "Real faces: 300W common"):
#  - 128 px crops, half-width stages (32-64-128-256-512), batch 32, 6,000 iterations with lr
#    x0.1 at 60% and 85%: the schedule that fits 30 minutes here;
#  - the CPU switch: bf16 autocast with the head in fp32 (BF16AutocastOptimWrapper; fp32 with
#    a note on CPUs without bf16) and channels-last weights (ChannelsLastHook);
#  - no augmentation (the paper's recipe), so every face is cropped once and served from
#    memory (CropCacheDataset): no loader work while training;
#  - tested on the common subset (HELEN + LFPW test, 554 faces): a download without iBUG has no
#    challenging or full split. With the full download, test on full instead:
#      --cfg-options test_dataloader.dataset.ann_file=annotations/face_landmarks_300w_full.json
# aan_300w_cpu_aug.py adds MMPose's face augmentation.
_base_ = ['./aan_300w.py']

input_size = (128, 128)
stage_channels = (64, 128, 256, 512)
codec = dict(type='RegressionLabel', input_size=input_size)
model = dict(
    backbone=dict(stem_channels=32, stage_channels=stage_channels),
    head=dict(decoder=codec))

max_iters = 6000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(0.6 * max_iters), int(0.85 * max_iters)], gamma=0.1),
]
auto_scale_lr = dict(base_batch_size=32)

# the CPU switch: bf16 autocast with the head and loss in fp32, fused Adam, channels-last
# weights, and the cores split between the model and the loader workers
optim_wrapper = dict(type='BF16AutocastOptimWrapper', optimizer=dict(fused=True))
default_hooks = dict(
    channels_last=dict(type='ChannelsLastHook'),
    cpu_threads=dict(type='CPUThreadsHook'),
    logger=dict(interval=100),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))

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
    dict(type='PackPoseInputs', meta_keys={{_base_.PACKED_META_KEYS}}),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        type='CropCacheDataset',
        device='cpu',
        num_workers=2,  # processes that crop the faces once, while the cache is built
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            data_mode='topdown',
            ann_file='annotations/face_landmarks_300w_train.json',
            data_prefix=dict(img='images/'),
            pipeline=train_pipeline)))
val_dataloader = dict(
    num_workers=1,
    dataset=dict(ann_file='annotations/face_landmarks_300w_common.json', pipeline=val_pipeline))
test_dataloader = val_dataloader
