"""``aan convert celeba``: CelebA's in-the-wild landmark, box and partition lists -> train /
test with 5 points.

Raw layout (as CelebA's download unpacks; each path can be given explicitly)::

    RAW_DIR/Anno/list_landmarks_celeba.txt   # in-the-wild coordinates (not the _align_ file)
    RAW_DIR/Anno/list_bbox_celeba.txt
    RAW_DIR/Eval/list_eval_partition.txt     # 0 train, 1 val, 2 test
    RAW_DIR/Img/img_celeba/000001.jpg ...

Splits ("follow the original work"): train = partitions 0 + 1 (162,770 + 19,867), test =
partition 2 (19,962). Points in the file's column order: left eye, right eye, nose, left
mouth corner, right mouth corner (``aan_components/datasets/celeba_metainfo.py``).
Coordinates: CelebA's integers, unchanged (CelebA documents no origin; its boxes and
points share one convention). Box: ``x_1 y_1 width height`` from the box list.
Output: ``OUT_DIR/annotations/face_landmarks_celeba_{train,test}.json`` and
``OUT_DIR/images`` (a link to the image folder).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .coco_face_json import CocoFaceJson, link_images, read_image_size
from .errors import ConversionError

KEYPOINT_NAMES = ["left_eye", "right_eye", "nose", "left_mouth", "right_mouth"]
PAPER_COUNTS = {"train": 182632, "test": 19926}
SPLIT_OF_PARTITION = {0: "train", 1: "train", 2: "test"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--landmarks", help="list_landmarks_celeba.txt (default: found in "
                                            "RAW_DIR or RAW_DIR/Anno)")
    parser.add_argument("--bbox", help="list_bbox_celeba.txt (default: RAW_DIR[/Anno])")
    parser.add_argument("--partition", help="list_eval_partition.txt (default: RAW_DIR[/Eval])")
    parser.add_argument("--image-dir", help="the in-the-wild images (default: "
                                            "RAW_DIR/Img/img_celeba or RAW_DIR/img_celeba)")


def _find(raw_dir: Path, given: str | None, candidates: list[str], what: str) -> Path:
    if given:
        return Path(given)
    for c in candidates:
        if (raw_dir / c).exists():
            return raw_dir / c
    raise ConversionError(raw_dir, f"{what} not found (looked for {', '.join(candidates)}); "
                                   f"pass its path explicitly")


def _read_table(path: Path, columns: int, header_lines: int) -> list[tuple[int, list[str]]]:
    """Rows ``(line_number, fields)`` of a whitespace table, each with ``columns`` fields."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConversionError(path, f"cannot read as text: {e}") from e
    if header_lines:
        if len(lines) < header_lines:
            raise ConversionError(path, f"expected {header_lines} header lines (count, column "
                                        f"names), the file has {len(lines)} lines")
        try:
            declared = int(lines[0].strip())
        except ValueError:
            raise ConversionError(path, f"first line must be the number of rows, got "
                                        f"{lines[0].strip()!r}", line=1) from None
    rows = []
    for i, line in enumerate(lines[header_lines:], header_lines + 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != columns:
            raise ConversionError(path, f"expected {columns} fields, got {len(fields)}: "
                                        f"{line.strip()!r}", line=i)
        rows.append((i, fields))
    if header_lines and declared != len(rows):
        raise ConversionError(path, f"first line declares {declared} rows, the file has "
                                    f"{len(rows)}", line=1)
    return rows


def _numbers(path: Path, line: int, fields: list[str]) -> np.ndarray:
    try:
        values = np.array([float(f) for f in fields], np.float64)
    except ValueError:
        raise ConversionError(path, f"non-numeric value in {' '.join(fields)!r}",
                              line=line) from None
    if not np.isfinite(values).all():
        raise ConversionError(path, f"non-finite value in {' '.join(fields)!r}", line=line)
    return values


def _by_image(path: Path, rows, parse) -> dict[str, tuple[int, object]]:
    out: dict[str, tuple[int, object]] = {}
    for line, fields in rows:
        name = fields[0]
        if not name.lower().endswith((".jpg", ".png")):
            raise ConversionError(path, f"bad image id {name!r} (expected e.g. 000001.jpg)",
                                  line=line)
        if name in out:
            raise ConversionError(path, f"image {name} listed twice (first on line "
                                        f"{out[name][0]})", line=line)
        out[name] = (line, parse(line, fields[1:]))
    return out


def convert(raw_dir: str | Path, out_dir: str | Path, landmarks: str | None = None,
            bbox: str | None = None, partition: str | None = None,
            image_dir: str | None = None) -> dict:
    """Convert; returns ``{split: count}``. Writes nothing unless every row is valid."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    lm_path = _find(raw_dir, landmarks, ["Anno/list_landmarks_celeba.txt",
                                         "list_landmarks_celeba.txt"], "landmark list")
    box_path = _find(raw_dir, bbox, ["Anno/list_bbox_celeba.txt", "list_bbox_celeba.txt"],
                     "box list")
    part_path = _find(raw_dir, partition, ["Eval/list_eval_partition.txt",
                                           "list_eval_partition.txt"], "partition list")
    images = _find(raw_dir, image_dir, ["Img/img_celeba", "img_celeba"], "image folder")
    if lm_path.name.startswith("list_landmarks_align"):
        raise ConversionError(lm_path, "these are the aligned-image landmarks; the protocol "
                                       "uses the in-the-wild list_landmarks_celeba.txt")
    lms = _by_image(lm_path, _read_table(lm_path, 11, 2),
                    lambda line, f: _numbers(lm_path, line, f).reshape(5, 2))
    boxes = _by_image(box_path, _read_table(box_path, 5, 2),
                      lambda line, f: _numbers(box_path, line, f))

    def parse_partition(line, f):
        if f[0] not in ("0", "1", "2"):
            raise ConversionError(part_path, f"partition must be 0, 1 or 2, got {f[0]!r}",
                                  line=line)
        return int(f[0])

    parts = _by_image(part_path, _read_table(part_path, 2, 0), parse_partition)
    for name, (line, _) in parts.items():
        for other, table in ((lm_path, lms), (box_path, boxes)):
            if name not in table:
                raise ConversionError(part_path, f"image {name} is not in {other.name}",
                                      line=line)
    for other, table in ((lm_path, lms), (box_path, boxes)):
        extra = [n for n in table if n not in parts]
        if extra:
            raise ConversionError(other, f"image {extra[0]} (and {len(extra) - 1} more) not in "
                                         f"{part_path.name}", line=table[extra[0]][0])
    meta = dict(dataset="CelebA (5 points, in the wild)", converter="aan convert celeba",
                coordinates="CelebA values unchanged", splits="train = partitions 0+1")
    out = {s: CocoFaceJson(KEYPOINT_NAMES, dict(meta, split=s)) for s in ("train", "test")}
    for name, (_, part) in tqdm(sorted(parts.items()), desc="CelebA", unit="face",
                                   mininterval=1.0):
        x, y, w, h = boxes[name][1]
        out[SPLIT_OF_PARTITION[part]].add(
            name, read_image_size(images / name), lms[name][1], np.ones(5),
            np.array([x, y, x + w, y + h]), source=f"{box_path}: line {boxes[name][0]}")
    link_images(images, out_dir)
    for split, js in out.items():
        js.write(out_dir / "annotations" / f"face_landmarks_celeba_{split}.json")
    return {split: len(js) for split, js in out.items()}
