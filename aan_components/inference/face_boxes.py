"""Read face boxes for ``aan predict`` / ``aan attention``: JSON or CSV, per image or frame."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from aan_core.utils.input_errors import AANInputError
from aan_core.utils.json_input import read_json

__all__ = ["MAX_BOX_SCALE", "MIN_BOX_SIDE", "BoxFileError", "FaceBoxes", "check_box_in_image",
           "read_face_boxes"]


class BoxFileError(AANInputError):
    """A box file that cannot be used; the message names the file and the line or key."""


# A face box with a shorter side holds no face to align: a 0.001 px box put all 68 points on
# one pixel. Half the smallest image accepted (``MIN_IMAGE_SIDE``, 16 px).
MIN_BOX_SIDE = 8.0


def _box(values, where: str, numbers_only: bool) -> np.ndarray:
    """One box from 4 values; ``numbers_only`` (JSON): each must be a JSON number, not a
    string or ``true`` (which Python reads as 1)."""
    if numbers_only and isinstance(values, list) and any(
            isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
        raise BoxFileError(f"{where}: box must be 4 numbers x1 y1 x2 y2 (JSON numbers, not "
                           f"strings or true/false), got {values!r}")
    try:
        box = [float(v) for v in values]
    except (TypeError, ValueError):
        raise BoxFileError(f"{where}: box must be 4 numbers x1 y1 x2 y2, got {values!r}") \
            from None
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise BoxFileError(f"{where}: box must be 4 finite numbers x1 y1 x2 y2, got {values!r}")
    if box[2] <= box[0] or box[3] <= box[1]:
        raise BoxFileError(f"{where}: empty box {box} (need x2 > x1 and y2 > y1)")
    if min(box[2] - box[0], box[3] - box[1]) < MIN_BOX_SIDE:
        raise BoxFileError(f"{where}: box {box} is {box[2] - box[0]:g} x {box[3] - box[1]:g} "
                           f"px, smaller than the minimum {MIN_BOX_SIDE:g} px a side (no face "
                           f"to align in it)")
    return np.array(box, np.float32)


class FaceBoxes(dict):
    """``{image name or frame number: (N, 4) boxes x1 y1 x2 y2}`` read from ``path``, with
    ``where[key]``: the place of each box in the file (``"b.csv: line 3"``), for errors."""

    def __init__(self, path: Path, boxes: dict[str, np.ndarray],
                 where: dict[str, list[str]]) -> None:
        super().__init__(boxes)
        self.path = path
        self.where = where


# A box may reach beyond its image (a face at the border), but no side may be longer than
# this many times the image's longer side (1e30 coordinates used to crash the drawing).
MAX_BOX_SCALE = 4.0


def check_box_in_image(box: np.ndarray, width: int, height: int, where: str) -> None:
    """Refuse a box that lies entirely outside a ``width`` x ``height`` image or is more than
    :data:`MAX_BOX_SCALE` times its longer side.

    Raises:
        BoxFileError: naming ``where`` (file and line or key), the box and the image size.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    shown = f"box [{x1:g}, {y1:g}, {x2:g}, {y2:g}]"
    if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
        raise BoxFileError(f"{where}: {shown} lies entirely outside the image "
                           f"({width}x{height} px)")
    limit = MAX_BOX_SCALE * max(width, height)
    if x2 - x1 > limit or y2 - y1 > limit:
        raise BoxFileError(f"{where}: {shown} is more than {MAX_BOX_SCALE:g} times the "
                           f"image's size ({width}x{height} px)")


def read_face_boxes(path: str | Path) -> FaceBoxes:
    """``{image name or frame number: (N, 4) boxes x1 y1 x2 y2}``.

    Formats:

    - JSON: ``{"img1.jpg": [[x1, y1, x2, y2], ...], ...}`` (for videos, keys are frame
      numbers from 1: ``{"1": [[...]], "2": ...}``);
    - CSV with a header ``image,x1,y1,x2,y2`` (one row per face; ``image`` is the file name
      or, for videos, the frame number).

    The file means exactly one thing: a JSON key given twice, a coordinate that is not a JSON
    number (``"12"``, ``true``) and a box under :data:`MIN_BOX_SIDE` px a side are refused.
    A UTF-8 byte-order mark (a spreadsheet's "CSV UTF-8") is skipped. Image names are
    matched by file name or by path relative to the input folder. Each box must be 4 finite
    numbers with ``x2 > x1`` and ``y2 > y1``; whether it lies in its image and whether each
    key names exactly one input image are checked against the input
    (:func:`check_box_in_image`, ``media_sources``).

    Raises:
        BoxFileError: naming the file and the line (CSV) or key (JSON).
    """
    path = Path(path)
    boxes: dict[str, list[np.ndarray]] = {}
    where: dict[str, list[str]] = {}
    if path.suffix.lower() == ".json":
        data = read_json(path, BoxFileError)
        if not isinstance(data, dict):
            raise BoxFileError(f"{path}: expected an object {{image: [[x1, y1, x2, y2], ...]}}")
        for key, value in data.items():
            if not isinstance(value, list) or (value and not isinstance(value[0], list)):
                value = [value]
            place = f"{path}: key {key!r}"
            boxes[str(key)] = [_box(b, place, numbers_only=True) for b in value]
            where[str(key)] = [place] * len(value)
    else:
        try:
            text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's "CSV UTF-8" has a BOM
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
            place = f"{path}: line {i}"
            boxes.setdefault(row[0].strip(), []).append(_box(row[1:], place,
                                                             numbers_only=False))
            where.setdefault(row[0].strip(), []).append(place)
    return FaceBoxes(path, {k: np.stack(v) if v else np.zeros((0, 4), np.float32)
                            for k, v in boxes.items()}, where)
