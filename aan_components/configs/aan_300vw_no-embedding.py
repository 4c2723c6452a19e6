# Table 5 ablation: AAN on 300VW without the nonlinear (cosine) embedding layer: pooled
# features go straight to the linear layer.
_base_ = ['./aan_300vw.py']

model = dict(head=dict(embedding_dim=None))
