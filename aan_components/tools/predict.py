"""Predict face landmarks on an image, a folder of images or a video.

Faces come from a box file (``--boxes``: JSON ``{image: [[x1, y1, x2, y2], ...]}`` or CSV
``image,x1,y1,x2,y2``; for videos the key is the frame number from 1). Every key must name an
input image (or frame) and every box must lie at least partly inside its image; an image the
box file does not list has no faces. Without a box file, a face detector finds the faces
(``--detector``, MTCNN by default) and its boxes are calibrated to the convention of the
model's training boxes (``--no-calibration`` to use them as detected); in a video it runs
every ``--detect-every`` frames and the faces are tracked from the previous frame's landmarks
in between. ``--whole-image`` takes each whole image as one face instead (said once on
stderr). Each face's box and its source are recorded in landmarks.json. Writes
``OUT_DIR/landmarks.json`` (atomically) and, unless ``--no-draw``, the drawn images under
``OUT_DIR/vis/`` or the drawn video ``OUT_DIR/<video>_landmarks.mp4``.
Videos can be smoothed over time (``--smooth``: One Euro filter per landmark), off by default.

The checkpoint must fit the config exactly (``--allow-partial`` loads what fits). Images are
refused when missing, empty, truncated, not images, under 16 px a side or over 150 Mpx. In a
folder, such images are skipped, listed under ``skipped`` in landmarks.json and on stderr,
and the exit status is 0 as long as one image was read; if none could be, it is 2. Any other
error exits with status 2 and leaves no output behind.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import cv2
from tqdm import tqdm

from aan_core.temporal_smoothing import smooth_tracks
from aan_core.utils.atomic_io import atomic_write
from aan_core.utils.input_errors import AANInputError

from ..inference import LandmarkPredictor, read_face_boxes
from ..inference.face_detection import DETECTORS
from ..inference.media_sources import (
    VIDEO_SUFFIXES,
    MediaError,
    check_box_keys,
    iter_images,
    iter_video,
    list_images,
    video_info,
)
from ..visualization import draw_faces, save_image
from .argument_types import non_negative_float, positive_float, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="MMPose config of the model")
    parser.add_argument("checkpoint", help="checkpoint (.pth), loaded safely")
    parser.add_argument("input", help="an image, a folder of images, or a video")
    parser.add_argument("--out", default="predictions", help="output folder")
    parser.add_argument("--boxes", help="face boxes: .json or .csv (default: detect the faces)")
    parser.add_argument("--detector", default="mtcnn", choices=sorted(DETECTORS),
                        help="face detector used without --boxes (default: mtcnn)")
    parser.add_argument("--no-calibration", action="store_true",
                        help="use the detector's boxes as detected, not mapped onto the "
                             "model's training-box convention")
    parser.add_argument("--detect-every", type=positive_int, default=5,
                        help="video: detect every N frames, track from the previous frame's "
                             "landmarks in between (default 5; 1: detect every frame)")
    parser.add_argument("--whole-image", action="store_true",
                        help="no detector: each whole image is one face")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1... (default cpu)")
    parser.add_argument("--batch-size", type=positive_int, default=32,
                        help="faces per forward pass")
    parser.add_argument("--allow-partial", action="store_true",
                        help="load a checkpoint that does not fit the config: the tensors "
                             "that fit, the rest untrained (one line says what); by default "
                             "any mismatch is an error")
    parser.add_argument("--no-draw", action="store_true", help="write landmarks.json only")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the backbone: ~1.2x faster after ~1 min of "
                             "compilation (long videos, large folders)")
    parser.add_argument("--smooth", action="store_true",
                        help="video only: One Euro temporal smoothing of each landmark")
    parser.add_argument("--smooth-min-cutoff", type=positive_float, default=1.0,
                        help="One Euro cutoff at rest, Hz (lower: smoother, more lag)")
    parser.add_argument("--smooth-beta", type=non_negative_float, default=0.05,
                        help="One Euro speed coefficient (higher: less lag on fast motion)")


def whole_image_note(command: str, boxes) -> None:
    """Say once that, without a box file, each whole image is one face."""
    if boxes is None:
        print(f"{command}: no --boxes given: each whole image is taken as one face",
              file=sys.stderr)


def detector_note(predictor: LandmarkPredictor) -> None:
    """Say once where the faces come from, and when the detector's boxes are uncalibrated."""
    finder = predictor.face_finder
    if finder.calibration is None:
        print(f"aan predict: faces from {finder.detector.name}, boxes used as detected: no "
              f"calibration for this config's training boxes "
              f"({finder.convention or 'convention unknown'})", file=sys.stderr)
    else:
        print(f"aan predict: faces from {finder.detection_source}", file=sys.stderr)


def _write_json(path: Path, args, records: list[dict], num_keypoints: int,
                skipped: list[dict]) -> None:
    data = dict(config=str(args.config), checkpoint=str(args.checkpoint), input=str(args.input),
                num_keypoints=num_keypoints, coordinates="image pixels, 0-based (x, y)",
                smoothing=dict(filter="one_euro", min_cutoff=args.smooth_min_cutoff,
                               beta=args.smooth_beta) if args.smooth else None,
                faces_from=(f"box file {args.boxes}" if args.boxes else "whole image"
                            if args.whole_image else f"detector {args.detector}"),
                images=records, skipped=skipped)
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data)))


def run(args: argparse.Namespace) -> None:
    src, out = Path(args.input), Path(args.out)
    skipped: list[dict] = []
    boxes = read_face_boxes(args.boxes) if args.boxes else None
    is_video = src.is_file() and src.suffix.lower() in VIDEO_SUFFIXES
    if args.smooth and not is_video:
        raise MediaError(f"{src}: --smooth applies to videos only")
    if args.boxes and args.whole_image:
        raise AANInputError("--boxes and --whole-image exclude each other")
    if is_video:
        fps, total = video_info(src)
        items = iter_video(src, boxes)
    else:
        files = list_images(src)
        total = len(files)
        if boxes is not None:
            check_box_keys(boxes, [(src, files)])
        # in a folder, an unreadable image is reported and skipped, not fatal
        items = iter_images(files, src, boxes, skipped if src.is_dir() else None)
    detect = boxes is None and not args.whole_image
    predictor = LandmarkPredictor(args.config, args.checkpoint, args.device,
                                  args.batch_size, compile=args.compile,
                                  allow_partial=args.allow_partial,
                                  detector=args.detector if detect else None,
                                  calibrate=not args.no_calibration,
                                  detect_every=args.detect_every)
    if detect:
        detector_note(predictor)
    else:
        whole_image_note("aan predict", boxes)
    results = predictor.predict(items, box_source=Path(args.boxes).name if boxes else "given",
                                track=is_video)
    if is_video and args.smooth:
        results = smooth_tracks(results, fps, args.smooth_min_cutoff, args.smooth_beta)
    # on failure, what this run wrote is removed again: no partial output
    created = [p for p in (out, *out.parents) if not p.exists()]
    vis_existed = (out / "vis").exists()
    written: list[Path] = []
    try:
        records = _write_outputs(args, src, out, results, total, is_video,
                                 fps if is_video else None, written)
        if not records and skipped:
            raise MediaError(f"{src}: none of its {len(skipped)} images could be read "
                             f"(listed above)")
        _write_json(out / "landmarks.json", args, records, predictor.num_keypoints, skipped)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if created:
            shutil.rmtree(created[-1], ignore_errors=True)
        elif not vis_existed:
            shutil.rmtree(out / "vis", ignore_errors=True)
        raise
    faces = sum(len(r["faces"]) for r in records)
    no_box = sum(1 for r in records if not r["faces"]) if boxes is not None else 0
    print(f"aan predict: {faces} faces in {len(records)} "
          f"{'frames' if is_video else 'images'} -> {out / 'landmarks.json'}"
          + (f"; {no_box} {'frames' if is_video else 'images'} without a box in "
             f"{args.boxes} (no faces)" if no_box else "")
          + (f"; {len(skipped)} unreadable images skipped (listed there)" if skipped else ""))


def _write_outputs(args, src: Path, out: Path, results, total: int, is_video: bool,
                   fps: float | None, written: list[Path]) -> list[dict]:
    """Draw and collect the results (drawn images are added to ``written`` as they are
    saved); a video goes to a partial file renamed at the end."""
    records: list[dict] = []
    writer = None
    video_path = out / f"{src.stem}_landmarks.mp4"
    partial = out / f".{src.stem}_landmarks.partial.mp4"
    try:
        for result in tqdm(results, total=total or None, desc="aan predict",
                           unit="frame" if is_video else "image"):
            records.append(dict(image=result.name, faces=[f.to_json() for f in result.faces]))
            if args.no_draw:
                continue
            drawn = draw_faces(result.image, [f.box for f in result.faces],
                               [f.keypoints for f in result.faces])
            if is_video:
                if writer is None:
                    out.mkdir(parents=True, exist_ok=True)
                    h, w = drawn.shape[:2]
                    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"),
                                             fps, (w, h))
                writer.write(drawn)
            else:
                written.append(out / "vis" / result.name)
                save_image(written[-1], drawn)
        if writer is not None:
            writer.release()
            writer = None
            os.replace(partial, video_path)
            written.append(video_path)
    finally:
        if writer is not None:
            writer.release()
        if partial.exists():
            partial.unlink()
    return records
