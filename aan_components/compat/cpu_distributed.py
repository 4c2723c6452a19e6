"""Let mmengine's distributed training run on CPU-only machines (gloo).

mmengine 0.10.7 assumes GPUs under ``--launcher pytorch``: ``init_dist`` always calls
``torch.cuda.set_device(LOCAL_RANK)`` (fails without a CUDA driver), the default
``dist_cfg`` backend is NCCL (GPU only), and the Runner wraps the model in
``MMDistributedDataParallel(device_ids=[LOCAL_RANK])``, which PyTorch refuses for a CPU
module. On a machine without CUDA, :func:`install_cpu_distributed_support` makes the first
a no-op, turns NCCL into gloo, and drops ``device_ids`` for CPU modules. Machines with CUDA
are left exactly as mmengine has them.
"""

from __future__ import annotations

import functools
import warnings

import torch

__all__ = ["install_cpu_distributed_support"]

_INSTALLED = False


def install_cpu_distributed_support() -> None:
    """Patch mmengine's distributed start-up for CPU-only machines (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    import mmengine.dist.utils as dist_utils
    from mmengine.model.wrappers import MMDistributedDataParallel

    original_init = dist_utils._init_dist_pytorch

    @functools.wraps(original_init)
    def init_dist_pytorch(backend="nccl", init_backend="torch", **kwargs):
        if torch.cuda.is_available():
            return original_init(backend, init_backend=init_backend, **kwargs)
        if backend == "nccl":
            warnings.warn("no CUDA device: distributed backend 'nccl' replaced by 'gloo' "
                          "(set env_cfg.dist_cfg.backend='gloo' to silence this)", stacklevel=2)
            backend = "gloo"
        set_device = torch.cuda.set_device
        torch.cuda.set_device = lambda device: None  # what mmengine calls unconditionally
        try:
            return original_init(backend, init_backend=init_backend, **kwargs)
        finally:
            torch.cuda.set_device = set_device

    dist_utils._init_dist_pytorch = init_dist_pytorch

    original_ddp_init = MMDistributedDataParallel.__init__

    @functools.wraps(original_ddp_init)
    def ddp_init(self, module, detect_anomalous_params: bool = False, **kwargs):
        on_cpu = all(p.device.type == "cpu" for p in module.parameters())
        if on_cpu and not torch.cuda.is_available():
            kwargs["device_ids"] = None
            kwargs.pop("output_device", None)
        original_ddp_init(self, module, detect_anomalous_params=detect_anomalous_params,
                          **kwargs)

    MMDistributedDataParallel.__init__ = ddp_init
