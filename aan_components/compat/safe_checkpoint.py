"""Safe checkpoint loading for mmengine under ``torch.load(weights_only=True)``.

Since torch 2.6, ``torch.load`` only unpickles tensors, containers and allowlisted globals.
mmengine 0.10.7 checkpoints also hold numpy arrays and scalars (dataset meta, message hub)
and mmengine's ``HistoryBuffer``, so its test and resume paths fail. The fix here is an
allowlist of exactly those types, applied only inside this project's local checkpoint loader
(``torch.serialization.safe_globals``, nothing process-wide), which always loads with
``weights_only=True`` on every torch version and names the file and the refused global when a
checkpoint holds anything else. Nothing here ever unpickles an arbitrary object.
"""

from __future__ import annotations

import os.path as osp
import pickle
import re
import zipfile
from typing import Any

import numpy as np
import torch

from aan_core.utils.input_errors import AANInputError

__all__ = [
    "CheckpointFileError",
    "UnsafeCheckpointError",
    "register_safe_local_loader",
    "safe_globals",
    "safe_torch_load",
]


class CheckpointFileError(AANInputError):
    """A checkpoint file that cannot be loaded (missing, empty, not a PyTorch file,
    truncated); the message names the file and the cause."""


class UnsafeCheckpointError(CheckpointFileError, pickle.UnpicklingError):
    """A checkpoint holds an object that safe (``weights_only``) loading refuses."""


def _numpy_globals() -> list[Any]:
    """numpy's reconstructors, ``ndarray``, ``dtype`` and each concrete dtype class."""
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray  # type: ignore[no-redef]
    kinds = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
             np.uint64, np.float16, np.float32, np.float64, np.complex64, np.complex128,
             np.str_, np.bytes_]
    return [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype,
            *{type(np.dtype(kind)) for kind in kinds}]


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` restricted to what mmengine's ``HistoryBuffer`` pickles.

    A ``HistoryBuffer`` stores its statistics methods, which pickle as
    ``getattr(HistoryBuffer, 'min')``. Allowlisting the real ``getattr`` would let a crafted
    checkpoint walk from any allowed object to arbitrary code, so checkpoints get this one,
    which resolves exactly those methods and refuses everything else.
    """
    from mmengine.logging.history_buffer import HistoryBuffer

    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f"{_GETATTR_REFUSAL}, not getattr({getattr(obj, '__name__', type(obj).__name__)}, "
        f"{name!r})"
    )


_HISTORY_BUFFER_METHODS = frozenset({"min", "max", "current", "mean"})
_GETATTR_REFUSAL = (
    f"getattr(HistoryBuffer, one of {sorted(_HISTORY_BUFFER_METHODS)})"
)


def _mmengine_globals() -> list[Any]:
    """Plain-data mmengine types found in its checkpoints (``message_hub`` state)."""
    from mmengine.logging.history_buffer import HistoryBuffer

    return [HistoryBuffer, (_history_buffer_getattr, "builtins.getattr")]


def safe_globals() -> list[Any]:
    """Every global this project allows in a checkpoint: data types, ``bytes`` and the
    restricted ``getattr`` above; no callable that could run code."""
    return [bytes, *_numpy_globals(), *_mmengine_globals()]


_NOT_TORCH = "checkpoint {}: not a PyTorch checkpoint (its content is not a torch.save file)"
_TRUNCATED = ("checkpoint {}: the file is truncated (it ends in the middle of its data); copy "
              "or download it again")
_GLOBAL_RE = re.compile(r"GLOBAL ([\w.]+)")


def _zip_magic(filename: str) -> bool:
    with open(filename, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


def safe_torch_load(filename: str, map_location: Any = None) -> Any:
    """``torch.load(filename, weights_only=True)`` with the allowlist, clear errors.

    Errors name the file and the cause, never suggest loading unsafely, and carry no
    chained torch error (whose text advises ``weights_only=False``).

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        CheckpointFileError: the file is empty, truncated or not a PyTorch checkpoint.
        UnsafeCheckpointError: the file holds a global outside the allowlist (it is never
            executed); the message names the file and the global.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f"{filename} can not be found.")
    if osp.getsize(filename) == 0:
        raise CheckpointFileError(f"checkpoint {filename}: the file is empty (0 bytes)")
    if _zip_magic(filename) and not zipfile.is_zipfile(filename):
        raise CheckpointFileError(f"checkpoint {filename}: the file is truncated (its zip "
                                  f"archive has no end); copy or download it again")
    error: Exception
    try:
        with torch.serialization.safe_globals(safe_globals()):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        text = str(err)
        found = _GLOBAL_RE.search(text)
        what = found.group(1) if found else None
        if _GETATTR_REFUSAL in text:
            what = "a getattr call other than " + _GETATTR_REFUSAL
        if what is None:  # no global named: the bytes are not a pickle torch understands
            error = CheckpointFileError(_NOT_TORCH.format(filename))
        else:
            error = UnsafeCheckpointError(
                f"refused to load checkpoint {filename}: it contains {what}, which safe "
                f"loading (torch.load weights_only=True) does not allow. Nothing in it was "
                f"executed. Only load checkpoints you trust; aan-components allows tensors, "
                f"containers, numpy arrays/scalars and mmengine's HistoryBuffer (see "
                f"aan_components.compat.safe_checkpoint.safe_globals).")
    except EOFError:
        error = CheckpointFileError(_TRUNCATED.format(filename))
    except (RuntimeError, KeyError, ValueError, IndexError, TypeError, AttributeError,
            UnicodeDecodeError) as err:  # torch's readers fail in many ways on foreign bytes
        error = CheckpointFileError(_TRUNCATED.format(filename)
                                    if "unexpected EOF" in str(err)
                                    else _NOT_TORCH.format(filename))
    raise error


def register_safe_local_loader() -> None:
    """Make mmengine load local checkpoints (train resume, test, ``load_from``) safely."""
    from mmengine.runner.checkpoint import CheckpointLoader

    CheckpointLoader.register_scheme(prefixes="", loader=safe_torch_load, force=True)
