# AAN head + attention stages on timm's swin_tiny_patch4_window7_224, 300W, the paper's recipe.
#   mim train mmpose mm_configs/aan_timm-swin-tiny_300w.py
_base_ = ['./_base_/aan_timm_300w.py']

model = dict(
    backbone=dict(
        model_name='swin_tiny_patch4_window7_224',
        # 256 px input: token grids of 64, 32, 16, 8; windows of 8 divide them all
        timm_kwargs=dict(img_size=256, window_size=8),
        out_indices=(0, 1, 2, 3)))
