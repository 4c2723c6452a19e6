# The baseline of README "Real faces: 300W common": MMPose's ResNet-50 direct regression
# (ResNet-50 + global average pooling + RegressionHead, from scratch), with aan_300w_cpu_aug.py's
# data, augmentation, loss (EuclideanLoss), optimiser, schedule and CPU switch: only the network
# differs from the augmented AAN arm.
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
