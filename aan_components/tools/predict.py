"""Predict face landmarks on an image, a folder of images or a video.

Faces come from a box file (``--boxes``: JSON ``{image: [[x1, y1, x2, y2], ...]}`` or CSV
``image,x1,y1,x2,y2``; for videos the key is the frame number from 1); without one, the whole
image is one face. Writes ``OUT_DIR/landmarks.json`` (atomically) and, unless ``--no-draw``,
the drawn images under ``OUT_DIR/vis/`` or the drawn video ``OUT_DIR/<video>_landmarks.mp4``.
Videos can be smoothed over time (``--smooth``: One Euro filter per landmark), off by default.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import cv2
from tqdm import tqdm

from aan_core.atomic_io import atomic_write
from aan_core.temporal_smoothing import OneEuroFilter

from ..inference import BoxFileError, LandmarkPredictor, read_face_boxes
from ..inference.media_sources import (
    VIDEO_SUFFIXES,
    MediaError,
    iter_images,
    iter_video,
    list_images,
    video_info,
)
from ..visualization import draw_faces, save_image


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="MMPose config of the model")
    parser.add_argument("checkpoint", help="checkpoint (.pth), loaded safely")
    parser.add_argument("input", help="an image, a folder of images, or a video")
    parser.add_argument("--out", default="predictions", help="output folder")
    parser.add_argument("--boxes", help="face boxes: .json or .csv (default: whole image)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=32, help="faces per forward pass")
    parser.add_argument("--no-draw", action="store_true", help="write landmarks.json only")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the backbone: ~1.2x faster after ~1 min of "
                             "compilation (long videos, large folders)")
    parser.add_argument("--smooth", action="store_true",
                        help="video only: One Euro temporal smoothing of each landmark")
    parser.add_argument("--smooth-min-cutoff", type=float, default=1.0,
                        help="One Euro cutoff at rest, Hz (lower: smoother, more lag)")
    parser.add_argument("--smooth-beta", type=float, default=0.05,
                        help="One Euro speed coefficient (higher: less lag on fast motion)")


def smooth_tracks(results, fps: float, min_cutoff: float, beta: float):
    """Smooth each face index's landmarks over frames (a face track per box index)."""
    filters: dict[int, OneEuroFilter] = {}
    for result in results:
        for i, face in enumerate(result.faces):
            f = filters.setdefault(i, OneEuroFilter(fps, min_cutoff, beta))
            face.keypoints = f(face.keypoints)
        for i in list(filters):
            if i >= len(result.faces):
                filters.pop(i)  # track lost: start afresh when it comes back
        yield result


def _write_json(path: Path, args, records: list[dict], num_keypoints: int,
                skipped: list[dict]) -> None:
    data = dict(config=str(args.config), checkpoint=str(args.checkpoint), input=str(args.input),
                num_keypoints=num_keypoints, coordinates="image pixels, 0-based (x, y)",
                smoothing=dict(filter="one_euro", min_cutoff=args.smooth_min_cutoff,
                               beta=args.smooth_beta) if args.smooth else None,
                images=records, skipped=skipped)
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data)))


def run(args: argparse.Namespace) -> None:
    src, out = Path(args.input), Path(args.out)
    skipped: list[dict] = []
    try:
        boxes = read_face_boxes(args.boxes) if args.boxes else None
        is_video = src.is_file() and src.suffix.lower() in VIDEO_SUFFIXES
        if args.smooth and not is_video:
            raise MediaError(f"{src}: --smooth applies to videos only")
        if is_video:
            fps, total = video_info(src)
            items = iter_video(src, boxes)
        else:
            files = list_images(src)
            total = len(files)
            # in a folder, an unreadable image is reported and skipped, not fatal
            items = iter_images(files, src, boxes, skipped if src.is_dir() else None)
        predictor = LandmarkPredictor(args.config, args.checkpoint, args.device,
                                      args.batch_size, compile=args.compile)
        results = predictor.predict(items)
        if is_video and args.smooth:
            results = smooth_tracks(results, fps, args.smooth_min_cutoff, args.smooth_beta)
        out.mkdir(parents=True, exist_ok=True)
        records: list[dict] = []
        writer = None
        video_path = out / f"{src.stem}_landmarks.mp4"
        partial = out / f".{src.stem}_landmarks.partial.mp4"
        try:
            for result in tqdm(results, total=total or None, desc="aan predict",
                               unit="frame" if is_video else "image"):
                records.append(dict(image=result.name,
                                    faces=[f.to_json() for f in result.faces]))
                if args.no_draw:
                    continue
                drawn = draw_faces(result.image, [f.box for f in result.faces],
                                   [f.keypoints for f in result.faces])
                if is_video:
                    if writer is None:
                        h, w = drawn.shape[:2]
                        writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"),
                                                 fps, (w, h))
                    writer.write(drawn)
                else:
                    save_image(out / "vis" / result.name, drawn)
            if writer is not None:
                writer.release()
                writer = None
                os.replace(partial, video_path)
        finally:
            if writer is not None:
                writer.release()
            if partial.exists():
                partial.unlink()
        _write_json(out / "landmarks.json", args, records, predictor.num_keypoints, skipped)
    except (BoxFileError, MediaError) as e:
        print(f"aan predict: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    faces = sum(len(r["faces"]) for r in records)
    print(f"aan predict: {faces} faces in {len(records)} "
          f"{'frames' if is_video else 'images'} -> {out / 'landmarks.json'}"
          + (f"; {len(skipped)} unreadable images skipped (listed there)" if skipped else ""))
