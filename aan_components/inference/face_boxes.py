"""Read face boxes for ``aan predict`` / ``aan attention``: JSON or CSV, per image or frame."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from aan_core.json_input import read_json

__all__ = ["BoxFileError", "read_face_boxes"]


class BoxFileError(ValueError):
    """A box file that cannot be used; the message names the file and the line or key."""


def _box(values, where: str) -> np.ndarray:
    try:
        box = [float(v) for v in values]
    except (TypeError, ValueError):
        raise BoxFileError(f"{where}: box must be 4 numbers x1 y1 x2 y2, got {values!r}") \
            from None
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise BoxFileError(f"{where}: box must be 4 finite numbers x1 y1 x2 y2, got {values!r}")
    if box[2] <= box[0] or box[3] <= box[1]:
        raise BoxFileError(f"{where}: empty box {box} (need x2 > x1 and y2 > y1)")
    return np.array(box, np.float32)


def read_face_boxes(path: str | Path) -> dict[str, np.ndarray]:
    """``{image name or frame number: (N, 4) boxes x1 y1 x2 y2}``.

    Formats:

    - JSON: ``{"img1.jpg": [[x1, y1, x2, y2], ...], ...}`` (for videos, keys are frame
      numbers from 1: ``{"1": [[...]], "2": ...}``);
    - CSV with a header ``image,x1,y1,x2,y2`` (one row per face; ``image`` is the file name
      or, for videos, the frame number).

    Image names are matched by file name or by path relative to the input folder.

    Raises:
        BoxFileError: naming the file and the line (CSV) or key (JSON).
    """
    path = Path(path)
    boxes: dict[str, list[np.ndarray]] = {}
    if path.suffix.lower() == ".json":
        data = read_json(path, BoxFileError)
        if not isinstance(data, dict):
            raise BoxFileError(f"{path}: expected an object {{image: [[x1, y1, x2, y2], ...]}}")
        for key, value in data.items():
            if not isinstance(value, list) or (value and not isinstance(value[0], list)):
                value = [value]
            boxes[str(key)] = [_box(b, f"{path}: key {key!r}") for b in value]
    else:
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise BoxFileError(f"{path}: cannot read: {e}") from e
        rows = list(csv.reader(text.splitlines()))
        if not rows or [c.strip() for c in rows[0]] != ["image", "x1", "y1", "x2", "y2"]:
            raise BoxFileError(f"{path}: line 1: expected the header image,x1,y1,x2,y2")
        for i, row in enumerate(rows[1:], 2):
            if not row:
                continue
            if len(row) != 5:
                raise BoxFileError(f"{path}: line {i}: expected 5 fields, got {len(row)}")
            boxes.setdefault(row[0].strip(), []).append(_box(row[1:], f"{path}: line {i}"))
    return {k: np.stack(v) if v else np.zeros((0, 4), np.float32) for k, v in boxes.items()}
