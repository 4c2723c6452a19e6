"""Image and video sources for ``aan predict`` / ``aan attention``: a file, a folder or a
video, with their face boxes checked against them.

Images are read by the project's one image reader (:func:`aan_core.utils.image_file.read_image`:
missing, empty, truncated, non-image, too small and too large files are refused with their
path). Boxes: every key of a box file must name an input image (or a frame of the video),
and every box must lie at least partly inside its image (:func:`check_box_in_image`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from aan_core.utils.image_file import IMAGE_SUFFIXES, check_image_size, read_image
from aan_core.utils.input_errors import AANInputError, UnreadableImageError

from .face_boxes import BoxFileError, FaceBoxes, check_box_in_image

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "MediaError", "check_box_keys", "iter_images",
           "iter_video", "list_images", "video_info"]

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


class MediaError(AANInputError):
    """An input image or video that cannot be read (the message names the file)."""


def list_images(path: Path) -> list[Path]:
    """The image files of a folder (recursively, sorted; suffixes :data:`IMAGE_SUFFIXES`,
    any case), or ``[path]`` for one file (read by its content, whatever its suffix)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*")
                       if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise MediaError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        return files
    if not path.is_file():
        raise MediaError(f"{path}: no such file or folder")
    return [path]


def image_name(path: Path, root: Path) -> str:
    """How an image is named in results and box files: its path relative to the input
    folder, or its file name."""
    return path.relative_to(root).as_posix() if root.is_dir() else path.name


def check_box_keys(boxes: FaceBoxes, inputs: list[tuple[Path, list[Path]]]) -> None:
    """Every key of the box file must name one of the input images (by file name or by path
    relative to its input folder); ``inputs``: ``(input path, its image files)`` pairs.

    Raises:
        BoxFileError: naming the box file, the key's line or key, and some image names.
    """
    names = {n for root, files in inputs for f in files for n in (image_name(f, root), f.name)}
    for key in boxes:
        if key not in names:
            examples = ", ".join(sorted(names)[:3])
            raise BoxFileError(f"{boxes.where[key][0] if boxes.where.get(key) else boxes.path}"
                               f": {key!r} is not an input image (keys are file names or "
                               f"paths relative to the input folder, e.g. {examples})")


def boxes_for(boxes: FaceBoxes | None, *keys: str) -> tuple[np.ndarray | None, list[str]]:
    """``(boxes, where)`` listed under any of ``keys`` (file name, relative path, frame);
    no box file: ``(None, [])`` (the whole image); not listed: no boxes (no faces)."""
    if boxes is None:
        return None, []
    for k in keys:
        if k in boxes:
            return boxes[k], boxes.where.get(k, [str(boxes.path)] * len(boxes[k]))
    return np.zeros((0, 4), np.float32), []


def _checked(image: np.ndarray, name: str, boxes: FaceBoxes | None, *keys: str
             ) -> np.ndarray | None:
    found, where = boxes_for(boxes, *keys)
    if found is not None:
        h, w = image.shape[:2]
        for box, place in zip(found, where, strict=True):
            check_box_in_image(box, w, h, f"{place} (image {name})")
    return found


def iter_images(files: list[Path], root: Path, boxes: FaceBoxes | None,
                skipped: list[dict] | None = None
                ) -> Iterator[tuple[str, np.ndarray, np.ndarray | None]]:
    """``(name, BGR image, boxes)``; ``name`` is the path relative to ``root``.

    An unreadable image raises :class:`~aan_core.utils.input_errors.UnreadableImageError`, or,
    when a ``skipped`` list is given, is recorded there (``{"image", "reason"}``), reported
    on stderr and passed over (never drawn on). A box outside its image raises
    :class:`BoxFileError`.
    """
    for f in files:
        name = image_name(f, root)
        try:
            image = read_image(f)
        except UnreadableImageError as e:
            if skipped is None:
                raise
            skipped.append(dict(image=name, reason=e.problem))
            print(f"aan: skipped {e}", file=sys.stderr)
            continue
        yield name, image, _checked(image, name, boxes, name, f.name)


def _frame_number(key: str) -> int | None:
    return int(key) if key.isdigit() and int(key) >= 1 else None


def iter_video(path: Path, boxes: FaceBoxes | None
               ) -> Iterator[tuple[str, np.ndarray, np.ndarray | None]]:
    """``(frame number from 1, BGR frame, boxes)`` of a video; stops at the first frame that
    fails to decode. Box-file keys are frame numbers (``"7"`` or ``"000007"``)."""
    _, frames = video_info(path)
    if boxes is not None:
        for key in boxes:
            n = _frame_number(key)
            if n is None or (frames > 0 and n > frames):
                raise BoxFileError(f"{boxes.where[key][0] if boxes.where.get(key) else key}: "
                                   f"{key!r} is not a frame of {path} (keys are frame numbers "
                                   f"1..{frames or 'N'})")
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
            yield str(index), frame, _checked(frame, f"frame {index}", boxes, str(index),
                                              f"{index:06d}")
        if index == 0:
            raise MediaError(f"{path}: no frame could be decoded")
    finally:
        cap.release()


def video_info(path: Path) -> tuple[float, int]:
    """``(fps, frame count)`` as the container states them (fps 25 when unknown).

    Raises:
        MediaError: the video cannot be opened.
        UnreadableImageError: its frames are outside the image size limits.
    """
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise MediaError(f"{path}: OpenCV cannot open this video")
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        cap.release()
    if w and h:
        check_image_size(path, w, h)
    return float(fps), n
