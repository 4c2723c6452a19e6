# AAN head + attention stages on timm's swin_tiny_patch4_window7_224, 300W, the paper's recipe.
#   mim train mmpose mm_configs/aan_timm-swin-tiny_300w.py
# The head's channels come from timm's feature_info (head.in_channels='auto').
# ImageNet weights: set model.backbone.pretrained=True (timm's cache or the hub); the
# default trains from scratch like the paper's own backbone.
_base_ = ['./aan_300w.py']

model = dict(
    type='AANPoseEstimator',
    backbone=dict(
        _delete_=True,
        type='TimmAttentionBackbone',
        model_name='swin_tiny_patch4_window7_224',
        pretrained=False,
        out_indices=(0, 1, 2, 3),
        # 256 px input: token grids of 64, 32, 16, 8, windows of 8
        timm_kwargs=dict(img_size=256, window_size=8),
        attention=True),
    head=dict(in_channels='auto'))
