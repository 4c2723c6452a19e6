"""``aan convert 300w``: iBUG 300W folders with ``.pts`` -> train / common / challenging / full.

Raw layout (the iBUG downloads of the four source sets, unpacked side by side)::

    RAW_DIR/afw/*.jpg + *.pts
    RAW_DIR/helen/{trainset,testset}/*.jpg + *.pts
    RAW_DIR/lfpw/{trainset,testset}/*.png + *.pts
    RAW_DIR/ibug/*.jpg + *.pts

Splits (paper Sec. 4.1): train = AFW + HELEN train + LFPW train (3,148); common = HELEN test
+ LFPW test (554); challenging = iBUG (135); full = common + challenging (689).

A partial download converts too: the folders present are converted, the absent ones named
once, and only the splits they form are written (train from the training folders present;
common needs both test sets; challenging and full need iBUG). Each json's ``info`` records
the sources it holds and lacks and whether it is the paper's split (``protocol``: ``300W``
or ``300W partial``); ``aan check`` and ``aan tables`` show it. A split file of an earlier
conversion into the same OUT_DIR that this one cannot form is removed.

Output: ``OUT_DIR/annotations/face_landmarks_300w_{train,common,challenging,full}.json`` and
``OUT_DIR/images`` (a link to RAW_DIR; file names are relative to it). Face box: the tight
box of the 68 points (``center``/``scale`` for MMPose's ``Face300WDataset``; the pipeline's
``GetBBoxCenterScale`` pads it by 1.25). Coordinates: ``.pts`` values minus 1 (1-based ->
0-based), unless ``--keep-pts-values``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tqdm import tqdm

from aan_core.evaluation.face_protocols import FACE300W_SOURCES, FACE300W_SPLIT_SOURCES

from .coco_face_json import CocoFaceJson, box_from_points, link_images, read_image_size
from .errors import ConversionError
from .face300w_protocol import (
    PAPER_COUNTS,
    SPLIT_FILE,
    formable_splits,
    split_info,
)
from .pts_format import PTS_ORIGIN, read_pts

__all__ = ["PAPER_COUNTS", "add_arguments", "convert", "find_sources"]

IMAGE_SUFFIXES = (".jpg", ".png", ".jpeg", ".JPG", ".PNG", ".JPEG")
KEYPOINT_NAMES = [f"kpt-{i}" for i in range(68)]
CONVERTER = "aan convert 300w"


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


def find_sources(raw_dir: Path) -> dict[str, list[Path]]:
    """``{source folder: its .pts files}`` for the 300W folders under ``raw_dir`` that hold
    any (a missing or empty folder is absent).

    Raises:
        ConversionError: ``raw_dir`` is not a folder, or holds none of the six sources.
    """
    if not raw_dir.is_dir():
        raise ConversionError(raw_dir, "not a folder (expected the unpacked 300W download)")
    found = {}
    for folder in FACE300W_SOURCES:
        files = sorted((raw_dir / folder).glob("*.pts")) if (raw_dir / folder).is_dir() else []
        if files:
            found[folder] = files
    if not found:
        raise ConversionError(raw_dir, f"no 300W source folder with .pts files under it "
                                       f"(expected some of {', '.join(FACE300W_SOURCES)})")
    return found


def _remove_stale_split(path: Path) -> bool:
    """Remove a split json an earlier run of this converter wrote; keep anything else."""
    try:
        info = json.loads(path.read_text()).get("info") or {}
    except (OSError, ValueError, AttributeError):
        return False
    if not isinstance(info, dict) or info.get("converter") != CONVERTER:
        return False
    path.unlink()
    return True


def convert(raw_dir: str | Path, out_dir: str | Path, keep_pts_values: bool = False) -> dict:
    """Convert the sources present; returns ``{split: count}`` of the splits written. Writes
    nothing unless every file is valid; prints one line naming the absent sources and the
    splits they leave out."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    offset = 0.0 if keep_pts_values else PTS_ORIGIN
    found = find_sources(raw_dir)
    present = {folder: len(files) for folder, files in found.items()}
    absent = [s for s in FACE300W_SOURCES if s not in found]
    formable = formable_splits(present)
    written = [split for split, why in formable.items() if why is None]
    if not written:  # e.g. helen/testset alone: checked before anything is written
        needs = "; ".join(f"{split} {why}" for split, why in formable.items())
        raise ConversionError(raw_dir, f"only {', '.join(found)} present: no split can be "
                                       f"formed ({needs})")
    info = dict(dataset="300W", converter=CONVERTER,
                coordinates="pts values unchanged (1-based)" if keep_pts_values else
                "0-based pixels (pts values - 1)", box="tight box of the 68 points",
                conversion=dict(sources_present=present, sources_absent=absent,
                                splits_written=written))
    faces: dict[str, list] = {folder: [] for folder in found}
    files = [(pts, folder) for folder, paths in found.items() for pts in paths]
    for pts, folder in tqdm(files, desc="300W", unit="face", mininterval=1.0):
        points = read_pts(pts, 68) - offset
        image = find_image(pts)
        faces[folder].append((image.relative_to(raw_dir).as_posix(), read_image_size(image),
                              points, pts))
    out: dict[str, CocoFaceJson] = {}
    for split in written:
        js = out[split] = CocoFaceJson(KEYPOINT_NAMES, dict(info, **split_info(split, present)))
        for folder in FACE300W_SPLIT_SOURCES[split]:
            for file_name, size, points, pts in faces.get(folder, []):
                js.add(file_name, size, points, [1] * 68, box_from_points(points), source=pts)
    link_images(raw_dir, out_dir)
    for split, js in out.items():
        js.write(out_dir / "annotations" / SPLIT_FILE.format(split))
    if absent:
        left_out = [f"{split} ({why})" for split, why in formable.items() if why]
        removed = [split for split in formable if split not in written and _remove_stale_split(
            out_dir / "annotations" / SPLIT_FILE.format(split))]
        print(f"aan convert 300w: absent from {raw_dir}: {', '.join(absent)}; not written: "
              f"{', '.join(left_out)}"
              + (f"; removed the earlier conversion's {', '.join(removed)}" if removed else ""))
    return {split: len(js) for split, js in out.items()}
