# Table 5 ablation: AAN on AFLW without the attention blocks (F = H, maps not computed).
_base_ = ['./aan_aflw.py']

model = dict(backbone=dict(attention='none'))
