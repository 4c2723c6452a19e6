"""``aan convert aflw``: ``AFLWinfo_release.mat`` (19-point protocol) -> train / test /
test_frontal.

Raw input: the AFLW images (``RAW_DIR/flickr/{0,2,3}/*.jpg``, or ``--image-dir``) and the
widely used ``AFLWinfo_release.mat`` (``RAW_DIR/AFLWinfo_release.mat``, or ``--mat``) of
Zhu et al. (CCL, CVPR 2016) with the fields:

- ``nameList`` (N x 1 cell): image path relative to the image folder;
- ``data`` (N x 38): the 19 x coordinates, then the 19 y coordinates (21 AFLW points
  minus the two ears), 1-based as MATLAB's;
- ``mask_new`` (N x 19): 1 labelled, 0 missing;
- ``bbox`` (N x 4): the face box as ``x1 x2 y1 y2``;
- ``ra`` (1 x N): a permutation of 1..N; the first 20,000 are the training faces, the
  other 4,386 the test faces.

Output: ``OUT_DIR/annotations/face_landmarks_aflw_{train,test,test_frontal}.json`` and
``OUT_DIR/images`` (a link to the image folder). Missing points get visibility 0 (weight 0
in training, left out of the NME), never (0, 0) targets. ``box_size`` (the normalisation of
AFLW's NME) is ``sqrt(w * h)`` of the ``bbox``; ``center``/``scale`` come from the same box.
``test_frontal``: AFLW-Frontal, by one of two definitions computed from the ``.mat``
(``--frontal``):

- ``all-labelled`` (default, the common one): test faces with all 19 points labelled, as
  FaRL's AFLW-19 loader selects them;
- ``inside-box``: also every point strictly inside the ``.mat`` box, as SAN's
  ``aflw_from_mat.py`` selects them.

Papers on this split (CCL, SAN) report 1,165 frontal test faces; HRNet ships its own list of
1,314 (its ``face_landmarks_aflw_test_frontal`` file; MMPose's json of it can be given to the
config as is), which no rule on the ``.mat`` reproduces. The converter prints the count it
gets; it is not measured here (no AFLW data on this project's machine).
Coordinates: minus 1 (MATLAB's 1-based -> 0-based), unless ``--keep-mat-values``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .coco_face_json import CocoFaceJson, link_images, read_image_size
from .errors import ConversionError

NUM_POINTS = 19
NUM_TRAIN = 20000
PAPER_COUNTS = {"train": 20000, "test": 4386}
KEYPOINT_NAMES = [f"kpt-{i}" for i in range(NUM_POINTS)]
FRONTAL_DEFINITIONS = {
    "all-labelled": "test faces with all 19 points labelled (FaRL's definition)",
    "inside-box": "test faces with all 19 points labelled and strictly inside the box "
                  "(SAN's definition)",
}


def is_frontal(mask: np.ndarray, points: np.ndarray, box_x1x2y1y2: np.ndarray,
               definition: str) -> bool:
    """Whether one face is AFLW-Frontal under ``definition`` (see FRONTAL_DEFINITIONS)."""
    if mask.sum() != NUM_POINTS:
        return False
    if definition == "all-labelled":
        return True
    x1, x2, y1, y2 = box_x1x2y1y2
    x, y = points[:, 0], points[:, 1]
    return bool(((x > x1) & (x < x2) & (y > y1) & (y < y2)).all())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mat", help="path of AFLWinfo_release.mat "
                                      "(default: RAW_DIR/AFLWinfo_release.mat)")
    parser.add_argument("--image-dir", help="folder the nameList paths are relative to "
                                            "(default: RAW_DIR/flickr if present, else RAW_DIR)")
    parser.add_argument("--num-train", type=int, default=NUM_TRAIN,
                        help="faces of the ra permutation used for training (default 20000)")
    parser.add_argument("--keep-mat-values", action="store_true",
                        help="write the .mat coordinates unchanged (1-based)")
    parser.add_argument("--frontal", choices=tuple(FRONTAL_DEFINITIONS), default="all-labelled",
                        help="which test faces are AFLW-Frontal: all 19 points labelled "
                             "(default, FaRL's) or also all inside the box (SAN's)")


def _field(mat: dict, name: str, path: Path, shape_hint: str) -> np.ndarray:
    if name not in mat:
        raise ConversionError(path, f"missing (expected {shape_hint}); fields present: "
                                    f"{sorted(k for k in mat if not k.startswith('__'))}",
                              field=name)
    return mat[name]


def _names(raw, path: Path) -> list[str]:
    names = []
    for i, entry in enumerate(np.asarray(raw, dtype=object).reshape(-1)):
        value = entry
        while isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
            value = value.reshape(-1)[0]
        if isinstance(value, np.ndarray) and value.dtype.kind == "U" and value.size == 1:
            value = str(value.reshape(-1)[0])
        if not isinstance(value, str) or not value:
            raise ConversionError(path, f"entry {i + 1} is not a file name: {entry!r}",
                                  field="nameList")
        names.append(value)
    return names


def load_aflw_mat(path: str | Path) -> dict[str, np.ndarray | list]:
    """Read and check ``AFLWinfo_release.mat``; returns names, points (N,19,2, as stored),
    mask (N,19), boxes (N,4 as x1 x2 y1 y2) and ra (N, 0-based)."""
    from scipy.io import loadmat

    path = Path(path)
    if not path.is_file():
        raise ConversionError(path, "AFLW annotation file not found")
    try:
        mat = loadmat(path)
    except Exception as e:  # scipy raises several types for non-.mat or v7.3 files
        raise ConversionError(path, f"not a readable MATLAB v5 .mat file: {e}") from e
    names = _names(_field(mat, "nameList", path, "N x 1 cell of image paths"), path)
    n = len(names)

    def numeric(name: str, cols: int, hint: str) -> np.ndarray:
        a = _field(mat, name, path, hint)
        if not np.issubdtype(np.asarray(a).dtype, np.number) or np.asarray(a).shape != (n, cols):
            raise ConversionError(path, f"expected a numeric {n} x {cols} array ({hint}), got "
                                        f"{np.asarray(a).dtype} {np.asarray(a).shape}",
                                  field=name)
        return np.asarray(a, np.float64)

    data = numeric("data", 2 * NUM_POINTS, "19 x then 19 y coordinates per face")
    mask = numeric("mask_new", NUM_POINTS, "1 labelled / 0 missing per point")
    boxes = numeric("bbox", 4, "x1 x2 y1 y2 per face")
    ra = np.asarray(_field(mat, "ra", path, "1 x N permutation of 1..N")).reshape(-1)
    if ra.size != n or not np.array_equal(np.sort(ra), np.arange(1, n + 1)):
        raise ConversionError(path, f"expected a permutation of 1..{n} (1-based face indices)",
                              field="ra")
    points = np.stack([data[:, :NUM_POINTS], data[:, NUM_POINTS:]], -1)
    return dict(names=names, points=points, mask=mask, boxes=boxes,
                ra=ra.astype(np.int64) - 1)


def convert(raw_dir: str | Path, out_dir: str | Path, mat: str | None = None,
            image_dir: str | None = None, num_train: int = NUM_TRAIN,
            keep_mat_values: bool = False, frontal: str = "all-labelled") -> dict:
    """Convert; returns ``{split: count}``. Writes nothing unless every face is valid."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    mat_path = Path(mat) if mat else raw_dir / "AFLWinfo_release.mat"
    if image_dir:
        images = Path(image_dir)
    else:
        images = raw_dir / "flickr" if (raw_dir / "flickr").is_dir() else raw_dir
    info = load_aflw_mat(mat_path)
    n = len(info["names"])
    if not 0 < num_train < n:
        raise ConversionError(mat_path, f"--num-train {num_train} must be in 1..{n - 1} for "
                                        f"{n} faces", field="ra")
    offset = 0.0 if keep_mat_values else 1.0
    if frontal not in FRONTAL_DEFINITIONS:
        raise ConversionError(mat_path, f"--frontal must be one of {sorted(FRONTAL_DEFINITIONS)}"
                                        f", got {frontal!r}")
    meta = dict(dataset="AFLW (19 points)", converter="aan convert aflw",
                coordinates="mat values unchanged (1-based)" if keep_mat_values else
                "0-based pixels (mat values - 1)", box_size="sqrt(w * h) of bbox",
                frontal=FRONTAL_DEFINITIONS[frontal])
    out = {s: CocoFaceJson(KEYPOINT_NAMES, dict(meta, split=s))
           for s in ("train", "test", "test_frontal")}
    sizes: dict[str, tuple[int, int]] = {}
    for rank, i in enumerate(tqdm(info["ra"], desc="AFLW", unit="face", mininterval=1.0)):
        name = info["names"][i]
        source = f"{mat_path} (face {i + 1}, {name})"
        if name not in sizes:
            sizes[name] = read_image_size(images / name)
        mask = info["mask"][i]
        if not np.isin(mask, (0, 1)).all():
            raise ConversionError(source, f"values must be 0 or 1, got {mask.tolist()}",
                                  field="mask_new")
        x1, x2, y1, y2 = info["boxes"][i] - offset
        box = np.array([x1, y1, x2, y2])
        box_size = float(np.sqrt(max(x2 - x1, 0) * max(y2 - y1, 0)))
        points = info["points"][i] - offset
        splits = ["train"] if rank < num_train else \
            ["test", "test_frontal"] if is_frontal(mask, points, info["boxes"][i] - offset,
                                                   frontal) else ["test"]
        for split in splits:
            out[split].add(name, sizes[name], points, mask, box, source=source,
                           box_size=box_size)
    link_images(images, out_dir)
    for split, js in out.items():
        js.write(out_dir / "annotations" / f"face_landmarks_aflw_{split}.json")
    return {split: len(js) for split, js in out.items()}
