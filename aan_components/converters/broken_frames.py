"""Read MMPose's list of broken 300VW frames (``broken_frames.npy``), without running pickles.

MMPose leaves 2,127 annotated frames of 16 videos out of its 300VW json (its
``tools/dataset_converters/300vw2coco.py`` holds the list; its test data ships the same list
as ``tests/data/300vw/broken_frames.npy``): a dict ``{video: [frame, ...]}``, frame numbers
1-based as the ``.pts`` names. The ``.npy`` is a pickled object array, so ``np.load`` would
need ``allow_pickle=True`` (which runs whatever the file says); this reader accepts exactly
the pickle of an object array holding that dict. A ``.json`` file with the same dict works too.
"""

from __future__ import annotations

import io
import json
import os
import pickle
from pathlib import Path

import numpy as np

from .errors import ConversionError, read_raw_bytes

__all__ = ["read_broken_frames"]


def _reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct as fn  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct as fn
    return fn


class _ObjectArrayUnpickler(pickle.Unpickler):
    """Unpickles an object ndarray of builtins; any other global is refused."""

    def find_class(self, module: str, name: str):
        if name == "_reconstruct" and module in ("numpy.core.multiarray",
                                                 "numpy._core.multiarray"):
            return _reconstruct()
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        raise pickle.UnpicklingError(f"refusing to load the global {module}.{name}")


def read_broken_frames(path: str | os.PathLike) -> dict[str, set[int]]:
    """``{video: {frame, ...}}`` from MMPose's ``broken_frames.npy`` (or a ``.json``).

    Raises:
        ConversionError: missing or unreadable file, or not a dict of video name -> list of
            frame numbers.
    """
    path = Path(path)
    raw = read_raw_bytes(path)
    try:
        if path.suffix == ".json":
            data = json.loads(raw)
        else:
            f = io.BytesIO(raw)
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(f)
            if dtype.kind != "O" or shape != ():
                raise ValueError(f"expected a pickled dict (0-d object array), got {dtype} "
                                 f"{shape}")
            data = _ObjectArrayUnpickler(f).load().item()
    except (ValueError, pickle.UnpicklingError, EOFError, UnicodeDecodeError) as e:
        raise ConversionError(path, f"not a broken-frames list: {e}") from None
    if not isinstance(data, dict) or not all(
            isinstance(v, list) and all(isinstance(i, int) for i in v) for v in data.values()):
        raise ConversionError(path, "expected a dict {video: [frame number, ...]}")
    return {str(video): set(frames) for video, frames in data.items()}
