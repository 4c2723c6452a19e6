# The same as aan_timm-convnext-tiny_300w.py without attention (F = H): the ablation.
_base_ = ['./aan_timm-convnext-tiny_300w.py']

model = dict(backbone=dict(attention='none'))
