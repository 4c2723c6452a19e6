# The fast CPU recipe, the one the shipped pretrained model was trained with
# (docs/pretrained_model.md):
#   mim train mmpose mm_configs/aan_300w_cpu_fast.py
# Chosen by accuracy at equal training time (bench.fast_recipe_300w; docs/studies.md "A fast
# recipe at equal CPU time"): every candidate trained for the same 30 minutes on a 2-core
# AMD EPYC, 2 seeds each; this is the arm with the lowest mean NME(IO) on 300W common of
# those run on both seeds (tests/test_fast_config.py checks that it is the study's pick, as
# the study trained it).
# It is aan_300w_cpu_batchaug.py (the augmentation made on the batch; L1 loss, no
# attention) with:
# - the fair start: every regressor starts at the training set's mean shape (output weights
#   0, bias the first batch's mean shape) and the cosine embedding's bandwidth is set from
#   the first batch (the median pairwise distance of its inputs);
# - one cosine lr over the run (1e-3 to 0) in place of the step lr;
# - the iterations that 30 minutes of training held on that machine (its calibration, with
#   the data preprocessor the batch recipe had then; the one it inherits now makes the same
#   batches in less time). On another machine the same iterations take another time.
_base_ = ['./aan_300w_cpu_batchaug.py']

max_iters = 12100
model = dict(head=dict(output_init='mean_shape', embedding_sigma='median'))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=max_iters),
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
