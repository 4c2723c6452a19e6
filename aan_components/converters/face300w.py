"""``aan convert 300w``: iBUG 300W folders with ``.pts`` -> train / common / challenging / full.

Raw layout (the iBUG downloads of the four source sets, unpacked side by side)::

    RAW_DIR/afw/*.jpg + *.pts
    RAW_DIR/helen/{trainset,testset}/*.jpg + *.pts
    RAW_DIR/lfpw/{trainset,testset}/*.png + *.pts
    RAW_DIR/ibug/*.jpg + *.pts

Splits (paper Sec. 4.1): train = AFW + HELEN train + LFPW train (3,148); common = HELEN test
+ LFPW test (554); challenging = iBUG (135); full = common + challenging (689).

Output: ``OUT_DIR/annotations/face_landmarks_300w_{train,common,challenging,full}.json`` and
``OUT_DIR/images`` (a link to RAW_DIR; file names are relative to it). Face box: the tight
box of the 68 points (``center``/``scale`` for MMPose's ``Face300WDataset``; the pipeline's
``GetBBoxCenterScale`` pads it by 1.25). Coordinates: ``.pts`` values minus 1 (1-based ->
0-based), unless ``--keep-pts-values``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from aan_core.face_protocols import FACE300W_SOURCES

from .coco_face_json import CocoFaceJson, box_from_points, link_images, read_image_size
from .errors import ConversionError
from .pts_format import PTS_ORIGIN, read_pts

SPLITS = {"train": ("train",), "common": ("common",), "challenging": ("challenging",),
          "full": ("common", "challenging")}
PAPER_COUNTS = {"train": 3148, "common": 554, "challenging": 135, "full": 689}
IMAGE_SUFFIXES = (".jpg", ".png", ".jpeg", ".JPG", ".PNG", ".JPEG")
KEYPOINT_NAMES = [f"kpt-{i}" for i in range(68)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep-pts-values", action="store_true",
                        help="write the .pts values unchanged (1-based, as MMPose's released "
                             "300W json) instead of 0-based pixel coordinates")


def find_image(pts: Path) -> Path:
    for suffix in IMAGE_SUFFIXES:
        candidate = pts.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    raise ConversionError(pts, f"no image next to it (looked for {pts.stem}"
                               f"{{{','.join(s for s in IMAGE_SUFFIXES if s.islower())}}})")


def convert(raw_dir: str | Path, out_dir: str | Path, keep_pts_values: bool = False) -> dict:
    """Convert; returns ``{split: count}``. Writes nothing unless every file is valid."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    offset = 0.0 if keep_pts_values else PTS_ORIGIN
    missing = [s for s in FACE300W_SOURCES if not (raw_dir / s).is_dir()]
    if missing:
        raise ConversionError(raw_dir / missing[0], "folder not found; 300W expects "
                              f"{', '.join(FACE300W_SOURCES)} under {raw_dir}")
    files = [(pts, part) for folder, part in FACE300W_SOURCES.items()
             for pts in sorted((raw_dir / folder).glob("*.pts"))]
    if not files:
        raise ConversionError(raw_dir, "no .pts files in the 300W folders")
    info = dict(dataset="300W", converter="aan convert 300w",
                coordinates="pts values unchanged (1-based)" if keep_pts_values else
                "0-based pixels (pts values - 1)", box="tight box of the 68 points")
    parts = {p: [] for p in ("train", "common", "challenging")}
    for pts, part in tqdm(files, desc="300W", unit="face", mininterval=1.0):
        points = read_pts(pts, 68) - offset
        image = find_image(pts)
        parts[part].append((image.relative_to(raw_dir).as_posix(), read_image_size(image),
                            points, pts))
    out: dict[str, CocoFaceJson] = {}
    for split, members in SPLITS.items():
        js = out[split] = CocoFaceJson(KEYPOINT_NAMES, dict(info, split=split))
        for part in members:
            for file_name, size, points, pts in parts[part]:
                js.add(file_name, size, points, [1] * 68, box_from_points(points), source=pts)
    link_images(raw_dir, out_dir)
    for split, js in out.items():
        js.write(out_dir / "annotations" / f"face_landmarks_300w_{split}.json")
    return {split: len(js) for split, js in out.items()}
