# Table 5 ablation: AAN on 300VW without the attention blocks (F = H, maps not computed).
_base_ = ['./aan_300vw.py']

model = dict(backbone=dict(attention='none'))
