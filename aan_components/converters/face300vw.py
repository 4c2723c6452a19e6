"""``aan convert 300vw``: 300VW videos + per-frame ``.pts`` -> frames + train / category 1-3.

Raw layout (the 300VW download)::

    RAW_DIR/<video>/vid.avi
    RAW_DIR/<video>/annot/000001.pts ...     # frame numbers are 1-based

A video folder with ``imgs/<frame>.jpg`` instead of ``vid.avi`` (MMPose's extracted layout)
is read as is. Frames are decoded with OpenCV (no ffmpeg binary) and written as
``OUT_DIR/images/<video>/<frame>.jpg``; a frame that fails to decode is skipped, reported
and counted. Extraction is resumable: each video is written to a temporary folder and
renamed when complete, and completed videos are not decoded again.

Splits (paper / AAN_SPEC.md): category 1, 2, 3 test videos as listed below; every other
video is a training video (50 in the full dataset); ``test`` = the three categories together
(one evaluation reports each category: ``FaceAlignmentMetric(subsets='300vw')``).
Coordinates: ``.pts`` values minus 1 (1-based -> 0-based), unless ``--keep-pts-values``.
Face box: the tight box of the 68 points.
Output: ``OUT_DIR/annotations/face_landmarks_300vw_{SPLIT}.json``, SPLIT one of train,
category1, category2, category3, test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from aan_core.atomic_io import atomic_write

from ..datasets.benchmark_splits import FACE300VW_CATEGORIES, face300vw_split
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
    parser.add_argument("--jpeg-quality", type=int, default=95)


def _frame_number(pts: Path) -> int:
    try:
        return int(pts.stem)
    except ValueError:
        raise ConversionError(pts, "file name must be the frame number, e.g. 000001.pts") \
            from None


def _extract(video_dir: Path, frames: list[int], dest: Path, quality: int) -> dict:
    """Decode the annotated ``frames`` of one video into ``dest`` (atomically, resumable);
    returns ``{"sizes": {frame: [w, h]}, "failed": [frame, ...]}``."""
    done = dest / DONE_FILE
    if done.is_file():
        record = json.loads(done.read_text())
        if set(map(int, record["sizes"])) | set(record["failed"]) == set(frames):
            return record  # completed by an earlier run with the same frames
    tmp = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    wanted = set(frames)
    sizes: dict[int, list[int]] = {}
    video = video_dir / "vid.avi"
    if video.is_file():
        cap = cv2.VideoCapture(str(video))
        if not cap.isOpened():
            shutil.rmtree(tmp)
            raise ConversionError(video, "OpenCV cannot open this video")
        index, decoded, last = 0, 0, max(frames)
        try:
            while index < last:
                ok, image = cap.read()
                index += 1
                if not ok:
                    break  # truncated: the remaining annotated frames are counted as failed
                decoded += 1
                if index in wanted:
                    cv2.imwrite(str(tmp / f"{index:06d}.jpg"), image,
                                [cv2.IMWRITE_JPEG_QUALITY, quality])
                    sizes[index] = [image.shape[1], image.shape[0]]
        finally:
            cap.release()
        if decoded == 0:
            shutil.rmtree(tmp)
            raise ConversionError(video, "no frame could be decoded (unreadable or empty video)")
    else:
        for frame in frames:
            src = video_dir / "imgs" / f"{frame:06d}.jpg"
            image = cv2.imread(str(src)) if src.is_file() else None
            if image is not None:
                shutil.copyfile(src, tmp / src.name)
                sizes[frame] = [image.shape[1], image.shape[0]]
    record = {"sizes": {str(k): v for k, v in sizes.items()},
              "failed": sorted(wanted - set(sizes))}
    (tmp / DONE_FILE).write_text(json.dumps(record))
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    return record


def convert(raw_dir: str | Path, out_dir: str | Path, keep_pts_values: bool = False,
            frame_step: int = 1, jpeg_quality: int = 95) -> dict:
    """Convert; returns ``{split: count, "failed_frames": n}``."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if frame_step < 1:
        raise ConversionError(raw_dir, f"--frame-step must be >= 1, got {frame_step}")
    offset = 0.0 if keep_pts_values else PTS_ORIGIN
    videos = sorted(d for d in raw_dir.iterdir() if (d / "annot").is_dir()) \
        if raw_dir.is_dir() else []
    if not videos:
        raise ConversionError(raw_dir, "no 300VW video folders (<video>/annot/*.pts) found")
    for d in videos:
        if not (d / "vid.avi").is_file() and not (d / "imgs").is_dir():
            raise ConversionError(d / "vid.avi", "video file not found (nor an imgs/ folder)")
    # 1. read every annotation first: a bad .pts stops the run before anything is written
    annotations: dict[str, dict[int, tuple[np.ndarray, Path]]] = {}
    for d in tqdm(videos, desc="300VW annotations", unit="video", mininterval=1.0):
        files = sorted((d / "annot").glob("*.pts"))[::frame_step]
        annotations[d.name] = {_frame_number(p): (read_pts(p, 68) - offset, p) for p in files}
    # 2. decode frames, one video at a time, resumable
    records = {}
    failed_total = 0
    for d in tqdm(videos, desc="300VW frames", unit="video"):
        records[d.name] = _extract(d, sorted(annotations[d.name]), out_dir / "images" / d.name,
                                   jpeg_quality)
        if records[d.name]["failed"]:
            failed_total += len(records[d.name]["failed"])
            tqdm.write(f"300VW: {d.name}: {len(records[d.name]['failed'])} annotated frames "
                       f"failed to decode and are skipped (first: {records[d.name]['failed'][0]})",
                       file=sys.stderr)
    meta = dict(dataset="300VW", converter="aan convert 300vw",
                coordinates="pts values unchanged (1-based)" if keep_pts_values else
                "0-based pixels (pts values - 1)", box="tight box of the 68 points")
    out = {s: CocoFaceJson(KEYPOINT_NAMES, dict(meta, split=s))
           for s in ("train", *FACE300VW_CATEGORIES, "test")}
    for name, frames in annotations.items():
        split = face300vw_split(name)
        sizes = records[name]["sizes"]
        for frame, (points, pts) in sorted(frames.items()):
            if str(frame) in sizes:
                for js in (out[split], out["test"]) if split != "train" else (out[split],):
                    js.add(f"{name}/{frame:06d}.jpg", tuple(sizes[str(frame)]), points,
                           [1] * 68, box_from_points(points), source=pts)
    for split, js in out.items():
        js.write(out_dir / "annotations" / f"face_landmarks_300vw_{split}.json")
    summary = {"failed_frames": failed_total}
    atomic_write(out_dir / "annotations" / "failed_frames_300vw.json",
                 lambda tmp: Path(tmp).write_text(json.dumps(
                     {k: r["failed"] for k, r in records.items() if r["failed"]}, indent=1)))
    return {**{split: len(js) for split, js in out.items()}, **summary}
