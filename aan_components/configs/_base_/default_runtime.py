# Runtime of every AAN config: MMPose's default runtime, the plugin, logging, checkpoints and
# the NaN guard. One of the recipe's fragments (aan_recipe.py lists them all).
_base_ = ['mmpose::_base_/default_runtime.py']

# registers aan-components' classes and makes its process-wide fixes (aan_components/plugin.py)
custom_imports = dict(imports=['aan_components.plugin'], allow_failed_imports=False)

# Checkpoint: the LAST one (a fixed schedule, as the paper's). No config here validates on
# its test data during training or keeps a "best" checkpoint: choosing among checkpoints by
# their test NME would bias the reported number down. The one validation runs at the end of
# training, on the final weights, and equals `mim test` of the last checkpoint
# (docs/reproducing.md).
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=3,
                    save_last=True, save_best=None),
)
log_processor = dict(by_epoch=False)
# stop at the first NaN/inf loss, naming the iteration, before a diverged checkpoint is saved
custom_hooks = [dict(type='FiniteLossHook')]
# multi-GPU: 'torch' turns every BatchNorm into SyncBatchNorm (statistics over the global
# batch, as the paper's batch 64 on one GPU); None keeps per-GPU statistics (docs/gpu_training.md)
sync_bn = None
