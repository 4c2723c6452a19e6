# AAN head + attention stages on timm's resnet50, 300W, the paper's recipe.
#   mim train mmpose mm_configs/aan_timm-resnet50_300w.py
_base_ = ['./_base_/aan_timm_300w.py']

model = dict(
    backbone=dict(
        model_name='resnet50',
        out_indices=(1, 2, 3, 4)))
