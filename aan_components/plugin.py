"""The aan-components MMPose plugin: the one module whose import changes the process.

Configs name it, as MMPose plugin projects do::

    custom_imports = dict(imports=['aan_components.plugin'], allow_failed_imports=False)

and Python users call ``aan_components.setup()`` (the same). Importing it (or calling
:func:`setup`, idempotent) does, in this order:

1. **mmcv-lite stand-in** (:func:`~aan_components.compat.install_missing_ops_module`): on
   mmcv-lite (no compiled ops) puts a module at ``mmcv.ops`` whose ops raise a clear error
   when a model needs one, so that ``mmpose.models`` imports at all; with full mmcv nothing.
   ``aan_components.models`` does this too, just before it imports ``mmpose.models``: without
   it that import fails.
2. **Registration** of every class (:func:`aan_components.register_all_modules`).
3. **Safe checkpoint loading** (:func:`~aan_components.compat.register_safe_local_loader`):
   mmengine's loader for local files (``load_from``, resume, ``mim test``) becomes
   ``torch.load(weights_only=True)`` with a small allowlist (numpy, mmengine's
   ``HistoryBuffer``), errors naming the file.
4. **CPU distributed training** (:func:`~aan_components.compat.install_cpu_distributed_support`):
   on machines without CUDA, ``--launcher pytorch`` trains on CPUs (gloo); with CUDA
   nothing changes.
5. **Atomic checkpoints** (:func:`~aan_components.compat.install_atomic_checkpoint_saving`):
   a checkpoint and ``last_checkpoint`` are written beside their names and renamed into
   place, and ``CheckpointHook`` removes an old checkpoint only after the new one is saved:
   a run killed at any moment leaves ``--resume`` a complete checkpoint to continue from.

``import aan_components`` alone does none of this (see the package docstring for why).
"""

from __future__ import annotations

from .compat import (
    install_atomic_checkpoint_saving,
    install_cpu_distributed_support,
    install_missing_ops_module,
    register_safe_local_loader,
)
from .registration import register_all_modules

__all__ = ["setup"]


def setup() -> None:
    """Register every class and install the process-wide changes above (idempotent)."""
    install_missing_ops_module()
    register_all_modules()
    register_safe_local_loader()
    install_cpu_distributed_support()
    install_atomic_checkpoint_saving()


setup()
