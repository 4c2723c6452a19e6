# Baseline for comparison: a plain MMPose direct-regression model (ResNet-50 + global average
# pooling + MMPose's RegressionHead), no attention, no embedding, no intermediate supervision,
# trained with the same data, recipe and loss scale as aan_300w.py.
# This is the architecture of MMPose's topdown_regression face configs (WFLW), from scratch as
# the paper's own network; set init_cfg to torchvision's weights for an ImageNet start.
#   mim train mmpose mm_configs/resnet50-regression_300w.py
_base_ = ['./aan_300w.py']

num_joints = 68
model = dict(
    _delete_=True,
    type='TopdownPoseEstimator',
    data_preprocessor={{_base_.model.data_preprocessor}},
    backbone=dict(type='ResNet', depth=50),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='RegressionHead',
        in_channels=2048,
        num_joints=num_joints,
        loss=dict(type='EuclideanLoss', use_target_weight=True),
        decoder={{_base_.codec}}),
    test_cfg=dict(flip_test=False, shift_coords=True))
