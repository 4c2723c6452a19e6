"""Predict face landmarks on an image, a folder of images or a video.

``aan predict INPUT`` uses the model shipped in the package (300W's 68 points,
docs/pretrained_model.md; its sha256 is checked before it loads); ``aan predict CONFIG
CHECKPOINT INPUT`` uses yours.

Faces come from a box file (``--boxes``: JSON ``{image: [[x1, y1, x2, y2], ...]}`` or CSV
``image,x1,y1,x2,y2``; for videos the key is the frame number from 1). Every key must name an
input image (or frame) and every box must lie at least partly inside its image; an image the
box file does not list has no faces. Without a box file, a face detector finds the faces
(``--detector``, MTCNN by default) and its boxes are calibrated to the convention of the
model's training boxes (``--no-calibration`` to use them as detected); in a video it runs
every ``--detect-every`` frames and the faces are tracked from the previous frame's landmarks
in between. ``--whole-image`` takes each whole image as one face instead (said once on
stderr). Each face's box and its source are recorded in landmarks.json. Writes
``OUT_DIR/landmarks.json`` and, unless ``--no-draw``, the drawn images under ``OUT_DIR/vis/``
(an image whose format cannot hold a colour drawing, e.g. ``.pgm``, is drawn as its name +
``.png``) or the drawn video ``OUT_DIR/<video>_landmarks.mp4``. ``OUT_DIR`` may not be the
input folder or inside it (the next run would read the drawings as input). A video that
stops decoding before the frame count its header states is said on stderr and recorded
under ``video`` in landmarks.json.
Videos can be smoothed over time (``--smooth``: One Euro filter per landmark), off by default.

The checkpoint must fit the config exactly (``--allow-partial`` loads what fits). Images are
refused when missing, empty, truncated, not images, under 16 px a side or over 150 Mpx. In a
folder, such images are skipped, listed under ``skipped`` in landmarks.json and on stderr,
and the exit status is 0 as long as one image was read; if none could be, it is 2. Any other
error exits with status 2. Every input (box file, boxes against the image sizes) is checked
before anything is written, and the run is written into a staged copy of ``OUT_DIR`` beside
it that replaces ``OUT_DIR`` in one step only when complete: a failed, interrupted or killed
run leaves ``OUT_DIR`` (a previous run's results included) as it was, and a second run
writing the same ``OUT_DIR`` meanwhile is refused.
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
from tqdm import tqdm

from aan_core.inference.temporal_smoothing import smooth_tracks
from aan_core.utils.atomic_io import atomic_write
from aan_core.utils.input_errors import AANInputError
from aan_core.utils.staged_folder import name_the_output, staged_folder

from ..inference import LandmarkPredictor, read_face_boxes
from ..inference.face_detection import DETECTORS
from ..inference.media_sources import (
    VIDEO_SUFFIXES,
    MediaError,
    check_boxes,
    check_output_outside_inputs,
    check_video_boxes,
    iter_images,
    iter_video,
    list_images,
    video_info,
)
from ..visualization import draw_faces, landmark_links, save_image
from .argument_types import non_negative_float, positive_float, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="[CONFIG CHECKPOINT] INPUT",
                        help="INPUT: an image, a folder of images, or a video; before it, "
                             "the MMPose config and checkpoint (.pth, loaded safely) of the "
                             "model; without them, the shipped model (docs/pretrained_model.md"
                             ", its sha256 checked)")
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
                        help="torch.compile the backbone: faster after ~1 min of "
                             "compilation (long videos, large folders; gains: "
                             "python -m bench.cpu_speed)")
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
                skipped: list[dict], video: dict | None) -> None:
    data = dict(config=str(args.config), checkpoint=str(args.checkpoint), input=str(args.input),
                num_keypoints=num_keypoints, coordinates="image pixels, 0-based (x, y)",
                smoothing=dict(filter="one_euro", min_cutoff=args.smooth_min_cutoff,
                               beta=args.smooth_beta) if args.smooth else None,
                faces_from=(f"box file {args.boxes}" if args.boxes else "whole image"
                            if args.whole_image else f"detector {args.detector}"),
                images=records, skipped=skipped)
    if video is not None:
        data["video"] = video
    # never a non-finite number: NaN is not JSON (the predictor refuses such landmarks)
    text = json.dumps(data, allow_nan=False)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


# Formats a colour drawing is written in; an image of another format (.pgm and .pbm hold
# grey levels only; a file read by its content, e.g. einstein.dat) is drawn as name + .png.
DRAWING_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp",
                    ".ppm", ".pnm")


def drawing_name(image: str) -> str:
    """The drawing of ``image`` under ``vis/``: its own name, or its name + ``.png`` when its
    format cannot hold a colour drawing (:data:`DRAWING_SUFFIXES`).

    Example:
        >>> drawing_name("a/face.jpg"), drawing_name("scan.pgm"), drawing_name("einstein.dat")
        ('a/face.jpg', 'scan.pgm.png', 'einstein.dat.png')
    """
    return image if Path(image).suffix.lower() in DRAWING_SUFFIXES else f"{image}.png"


def choose_model(args: argparse.Namespace) -> None:
    """``args.config``, ``args.checkpoint`` and ``args.input`` from the positional paths:
    ``INPUT`` alone takes the shipped model (its sha256 checked), ``CONFIG CHECKPOINT INPUT``
    the given one.

    Raises:
        AANInputError: two paths, or more than three; a shipped file missing or damaged.
    """
    paths = list(args.paths)
    if len(paths) == 1:
        from ..pretrained import DEFAULT_MODEL, pretrained_model

        model = pretrained_model(DEFAULT_MODEL)
        args.config, args.checkpoint = str(model.config), str(model.checkpoint)
    elif len(paths) == 3:
        args.config, args.checkpoint = paths[:2]
    else:
        raise AANInputError(f"give INPUT (the shipped model) or CONFIG CHECKPOINT INPUT, not "
                            f"{len(paths)} paths: {' '.join(paths)}")
    args.input = paths[-1]


def run(args: argparse.Namespace) -> None:
    choose_model(args)
    src, out = Path(args.input), Path(args.out)
    skipped: list[dict] = []
    boxes = read_face_boxes(args.boxes) if args.boxes else None
    is_video = src.is_file() and src.suffix.lower() in VIDEO_SUFFIXES
    if args.smooth and not is_video:
        raise MediaError(f"{src}: --smooth applies to videos only")
    if args.boxes and args.whole_image:
        raise AANInputError("--boxes and --whole-image exclude each other")
    # every input is checked before anything is written (a late error used to delete the
    # previous run's drawings on its way out)
    decoded: dict = {}
    if is_video:
        fps, total = video_info(src)
        check_video_boxes(src, boxes)
        items = iter_video(src, boxes, decoded)
    else:
        files = list_images(src)
        total = len(files)
        if not args.no_draw:  # landmarks.json alone is never read as an image
            check_output_outside_inputs(out, [src])
        if boxes is not None:
            check_boxes(boxes, [(src, files)])
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
    # the run is written into a fresh folder inside a staged copy of OUT, which replaces OUT
    # in one step when complete: a failed, interrupted or killed run leaves OUT as it was,
    # and a second run into the same OUT is refused while this one writes. The fresh folder
    # is needed because the copy's files are hard links to OUT's: a drawing written in place
    # would change OUT's file too, while moving a new file onto the link leaves OUT alone
    with staged_folder(out, "aan predict") as merged:
        for stale in merged.glob(".aan-predict.*.partial"):  # a killed earlier version's
            shutil.rmtree(stale)
        stage = Path(tempfile.mkdtemp(prefix=".aan-predict.", suffix=".partial", dir=merged))
        try:
            records = _write_outputs(args, src, stage, results, total, is_video,
                                     fps if is_video else None,
                                     landmark_links(predictor.model.dataset_meta,
                                                    predictor.num_keypoints))
            if not records and skipped:
                raise MediaError(f"{src}: none of its {len(skipped)} images could be read "
                                 f"(listed above)")
            _write_json(stage / "landmarks.json", args, records, predictor.num_keypoints,
                        skipped, decoded or None)
            _move_into(stage, merged)
        except BaseException as e:  # e.g. a full disk: name the file where it belongs
            name_the_output(e, stage, merged)
            raise
        shutil.rmtree(stage)
    faces = sum(len(r["faces"]) for r in records)
    no_box = sum(1 for r in records if not r["faces"]) if boxes is not None else 0
    print(f"aan predict: {faces} faces in {len(records)} "
          f"{'frames' if is_video else 'images'} -> {out / 'landmarks.json'}"
          + (f"; {no_box} {'frames' if is_video else 'images'} without a box in "
             f"{args.boxes} (no faces)" if no_box else "")
          + (f"; {len(skipped)} unreadable images skipped (listed there)" if skipped else ""))


def _move_into(stage: Path, out: Path) -> None:
    """Move the complete run from ``stage`` into ``out``: each file replaces the file of the
    same name (a previous run's), ``landmarks.json`` last; nothing else in ``out`` is
    touched. Every target is checked first, so a folder in a file's place fails before
    anything moves."""
    files = sorted((p for p in stage.rglob("*") if p.is_file()),
                   key=lambda p: p.name == "landmarks.json")
    for f in files:
        target = out / f.relative_to(stage)
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a folder, where this run writes a file",
                                    str(target))
        for parent in target.relative_to(out).parents:
            if (out / parent).is_file():
                raise NotADirectoryError(errno.ENOTDIR, "is a file, where this run writes a "
                                         "folder", str(out / parent))
    for f in files:
        target = out / f.relative_to(stage)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(f, target)


def _check_video(partial: Path, video_path: Path, frames: int) -> None:
    """OpenCV's video writer reports no error (a full disk truncates the file silently):
    the written video must read back with every frame."""
    cap = cv2.VideoCapture(str(partial))
    written = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
    cap.release()
    if written != frames:
        raise OSError(errno.EIO, f"the drawn video holds {written} of its {frames} frames "
                                 f"(is the disk full?)", str(video_path))


def _write_outputs(args, src: Path, out: Path, results, total: int, is_video: bool,
                   fps: float | None, links=()) -> list[dict]:
    """Draw and collect the results into ``out`` (the run's fresh folder); a video goes to a
    partial file renamed at the end. ``links``: the point pairs joined in the drawings."""
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
                               [f.keypoints for f in result.faces],
                               [None if f.detector_box is None else float(f.detector_box[4])
                                for f in result.faces], links)
            if is_video:
                if writer is None:
                    h, w = drawn.shape[:2]
                    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"),
                                             fps, (w, h))
                writer.write(drawn)
            else:
                save_image(out / "vis" / drawing_name(result.name), drawn)
        if writer is not None:
            writer.release()
            writer = None
            _check_video(partial, video_path, len(records))
            os.replace(partial, video_path)
    finally:
        if writer is not None:
            writer.release()
        if partial.exists():
            partial.unlink()
    return records
