# The paper's optimiser and schedule (Sec. 4.2): Adam, lr 1e-3, weight decay 1e-3, batch 64;
# lr x0.1 after 25k and 40k iterations (the paper says "epochs"; at batch 64 only iterations
# make sense). open: end at 50k. One of the recipe's fragments (../aan_recipe.py). It stands on
# the runtime because MMPose's runtime sets train_cfg too (mmengine refuses a key that two
# sibling bases both set).
_base_ = ['../default_runtime.py']

max_iters = 50000
train_cfg = dict(by_epoch=False, max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-3))
# Adam's weight_decay is coupled L2 (added to the gradient): its strength against the data
# term grows with fewer loss terms (no branches: 1 term instead of 5) and smaller gradients.
# Decoupled decay instead (not the paper's; independent of the loss scale), in a child config:
#   optim_wrapper = dict(optimizer=dict(type='AdamW'))  # lr and weight_decay as above
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[25000, 40000], gamma=0.1),
]
auto_scale_lr = dict(base_batch_size=64)
