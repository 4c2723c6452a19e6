"""``aan convert 300vw``: 300VW videos + per-frame ``.pts`` -> frames + train / category 1-3.

Raw layout (the 300VW download)::

    RAW_DIR/<video>/vid.avi
    RAW_DIR/<video>/annot/000001.pts ...     # frame numbers are 1-based

A video folder with ``imgs/<frame>.png`` (MMPose's layout: ``300vw2coco.py`` extracts
frames with ffmpeg as ``imgs/%06d.png``, numbered from 1) or ``imgs/<frame>.jpg`` instead of
``vid.avi`` is read as is (the files are copied unchanged). Otherwise frames are decoded with
OpenCV (no ffmpeg binary; the first decoded frame is frame 1) and written as
``OUT_DIR/images/<video>/<frame>.jpg``; a frame that fails to decode is skipped, reported
and counted (so is a frame image of ``imgs/`` that does not decode completely). Extraction is
resumable: each video is written to a temporary folder and renamed when complete, and the
videos of an earlier completed conversion into OUT_DIR are not decoded again (``aan convert``
stages the whole run, so the videos of a run that failed or was killed are not kept).
``OUT_DIR/images`` must be new or hold only this converter's output (other files there are
refused, never deleted). Everything (options, annotations, each video's first frame, the
face boxes against the frame size) is checked before anything is written.

Broken frames: MMPose leaves 2,127 annotated frames of 16 videos out of its json (7 of those
videos, 1,349 frames, are category 3; its list: ``broken_frames.npy``).
``--exclude-broken-frames PATH`` does the same with that file. Default: every annotated frame
is kept, the protocol of the 300VW challenge and of the papers in the AAN paper's Table 4
(they report on all annotated frames of the test videos), so numbers from the two choices
are not comparable.

Splits (docs/reproducing.md, "Dataset protocols"): the category 1, 2, 3 test videos of
``aan_core.evaluation.face_protocols``; every other video is a training video (50 in the full
dataset); ``test`` = the three categories together (one evaluation reports each category:
``FaceAlignmentMetric(subsets='300vw')``).
Coordinates: ``.pts`` values minus 1 (1-based -> 0-based), unless ``--keep-pts-values``.
Face box: the tight box of the 68 points.
Output: ``OUT_DIR/annotations/face_landmarks_300vw_{SPLIT}.json``, SPLIT one of train,
category1, category2, category3, test.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from aan_core.evaluation.face_protocols import FACE300VW_CATEGORIES, face300vw_split
from aan_core.utils.atomic_io import atomic_write

from .broken_frames import read_broken_frames
from .coco_face_json import CocoFaceJson, box_from_points
from .errors import ConversionError
from .pts_format import PTS_ORIGIN, read_pts

KEYPOINT_NAMES = [f"kpt-{i}" for i in range(68)]
DONE_FILE = ".frames.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep-pts-values", action="store_true",
                        help="write the .pts values unchanged (1-based)")
    parser.add_argument("--frame-step", type=int, default=1,
                        help="keep every N-th annotated frame (default 1: all)")
    parser.add_argument("--jpeg-quality", type=_jpeg_quality, default=95,
                        help="JPEG quality 0..100 of the frames decoded from vid.avi "
                             "(default 95)")
    parser.add_argument("--exclude-broken-frames", metavar="PATH",
                        help="leave out the frames listed in MMPose's broken_frames.npy (or a "
                             "json {video: [frame, ...]}), as MMPose's 300VW json does; "
                             "default: keep every annotated frame (the 300VW protocol)")


def _frame_number(pts: Path) -> int:
    try:
        return int(pts.stem)
    except ValueError:
        raise ConversionError(pts, "file name must be the frame number, e.g. 000001.pts") \
            from None


EXTRACTED_SUFFIXES = (".png", ".jpg")  # MMPose's ffmpeg layout first


def _jpeg_quality(text: str) -> int:
    """``--jpeg-quality``: an integer 0..100, as OpenCV's JPEG writer takes it."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer in 0..100, got {text!r}") \
            from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be an integer in 0..100, got {text}")
    return value


def _frame_file(video_dir: Path, frame: int) -> Path | None:
    """The extracted image of ``frame`` in ``video_dir/imgs`` (MMPose's layout), if any."""
    return next((p for p in (video_dir / "imgs" / f"{frame:06d}{s}" for s in EXTRACTED_SUFFIXES)
                 if p.is_file()), None)


def _own_record(folder: Path) -> dict | None:
    """The record of a folder this converter completed (its :data:`DONE_FILE`), else
    ``None``: a folder without a readable record was not written by it."""
    try:
        record = json.loads((folder / DONE_FILE).read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(record, dict) and all(isinstance(record.get(k), t) for k, t in
                                          (("files", dict), ("sizes", dict), ("failed", list)))
    return record if ok else None


def _completed(dest: Path, frames: list[int]) -> dict | None:
    """The record of ``dest`` when an earlier run completed it with exactly ``frames``."""
    record = _own_record(dest)
    try:
        same = record is not None and \
            set(map(int, record["sizes"])) | set(record["failed"]) == set(frames)
    except (TypeError, ValueError):
        same = False
    return record if same else None


def check_images_folder(images: Path) -> None:
    """``OUT_DIR/images`` is refused unless it holds only this converter's output (the
    other converters refuse any ``OUT_DIR/images`` but their own link): video folders it
    completed (with their :data:`DONE_FILE` record) and its hidden partial folders. Anything
    else is the user's, and is never deleted or written into.

    Raises:
        ConversionError: naming the first entry that is not this converter's.
    """
    if not images.exists() and not images.is_symlink():
        return
    if images.is_symlink() or not images.is_dir():
        raise ConversionError(images, "exists and is not a folder of 300VW frames (another "
                                      "converter's link?); remove it or choose another "
                                      "output folder")
    for entry in sorted(images.iterdir()):
        if entry.is_dir() and not entry.is_symlink() and (
                _own_record(entry) is not None
                or (entry.name.startswith(".") and entry.name.endswith(".partial"))):
            continue
        raise ConversionError(entry, f"exists and was not written by aan convert 300vw (no "
                                     f"{DONE_FILE}); remove it or choose another output folder")


def _probe(video_dir: Path, frames: list[int]) -> tuple[int, int]:
    """Check one video's frames can be read, before anything is written: ``vid.avi`` opens
    and decodes its first frame, or ``imgs/`` holds an image of at least one annotated frame.
    Returns the frame size ``(width, height)`` the annotations are checked against.

    Raises:
        ConversionError: naming the video file or the imgs folder.
    """
    video = video_dir / "vid.avi"
    if video.is_file():
        cap = cv2.VideoCapture(str(video))
        try:
            if not cap.isOpened():
                raise ConversionError(video, "OpenCV cannot open this video")
            ok, image = cap.read()
        finally:
            cap.release()
        if not ok:
            raise ConversionError(video, "no frame could be decoded (unreadable or empty video)")
        return image.shape[1], image.shape[0]
    found = [p for p in map(lambda f: _frame_file(video_dir, f), frames) if p is not None]
    if not found:
        raise ConversionError(video_dir / "imgs", f"none of the {len(frames)} annotated frames "
                                                  f"has an image here (e.g. "
                                                  f"{frames[0]:06d}{EXTRACTED_SUFFIXES[0]}): "
                                                  f"an empty or other folder")
    from .coco_face_json import read_image_size

    return read_image_size(found[0])


def _extract(video_dir: Path, frames: list[int], dest: Path, quality: int) -> dict:
    """Decode the annotated ``frames`` of one video into ``dest`` (atomically, resumable);
    returns ``{"files": {frame: file name}, "sizes": {frame: [w, h]}, "failed": [frame...]}``.

    ``dest`` is new, or a folder this converter completed (:func:`check_images_folder`):
    reused when it holds the same frames, else replaced. The frames are written into a
    fresh hidden folder beside it, removed again if this run fails."""
    record = _completed(dest, frames)
    if record is not None:
        return record  # completed by an earlier run with the same frames
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        record = _decode(video_dir, frames, tmp, quality)
        (tmp / DONE_FILE).write_text(json.dumps(record))
        if dest.exists():  # this converter's own folder of other frames (see above)
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return record


def _decode(video_dir: Path, frames: list[int], tmp: Path, quality: int) -> dict:
    """Write the annotated ``frames`` of one video into ``tmp``; returns its record."""
    wanted = set(frames)
    sizes: dict[int, list[int]] = {}
    files: dict[int, str] = {}
    video = video_dir / "vid.avi"
    if video.is_file():
        cap = cv2.VideoCapture(str(video))
        if not cap.isOpened():
            raise ConversionError(video, "OpenCV cannot open this video")
        index, last = 0, max(frames)
        try:
            while index < last:
                ok, image = cap.read()
                index += 1
                if not ok:
                    break  # truncated: the remaining annotated frames are counted as failed
                if index in wanted:
                    files[index] = f"{index:06d}.jpg"
                    if not cv2.imwrite(str(tmp / files[index]), image,
                                       [cv2.IMWRITE_JPEG_QUALITY, quality]):
                        raise OSError(errno.EIO, "could not write this frame",
                                      str(tmp / files[index]))
                    sizes[index] = [image.shape[1], image.shape[0]]
        finally:
            cap.release()
    else:
        from .coco_face_json import read_image_size

        for frame in frames:
            src = _frame_file(video_dir, frame)
            if src is None:
                continue
            try:  # every image decoded: one cut short behind its header is a failed frame
                size = read_image_size(src)
            except ConversionError as e:
                tqdm.write(f"300VW: {e}", file=sys.stderr)
                continue
            shutil.copyfile(src, tmp / src.name)
            files[frame] = src.name
            sizes[frame] = list(size)
    return {"files": {str(k): v for k, v in files.items()},
            "sizes": {str(k): v for k, v in sizes.items()},
            "failed": sorted(wanted - set(sizes))}


def convert(raw_dir: str | Path, out_dir: str | Path, keep_pts_values: bool = False,
            frame_step: int = 1, jpeg_quality: int = 95,
            exclude_broken_frames: str | None = None) -> dict:
    """Convert; returns ``{split: count, "failed_frames": n, "excluded_broken_frames": n}``.

    Everything is checked before anything is written: the options, every ``.pts``, each
    video's frames (the video opens and decodes, or ``imgs/`` holds its frames), each face
    box against the frame size, and ``OUT_DIR/images`` (:func:`check_images_folder`). A run
    that fails later removes what it made (its partial folder; ``OUT_DIR`` and
    ``OUT_DIR/images`` when it created them and they are left empty); called directly, the
    video folders it completed stay, for the next run to resume (``aan convert`` runs it in
    a staged copy of ``OUT_DIR``, which a failed or killed run discards whole).
    """
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if frame_step < 1:
        raise ConversionError(raw_dir, f"--frame-step must be >= 1, got {frame_step}")
    if not 0 <= jpeg_quality <= 100:
        raise ConversionError(raw_dir, f"--jpeg-quality must be in 0..100, got {jpeg_quality}")
    broken = read_broken_frames(exclude_broken_frames) if exclude_broken_frames else {}
    offset = 0.0 if keep_pts_values else PTS_ORIGIN
    videos = sorted(d for d in raw_dir.iterdir() if (d / "annot").is_dir()) \
        if raw_dir.is_dir() else []
    if not videos:
        raise ConversionError(raw_dir, "no 300VW video folders (<video>/annot/*.pts) found")
    for d in videos:
        if not (d / "vid.avi").is_file() and not (d / "imgs").is_dir():
            raise ConversionError(d / "vid.avi", "video file not found (nor an imgs/ folder)")
        if not any((d / "annot").glob("*.pts")):
            raise ConversionError(d / "annot", "no .pts files (an empty annotation folder)")
    # 1. read and check everything first: nothing is written before the input is known good
    annotations: dict[str, dict[int, tuple[np.ndarray, Path]]] = {}
    excluded = 0
    for d in tqdm(videos, desc="300VW annotations", unit="video", mininterval=1.0):
        files = sorted((d / "annot").glob("*.pts"))[::frame_step]
        annotations[d.name] = {_frame_number(p): (read_pts(p, 68) - offset, p) for p in files}
        for frame in broken.get(d.name, set()) & set(annotations[d.name]):
            del annotations[d.name][frame]
            excluded += 1
        if annotations[d.name]:
            frames = sorted(annotations[d.name])
            done = _completed(out_dir / "images" / d.name, frames)
            # a video completed by an earlier run is not decoded again, nor probed
            size = tuple(next(iter(done["sizes"].values()))) if done and done["sizes"] \
                else _probe(d, frames)
            check = CocoFaceJson(KEYPOINT_NAMES)  # the box of each face inside its frame
            for frame, (points, pts) in annotations[d.name].items():
                check.add(f"{frame}", size, points, [1] * 68, box_from_points(points),
                          source=pts)
    check_images_folder(out_dir / "images")
    # 2. decode frames, one video at a time, resumable
    created = [p for p in (out_dir / "images", out_dir, *out_dir.parents) if not p.exists()]
    records = {}
    failed_total = 0
    try:
        (out_dir / "images").mkdir(parents=True, exist_ok=True)
        for d in tqdm(videos, desc="300VW frames", unit="video"):
            if not annotations[d.name]:  # every annotated frame excluded
                records[d.name] = {"files": {}, "sizes": {}, "failed": []}
                continue
            records[d.name] = _extract(d, sorted(annotations[d.name]),
                                       out_dir / "images" / d.name, jpeg_quality)
            if records[d.name]["failed"]:
                failed_total += len(records[d.name]["failed"])
                tqdm.write(f"300VW: {d.name}: {len(records[d.name]['failed'])} annotated frames "
                           f"failed to decode and are skipped (first: "
                           f"{records[d.name]['failed'][0]})", file=sys.stderr)
    except BaseException:
        for path in created:  # deepest first: only what this run created, left empty
            try:
                path.rmdir()
            except OSError:
                break
        raise
    meta = dict(dataset="300VW", converter="aan convert 300vw",
                coordinates="pts values unchanged (1-based)" if keep_pts_values else
                "0-based pixels (pts values - 1)", box="tight box of the 68 points",
                broken_frames=f"excluded ({excluded} frames, list {exclude_broken_frames})"
                if exclude_broken_frames else "kept (every annotated frame)")
    out = {s: CocoFaceJson(KEYPOINT_NAMES, dict(meta, split=s))
           for s in ("train", *FACE300VW_CATEGORIES, "test")}
    for name, frames in annotations.items():
        split = face300vw_split(name)
        sizes, names = records[name]["sizes"], records[name]["files"]
        for frame, (points, pts) in sorted(frames.items()):
            if str(frame) in sizes:
                for js in (out[split], out["test"]) if split != "train" else (out[split],):
                    js.add(f"{name}/{names[str(frame)]}", tuple(sizes[str(frame)]), points,
                           [1] * 68, box_from_points(points), source=pts)
    for split, js in out.items():
        js.write(out_dir / "annotations" / f"face_landmarks_300vw_{split}.json")
    summary = {"failed_frames": failed_total, "excluded_broken_frames": excluded}
    atomic_write(out_dir / "annotations" / "failed_frames_300vw.json",
                 lambda tmp: Path(tmp).write_text(json.dumps(
                     {k: r["failed"] for k, r in records.items() if r["failed"]}, indent=1)))
    return {**{split: len(js) for split, js in out.items()}, **summary}
