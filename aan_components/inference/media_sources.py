"""Image and video sources for ``aan predict``: a file, a folder or a video, with boxes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "MediaError", "iter_images", "iter_video",
           "list_images"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


class MediaError(ValueError):
    """An input image or video that cannot be read (the message names the file)."""


def list_images(path: Path) -> list[Path]:
    """The image files of a folder (recursively, sorted), or ``[path]`` for one file."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise MediaError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        return files
    if not path.is_file():
        raise MediaError(f"{path}: no such file or folder")
    return [path]


def boxes_for(boxes: dict[str, np.ndarray] | None, *keys: str) -> np.ndarray | None:
    """The boxes listed under any of ``keys`` (file name, relative path, frame number)."""
    if boxes is None:
        return None
    for k in keys:
        if k in boxes:
            return boxes[k]
    return None


def iter_images(files: list[Path], root: Path, boxes: dict[str, np.ndarray] | None,
                skipped: list[dict] | None = None
                ) -> Iterator[tuple[str, np.ndarray, np.ndarray | None]]:
    """``(name, BGR image, boxes)``; ``name`` is the path relative to ``root``.

    An unreadable image raises :class:`MediaError`, or, when a ``skipped`` list is given, is
    recorded there (``{"image", "reason"}``), reported on stderr and passed over.
    """
    for f in files:
        name = f.relative_to(root).as_posix() if root.is_dir() else f.name
        empty = f.stat().st_size == 0
        image = None if empty else cv2.imread(str(f), cv2.IMREAD_COLOR)
        if image is None:
            reason = "empty file" if empty else "not a readable image"
            if skipped is None:
                raise MediaError(f"{f}: {reason}")
            skipped.append(dict(image=name, reason=reason))
            print(f"aan: skipped {f}: {reason}", file=sys.stderr)
            continue
        yield name, image, boxes_for(boxes, name, f.name)


def iter_video(path: Path, boxes: dict[str, np.ndarray] | None
               ) -> Iterator[tuple[str, np.ndarray, np.ndarray | None]]:
    """``(frame number from 1, BGR frame, boxes)`` of a video; stops at the first frame that
    fails to decode."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise MediaError(f"{path}: OpenCV cannot open this video")
    try:
        index = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            index += 1
            yield str(index), frame, boxes_for(boxes, str(index), f"{index:06d}")
        if index == 0:
            raise MediaError(f"{path}: no frame could be decoded")
    finally:
        cap.release()


def video_info(path: Path) -> tuple[float, int]:
    """``(fps, frame count)`` as the container states them (fps 25 when unknown)."""
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return float(fps), n
