"""Compatibility with the two supported stacks (mmcv-lite and full mmcv) and current torch."""

from .atomic_checkpoint import install_atomic_checkpoint_saving
from .cpu_distributed import install_cpu_distributed_support
from .mmcv_lite import MissingCompiledOpError, install_missing_ops_module, mmcv_has_compiled_ops
from .safe_checkpoint import (
    CheckpointFileError,
    UnsafeCheckpointError,
    register_safe_local_loader,
    safe_globals,
    safe_torch_load,
)

__all__ = [
    "MissingCompiledOpError",
    "CheckpointFileError",
    "UnsafeCheckpointError",
    "install_atomic_checkpoint_saving",
    "install_cpu_distributed_support",
    "install_missing_ops_module",
    "mmcv_has_compiled_ops",
    "register_safe_local_loader",
    "safe_globals",
    "safe_torch_load",
]
