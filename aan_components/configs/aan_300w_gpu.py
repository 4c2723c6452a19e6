# aan_300w.py with the GPU switch (docs/gpu_training.md):
#   mim train mmpose mm_configs/aan_300w_gpu.py
# Same model, data, schedule and metric; only how fast it runs changes:
#  - bf16 autocast (mmengine's AmpOptimWrapper; bf16 needs no loss scaling) and fused Adam;
#  - weights and activations in channels-last memory (ChannelsLastHook);
#  - the crop cache: the paper trains without augmentation, so each face goes through the
#    MMPose pipeline once and its uint8 crop is kept on the GPU (CropCacheDataset; no loader
#    workers, no host-to-device copy). Rebuilt at the start of every run.
# Any other config gets the switch the same way: a child config with these lines.
_base_ = ['./aan_300w.py']

# bf16 keeps fp32's exponent range: no loss scaling (a dynamic GradScaler would only add a
# check for inf gradients to every step)
optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16', loss_scale=dict(enabled=False),
                     optimizer=dict(fused=True))
default_hooks = dict(channels_last=dict(type='ChannelsLastHook'))
train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        type='CropCacheDataset',
        device='cuda',  # 'cpu': keep the crops in (pinned) host memory instead
        num_workers=8,  # processes that run the pipeline once while the cache is built
        dataset={{_base_.train_dataloader.dataset}}))
env_cfg = dict(cudnn_benchmark=True)  # one crop size: let cudnn pick the fastest kernels
