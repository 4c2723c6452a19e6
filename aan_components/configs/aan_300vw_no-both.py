# Table 5 ablation: AAN on 300VW without attention and without the embedding layer: a plain
# residual network with intermediate supervision and direct coordinate regression.
_base_ = ['./aan_300vw.py']

model = dict(backbone=dict(attention='none'), head=dict(embedding_dim=None))
