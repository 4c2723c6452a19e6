"""Read iBUG ``.pts`` landmark files (300W, 300VW).

The format::

    version: 1
    n_points:  68
    {
    x1 y1
    ...
    }

Coordinates are **1-based** pixel positions by the iBUG convention (the centre of the
top-left pixel is (1, 1)). :func:`read_pts` returns the values as written; the converters
subtract :data:`PTS_ORIGIN` so that the json holds 0-based coordinates, the convention of
MMPose's pipeline and OpenCV (the centre of the top-left pixel is (0, 0)). MMPose's own
released 300W/300VW json files copy the values unchanged (1-based); converters take
``--keep-pts-values`` to match them.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .errors import ConversionError, read_raw_bytes

__all__ = ["PTS_ORIGIN", "read_pts"]

PTS_ORIGIN = 1.0


def read_pts(path: str | os.PathLike, num_points: int | None = 68) -> np.ndarray:
    """Landmarks of one ``.pts`` file as written, :math:`(K, 2)` float64.

    Args:
        path: The ``.pts`` file.
        num_points: Required point count (also checked against the ``n_points`` header);
            ``None`` accepts any.

    Raises:
        ConversionError: naming the file and line: unreadable or empty file, missing
            header or braces, a row that is not two finite numbers, a wrong point count.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.pts"
        >>> _ = p.write_text("version: 1\\nn_points: 2\\n{\\n1 2\\n3.5 4\\n}\\n")
        >>> read_pts(p, num_points=2)
        array([[1. , 2. ],
               [3.5, 4. ]])
    """
    path = Path(path)
    raw = read_raw_bytes(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConversionError(path, "not a text file (not UTF-8)") from e
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise ConversionError(path, "empty file")
    header_points = None
    open_line = None
    for i, line in enumerate(lines, 1):
        s = line.strip()
        if s.startswith("n_points"):
            value = s.partition(":")[2].strip()
            try:
                header_points = int(value)
            except ValueError:
                raise ConversionError(path, f"n_points is not an integer: {value!r}",
                                      line=i) from None
        elif s == "{":
            open_line = i
            break
        elif s and not s.startswith("version"):
            raise ConversionError(path, f"expected a header line or '{{', got {s!r}", line=i)
    if open_line is None:
        raise ConversionError(path, "no opening '{' before the points")
    points = []
    close_line = None
    for i in range(open_line, len(lines)):
        s = lines[i].strip()
        if not s:
            continue
        if s == "}":
            close_line = i + 1
            break
        parts = s.split()
        if len(parts) != 2:
            raise ConversionError(path, f'expected two numbers "x y", got {s!r}', line=i + 1)
        try:
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            raise ConversionError(path, f'expected two numbers "x y", got {s!r}',
                                  line=i + 1) from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ConversionError(path, f"non-finite coordinate {s!r}", line=i + 1)
        points.append((x, y))
    if close_line is None:
        raise ConversionError(path, "no closing '}' after the points")
    if header_points is not None and header_points != len(points):
        raise ConversionError(path, f"header says n_points {header_points} but the file has "
                                    f"{len(points)} points")
    if num_points is not None and len(points) != num_points:
        raise ConversionError(path, f"expected {num_points} points, got {len(points)}")
    return np.asarray(points, np.float64).reshape(-1, 2)
