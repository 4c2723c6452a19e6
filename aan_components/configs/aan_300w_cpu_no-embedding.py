# Table 5 ablation on real 300W faces (the CPU recipe, aan_300w_cpu.py): without the cosine
# embedding layer (the head is one linear layer).
_base_ = ['./aan_300w_cpu.py']

model = dict(head=dict(embedding_dim=None))
