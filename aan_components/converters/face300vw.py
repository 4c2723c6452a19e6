"""``aan convert 300vw``: 300VW videos + per-frame ``.pts`` -> frames + train / category 1-3.

Raw layout (the 300VW download)::

    RAW_DIR/<video>/vid.avi
    RAW_DIR/<video>/annot/000001.pts ...     # frame numbers are 1-based

A video folder with ``imgs/<frame>.png`` (MMPose's layout: ``300vw2coco.py`` extracts
frames with ffmpeg as ``imgs/%06d.png``, numbered from 1) or ``imgs/<frame>.jpg`` instead of
``vid.avi`` is read as is (the files are copied unchanged). Otherwise frames are decoded with
OpenCV (no ffmpeg binary; the first decoded frame is frame 1) and written as
``OUT_DIR/images/<video>/<frame>.jpg``; a frame that fails to decode is skipped, reported
and counted. Extraction is resumable: each video is written to a temporary folder and
renamed when complete, and completed videos are not decoded again.

Broken frames: MMPose leaves 2,127 annotated frames of 16 videos out of its json (7 of those
videos, 1,349 frames, are category 3; its list: ``broken_frames.npy``).
``--exclude-broken-frames PATH`` does the same with that file. Default: every annotated frame
is kept, the protocol of the 300VW challenge and of the papers in the AAN paper's Table 4
(they report on all annotated frames of the test videos), so numbers from the two choices
are not comparable.

Splits (docs/reproducing.md, "Dataset protocols"): the category 1, 2, 3 test videos of
``aan_core.face_protocols``; every other video is a training video (50 in the full dataset);
``test`` = the three categories together (one evaluation reports each category:
``FaceAlignmentMetric(subsets='300vw')``).
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

from aan_core.face_protocols import FACE300VW_CATEGORIES, face300vw_split
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
    parser.add_argument("--jpeg-quality", type=int, default=95)
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


def _extract(video_dir: Path, frames: list[int], dest: Path, quality: int) -> dict:
    """Decode the annotated ``frames`` of one video into ``dest`` (atomically, resumable);
    returns ``{"files": {frame: file name}, "sizes": {frame: [w, h]}, "failed": [frame...]}``."""
    done = dest / DONE_FILE
    if done.is_file():
        record = json.loads(done.read_text())
        if "files" in record and \
                set(map(int, record["sizes"])) | set(record["failed"]) == set(frames):
            return record  # completed by an earlier run with the same frames
    tmp = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    wanted = set(frames)
    sizes: dict[int, list[int]] = {}
    files: dict[int, str] = {}
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
                    files[index] = f"{index:06d}.jpg"
                    cv2.imwrite(str(tmp / files[index]), image,
                                [cv2.IMWRITE_JPEG_QUALITY, quality])
                    sizes[index] = [image.shape[1], image.shape[0]]
        finally:
            cap.release()
        if decoded == 0:
            shutil.rmtree(tmp)
            raise ConversionError(video, "no frame could be decoded (unreadable or empty video)")
    else:
        for frame in frames:
            src = next((p for p in (video_dir / "imgs" / f"{frame:06d}{s}"
                                    for s in EXTRACTED_SUFFIXES) if p.is_file()), None)
            image = cv2.imread(str(src)) if src is not None else None
            if image is not None:
                shutil.copyfile(src, tmp / src.name)
                files[frame] = src.name
                sizes[frame] = [image.shape[1], image.shape[0]]
    record = {"files": {str(k): v for k, v in files.items()},
              "sizes": {str(k): v for k, v in sizes.items()},
              "failed": sorted(wanted - set(sizes))}
    (tmp / DONE_FILE).write_text(json.dumps(record))
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    return record


def convert(raw_dir: str | Path, out_dir: str | Path, keep_pts_values: bool = False,
            frame_step: int = 1, jpeg_quality: int = 95,
            exclude_broken_frames: str | None = None) -> dict:
    """Convert; returns ``{split: count, "failed_frames": n, "excluded_broken_frames": n}``."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if frame_step < 1:
        raise ConversionError(raw_dir, f"--frame-step must be >= 1, got {frame_step}")
    broken = read_broken_frames(exclude_broken_frames) if exclude_broken_frames else {}
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
    excluded = 0
    for d in tqdm(videos, desc="300VW annotations", unit="video", mininterval=1.0):
        files = sorted((d / "annot").glob("*.pts"))[::frame_step]
        annotations[d.name] = {_frame_number(p): (read_pts(p, 68) - offset, p) for p in files}
        for frame in broken.get(d.name, set()) & set(annotations[d.name]):
            del annotations[d.name][frame]
            excluded += 1
    # 2. decode frames, one video at a time, resumable
    records = {}
    failed_total = 0
    for d in tqdm(videos, desc="300VW frames", unit="video"):
        if not annotations[d.name]:  # every annotated frame excluded
            records[d.name] = {"files": {}, "sizes": {}, "failed": []}
            continue
        records[d.name] = _extract(d, sorted(annotations[d.name]), out_dir / "images" / d.name,
                                   jpeg_quality)
        if records[d.name]["failed"]:
            failed_total += len(records[d.name]["failed"])
            tqdm.write(f"300VW: {d.name}: {len(records[d.name]['failed'])} annotated frames "
                       f"failed to decode and are skipped (first: {records[d.name]['failed'][0]})",
                       file=sys.stderr)
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
