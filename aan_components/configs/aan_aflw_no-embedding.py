# Table 5 ablation: AAN on AFLW without the nonlinear (cosine) embedding layer: pooled
# features go straight to the linear layer.
_base_ = ['./aan_aflw.py']

model = dict(head=dict(embedding_dim=None))
