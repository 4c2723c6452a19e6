# Base of the aan_timm-*_300w.py configs: AAN head + attention stages on a timm backbone
# (features_only), 300W, the paper's recipe (../aan_300w.py). A config on top sets
# model.backbone.model_name and out_indices. The head's channels come from timm's
# feature_info (head.in_channels='auto').
# ImageNet weights: set model.backbone.pretrained=True (timm's cache or the hub); the
# default trains from scratch like the paper's own backbone.
_base_ = ['../aan_300w.py']

model = dict(
    type='AANPoseEstimator',
    backbone=dict(
        _delete_=True,
        type='TimmAttentionBackbone',
        model_name=None,
        pretrained=False,
        out_indices=(0, 1, 2, 3),
        # timm's squeeze-and-excitation on each stage's output: inside timm's resnet18 on real
        # faces it beat no attention, and the paper's gate did not (docs/studies.md "Why
        # attention costs", part (d), NME minus none's, paired by seed:
        # se -0.19 +- 0.04, eca -0.12 +- 0.05, cbam 0.16 +- 0.04, aan -0.03 +- 0.21).
        # Measured on resnet18 only; the paper's gate: --cfg-options model.backbone.attention=aan
        attention='se',
        # each stage's attended map feeds the next stage; 'outputs_only' would attend only the
        # maps the head reads
        placement='in_stage'),
    # timm feature maps are large (stride 4 first): global average pooling, not the AAN
    # configs' flattened maps
    head=dict(in_channels='auto', final_input='gap', branch_input='gap', feature_sizes=None))
