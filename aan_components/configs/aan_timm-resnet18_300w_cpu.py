# AAN head + attention inside the stages of timm's resnet18, trained on real 300W faces on a
# 2-core CPU: aan_300w_cpu.py (128 px, batch 32, the CPU switch, no augmentation) with the
# backbone of _base_/aan_timm_300w.py. The backbone study on real faces
# (python -m bench.backbone_real_300w) swaps model_name (regnetx_002) and attention (the
# paper's gate or none), the attention study's part (d) timm's se, eca and cbam.
#   mim train mmpose mm_configs/aan_timm-resnet18_300w_cpu.py
_base_ = ['./aan_300w_cpu.py']

model = dict(
    type='AANPoseEstimator',
    backbone=dict(
        _delete_=True,
        type='TimmAttentionBackbone',
        model_name='resnet18',
        pretrained=False,
        out_indices=(1, 2, 3, 4),  # strides 4-32: four maps, one branch each
        attention='se',  # what won inside resnet18 (_base_/aan_timm_300w.py says how much)
        placement='in_stage'),  # each attended map feeds the next stage
    # timm's maps start at stride 4: global average pooling, as the aan_timm-* configs
    head=dict(in_channels='auto', final_input='gap', branch_input='gap', feature_sizes=None))
