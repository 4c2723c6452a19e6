"""Checkpoints that are never half-written: mmengine's saving made atomic.

mmengine 0.10.7 writes a checkpoint with ``open(filename, 'wb')`` under its final name and
``last_checkpoint`` with ``open(..., 'w')``, and ``CheckpointHook`` removes the oldest kept
checkpoint *before* it saves the new one. A run killed at the wrong moment (SIGKILL from a
scheduler, an out-of-memory kill) leaves a truncated ``iter_N.pth``, an empty
``last_checkpoint``, or (with ``max_keep_ckpts=1``) a ``last_checkpoint`` naming a removed
file: ``--resume`` then fails. :func:`install_atomic_checkpoint_saving` (called by
:mod:`aan_components.plugin`, nothing here changes anything on import) makes each of these
one atomic rename (:func:`aan_core.utils.atomic_io.atomic_write`) and defers the removal of
old checkpoints until the new one and ``last_checkpoint`` are in place. Remote backends
(``s3://`` ...) are left to mmengine.
"""

from __future__ import annotations

import builtins
import os
from pathlib import Path
from typing import Any

import torch

from aan_core.utils.atomic_io import atomic_write

__all__ = ["atomic_save_checkpoint", "install_atomic_checkpoint_saving"]

_ORIGINAL: dict[str, Any] = {}


def _is_local(filename: str, file_client_args: Any, backend_args: Any) -> bool:
    return "://" not in filename and file_client_args is None and not backend_args


def atomic_save_checkpoint(checkpoint: dict, filename: str, file_client_args: Any = None,
                           backend_args: Any = None) -> None:
    """mmengine's ``save_checkpoint``, written beside the file and renamed onto it (local
    files; others go to mmengine's own)."""
    if not _is_local(str(filename), file_client_args, backend_args):
        return _ORIGINAL["save_checkpoint"](checkpoint, filename, file_client_args,
                                            backend_args)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(filename, write)
    return None


class _AtomicTextFile:
    """What ``open(path, 'w')`` returns for ``last_checkpoint``: the text is written
    atomically when the ``with`` block ends without an error."""

    def __init__(self, path: str) -> None:
        self.path, self.parts = path, []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def __enter__(self) -> _AtomicTextFile:
        return self

    def __exit__(self, kind, *_) -> None:
        if kind is None:
            text = "".join(self.parts)
            atomic_write(self.path, lambda tmp: Path(tmp).write_text(text))


def _hook_open(file, mode: str = "r", *args, **kwargs):
    if mode == "w" and os.path.basename(os.fspath(file)) == "last_checkpoint":
        return _AtomicTextFile(os.fspath(file))
    return builtins.open(file, mode, *args, **kwargs)


class _DeferredRemovals:
    """A file backend whose ``remove``/``rmtree`` wait until :meth:`run` (the rest passes)."""

    def __init__(self, backend: Any) -> None:
        self._backend, self._pending = backend, []

    def __getattr__(self, name: str) -> Any:
        if name in ("remove", "rmtree"):
            return lambda *a, **k: self._pending.append((name, a, k))
        return getattr(self._backend, name)

    def run(self) -> None:
        for name, a, k in self._pending:
            getattr(self._backend, name)(*a, **k)


def _save_then_remove_old(self, runner, step, meta) -> None:
    """``CheckpointHook._save_checkpoint_with_step``, removing the oldest kept checkpoint
    only after the new one and ``last_checkpoint`` are written."""
    backend = self.file_backend
    deferred = self.file_backend = _DeferredRemovals(backend)
    try:
        _ORIGINAL["save_with_step"](self, runner, step, meta)
    finally:
        self.file_backend = backend
    deferred.run()


def install_atomic_checkpoint_saving() -> None:
    """Make mmengine's checkpoint saving atomic, process-wide (idempotent)."""
    import mmengine.runner
    import mmengine.runner.checkpoint
    import mmengine.runner.runner
    from mmengine.hooks import checkpoint_hook

    if _ORIGINAL:
        return
    _ORIGINAL["save_checkpoint"] = mmengine.runner.checkpoint.save_checkpoint
    _ORIGINAL["save_with_step"] = checkpoint_hook.CheckpointHook._save_checkpoint_with_step
    for module in (mmengine.runner, mmengine.runner.checkpoint, mmengine.runner.runner):
        module.save_checkpoint = atomic_save_checkpoint
    checkpoint_hook.open = _hook_open  # the module's open(): only last_checkpoint changes
    checkpoint_hook.CheckpointHook._save_checkpoint_with_step = _save_then_remove_old
