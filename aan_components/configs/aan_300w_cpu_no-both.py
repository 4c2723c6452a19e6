# Table 5 ablation on real 300W faces (the CPU recipe, aan_300w_cpu.py): without attention and
# without the embedding layer: a plain residual network with intermediate supervision and
# direct coordinate regression.
_base_ = ['./aan_300w_cpu.py']

model = dict(backbone=dict(attention='none'), head=dict(embedding_dim=None))
