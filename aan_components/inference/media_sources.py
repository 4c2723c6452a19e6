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
from aan_core.utils.image_header import read_image_size
from aan_core.utils.input_errors import AANInputError, UnreadableImageError

from .face_boxes import BoxFileError, FaceBoxes, check_box_in_image

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "MediaError", "check_box_keys", "check_boxes",
           "check_output_outside_inputs", "check_video_boxes", "iter_images", "iter_video",
           "list_images", "video_info"]

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


def check_output_outside_inputs(out: Path, inputs: list[Path]) -> None:
    """Outputs never become inputs: an output (a folder of drawings, a figure) may not be an
    input folder or lie inside one, where the next run over that folder would read it as an
    input image.

    Raises:
        MediaError: naming the output and the input folder.
    """
    target = out.resolve()
    for src in inputs:
        if src.is_dir() and (target == src.resolve() or src.resolve() in target.parents):
            raise MediaError(f"{out}: lies inside the input folder {src}, where the next run "
                             f"would read it as input; write it outside the input folders")


def image_name(path: Path, root: Path) -> str:
    """How an image is named in results and box files: its path relative to the input
    folder, or its file name."""
    return path.relative_to(root).as_posix() if root.is_dir() else path.name


def check_box_keys(boxes: FaceBoxes, inputs: list[tuple[Path, list[Path]]]) -> None:
    """Every key of the box file must name exactly one of the input images (by file name or
    by path relative to its input folder), and no image may be named by two keys (whose
    boxes would be silently dropped); ``inputs``: ``(input path, its image files)`` pairs.

    Raises:
        BoxFileError: naming the box file, the key's line or key, and the images at issue.
    """
    named: dict[str, list[str]] = {}  # key -> the images (relative names) it names
    by_key: dict[str, set[str]] = {}
    for root, files in inputs:
        for f in files:
            full = image_name(f, root)
            for n in {full, f.name}:
                by_key.setdefault(n, set()).add(full if len(inputs) == 1 else str(f))
    for key in boxes:
        where = boxes.where[key][0] if boxes.where.get(key) else str(boxes.path)
        matches = sorted(by_key.get(key, ()))
        if not matches:
            examples = ", ".join(sorted(by_key)[:3])
            raise BoxFileError(f"{where}: {key!r} is not an input image (keys are file names "
                               f"or paths relative to the input folder, e.g. {examples})")
        if len(matches) > 1:
            raise BoxFileError(f"{where}: {key!r} names {len(matches)} input images "
                               f"({', '.join(matches[:3])}): use the path relative to the "
                               f"input folder")
        named.setdefault(matches[0], []).append(key)
    for image, keys in named.items():
        if len(keys) > 1:
            raise BoxFileError(f"{boxes.path}: keys {keys[0]!r} and {keys[1]!r} both name the "
                               f"image {image}: give its boxes under one key")


def check_boxes(boxes: FaceBoxes, inputs: list[tuple[Path, list[Path]]]) -> None:
    """Check a box file against the input images before anything is read or written: its
    keys (:func:`check_box_keys`), then each box against its image's size as the header
    states it (:func:`check_box_in_image`). An image whose header cannot be read is left to
    the reader (skipped in a folder, an error on its own).

    Raises:
        BoxFileError: naming the box file, the line or key, the image and the box.
    """
    check_box_keys(boxes, inputs)
    for root, files in inputs:
        for f in files:
            name = image_name(f, root)
            found, where = boxes_for(boxes, name, f.name)
            if not len(found):
                continue
            try:
                w, h = read_image_size(f)
            except UnreadableImageError:
                continue
            for box, place in zip(found, where, strict=True):
                check_box_in_image(box, w, h, f"{place} (image {name})")


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


def check_video_boxes(path: Path, boxes: FaceBoxes | None) -> dict[int, str]:
    """Check a box file against a video before any frame is read: every key is one frame
    number within the frame count the container states (``"7"``, ``"000007"``; no frame
    under two keys), every box lies at least partly inside the frame size.

    Returns:
        ``{frame number: its key}``.

    Raises:
        BoxFileError: naming the box file, the line or key, and the video.
    """
    _, frames, w, h = _video_properties(path)
    keys: dict[int, str] = {}
    if boxes is None:
        return keys
    for key in boxes:
        n = _frame_number(key)
        where = boxes.where[key][0] if boxes.where.get(key) else key
        if n is None or (frames > 0 and n > frames):
            raise BoxFileError(f"{where}: {key!r} is not a frame of {path} (keys are frame "
                               f"numbers 1..{frames or 'N'})")
        if n in keys:
            raise BoxFileError(f"{where}: keys {keys[n]!r} and {key!r} both name frame {n} "
                               f"of {path}: give its boxes under one key")
        keys[n] = key
        if w and h:
            for box, place in zip(*boxes_for(boxes, key), strict=True):
                check_box_in_image(box, w, h, f"{place} (image frame {n})")
    return keys


def iter_video(path: Path, boxes: FaceBoxes | None, decoded: dict | None = None
               ) -> Iterator[tuple[str, np.ndarray, np.ndarray | None]]:
    """``(frame number from 1, BGR frame, boxes)`` of a video; stops at the first frame that
    fails to decode. Box-file keys are frame numbers (``"7"`` or ``"000007"``).

    What was not decoded is said, never dropped silently: when decoding stops before the
    frame count the container states (a truncated or corrupt file), one line on stderr
    names the frames left and the box-file keys of those frames, and ``decoded`` (when
    given) receives ``frames_stated``, ``frames_decoded``, ``frames_not_decoded`` (first,
    last) and ``boxes_not_used`` (keys).
    """
    keys = check_video_boxes(path, boxes)
    _, frames = video_info(path)
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
            yield str(index), frame, _checked(frame, f"frame {index}", boxes,
                                              keys.get(index, str(index)))
        if index == 0:
            raise MediaError(f"{path}: no frame could be decoded")
    finally:
        cap.release()
    unused = [keys[n] for n in sorted(keys) if n > index]
    if decoded is not None:
        decoded.update(frames_stated=frames, frames_decoded=index,
                       frames_not_decoded=[index + 1, frames] if frames > index else None,
                       boxes_not_used=unused)
    if frames > index:
        print(f"aan: {path}: decoded {index} of the {frames} frames its header states: "
              f"frames {index + 1}-{frames} could not be decoded (truncated or corrupt video)"
              + (f"; the boxes of {len(unused)} of them in {boxes.path} were not used "
                 f"(keys {', '.join(unused[:5])}{', ...' if len(unused) > 5 else ''})"
                 if unused else ""), file=sys.stderr)


def _video_properties(path: Path) -> tuple[float, int, int, int]:
    """``(fps, frame count, width, height)`` as the container states them (fps 25 when
    unknown), the frame size checked against the image size limits."""
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
    return float(fps), n, w, h


def video_info(path: Path) -> tuple[float, int]:
    """``(fps, frame count)`` as the container states them (fps 25 when unknown).

    Raises:
        MediaError: the video cannot be opened.
        UnreadableImageError: its frames are outside the image size limits.
    """
    fps, n, _, _ = _video_properties(path)
    return fps, n
