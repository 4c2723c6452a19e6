# AAN on synthetic faces (68 points, 300W layout): the CPU demo and the default job.
#   bash scripts/demo.sh        (or: aan demo, or: mim train mmpose mm_configs/aan_synthetic.py)
# The paper's model and optimiser at CPU size: 128 px crops, half-width stages, batch 32,
# a schedule of 800 iterations with a wall-clock cap (TimeBudgetHook, 7 minutes), and the CPU
# switch (bf16 autocast with the head in fp32, fused Adam, channels-last, the cores split
# between the model and the loader worker; fp32 with a note on CPUs without bf16): the
# recipe's fragments (_base_/aan_recipe.py) with _base_/cpu_switch.py for its schedule.
_base_ = ['./_base_/cpu_switch.py', './_base_/models/aan.py', './_base_/datasets/face_topdown.py']

num_joints = 68

input_size = (128, 128)
stage_channels = (64, 128, 256, 512)
codec = dict(type='RegressionLabel', input_size=input_size)

model = dict(
    backbone=dict(stem_channels=32, stage_channels=stage_channels),
    head=dict(num_joints=num_joints, decoder=codec))

max_iters = 800
train_cfg = dict(by_epoch=False, max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters, milestones=[600, 720],
         gamma=0.1),
]
auto_scale_lr = dict(base_batch_size=32)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, save_last=True,
                    max_keep_ckpts=1, save_best=None))
custom_hooks = [dict(type='SyncBuffersHook'), dict(type='TimeBudgetHook', max_seconds=420),
                dict(type='FiniteLossHook')]

dataset_type = 'SyntheticFaceDataset'
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(
    _delete_=True,
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, num_samples=50000, seed=0, image_size=128,
                 pipeline=train_pipeline))
val_dataloader = dict(
    _delete_=True,
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type=dataset_type, num_samples=500, seed=1, image_size=128, cache=True,
                 test_mode=True, pipeline=val_pipeline))
test_dataloader = val_dataloader

# Per-image NME with 300W's inter-ocular normalisation, CED (PNG + CSV), AUC, failure rate.
val_evaluator = dict(type='FaceAlignmentMetric', norm_mode='inter_ocular')
test_evaluator = val_evaluator
