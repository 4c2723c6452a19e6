# The baseline of README "Real faces: 300W common": MMPose's ResNet-50 direct regression
# (ResNet-50 + global average pooling + RegressionHead, from scratch), with aan_300w_cpu_aug.py's
# data, augmentation, loss (EuclideanLoss), optimiser and CPU switch, at the same training TIME:
# ResNet-50 trains about 4.7x fewer images per second than the half-width AAN at 128 px on this
# CPU (bench/cpu_train_speed.py), so its 1,280 iterations take about as long as AAN's 6,000
# (lr x0.1 at 60% and 85% of them, as AAN's). Network and iteration count are what differ.
#   mim train mmpose mm_configs/resnet50-regression_300w_cpu_aug.py
_base_ = ['./aan_300w_cpu_aug.py']

model = dict(
    _delete_=True,
    type='TopdownPoseEstimator',
    data_preprocessor={{_base_.model.data_preprocessor}},
    backbone=dict(type='ResNet', depth=50),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='RegressionHead',
        in_channels=2048,
        num_joints=68,
        loss=dict(type='EuclideanLoss', use_target_weight=True),
        decoder={{_base_.codec}}),
    test_cfg=dict(flip_test=False, shift_coords=True))

max_iters = 1280
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(0.6 * max_iters), int(0.85 * max_iters)], gamma=0.1),
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
