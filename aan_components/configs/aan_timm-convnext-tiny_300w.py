# AAN head + attention stages on timm's convnext_tiny, 300W, the paper's recipe.
#   mim train mmpose mm_configs/aan_timm-convnext-tiny_300w.py
_base_ = ['./_base_/aan_timm_300w.py']

model = dict(
    backbone=dict(
        model_name='convnext_tiny',
        out_indices=(0, 1, 2, 3)))
