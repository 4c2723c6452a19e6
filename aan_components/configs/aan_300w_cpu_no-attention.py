# Table 5 ablation on real 300W faces (the CPU recipe, aan_300w_cpu.py): without the attention
# blocks (F = H, maps not computed).
_base_ = ['./aan_300w_cpu.py']

model = dict(backbone=dict(attention='none'))
