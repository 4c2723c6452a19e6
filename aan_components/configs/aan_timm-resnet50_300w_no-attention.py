# The same as aan_timm-resnet50_300w.py without attention (F = H): the ablation.
_base_ = ['./aan_timm-resnet50_300w.py']

model = dict(backbone=dict(attention='none'))
