"""Fit the shipped box calibrations (``box_calibrations.json``): each face detector's boxes
mapped onto the landmark extent, the box convention of 300W and the synthetic faces
(:class:`~aan_components.inference.box_calibration.BoxCalibration`).

Two fits per detector, kept side by side in its entry:

- ``synthetic``: on synthetic faces (rendered at 256 px on a 512 px canvas, seed 3); the
  target is the extent of all 68 points, the synthetic training box;
- ``300w_train``: on the training faces of an ``aan convert 300w`` folder; the target is the
  landmark extent (the converter's box). The mean IoU of each fit's boxes with the landmark
  extent on the folder's common split then chooses the fit to ship; the other stays in the
  entry under ``other_fits`` (read by the bench, never at inference).

``aan calibrate`` (:mod:`aan_components.tools.calibrate`) runs the fits and is what writes
the shipped file; ``bench.real_faces`` reuses them to measure what each fit does to a model's
landmarks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from aan_core.utils.input_errors import AANInputError

from .box_calibration import (
    CALIBRATION_FILE,
    LANDMARK_EXTENT,
    BoxCalibration,
    landmark_extent_boxes,
)

__all__ = ["FACE300W_FIT", "MATCH_IOU", "SYNTHETIC_FIT", "as_calibration", "box_iou_stats",
           "calibration_entry", "calibration_fits", "choose_shipped_fit", "detect_matched",
           "fit_on_pairs", "iou", "load_300w_boxes", "match", "read_calibration_file",
           "refit_entry", "set_entry", "shipped_entry", "synthetic_fit"]

SYNTHETIC_FIT = "synthetic"
FACE300W_FIT = "300w_train"
MATCH_IOU = 0.3  # a detection is that face's when their IoU reaches this
SYNTHETIC_FITTED_ON = ("synthetic faces, seed 3, 256 px on a 512 px canvas; target: the extent "
                       "of all 68 points")

Box = np.ndarray
Pair = tuple[Box | None, Box]  # (the face's matched detection or None, its target box)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of one box ``a`` (4,) with each of ``b`` (N, 4+) (torchvision's ``box_iou``).

    Example:
        >>> iou(np.array([0, 0, 10, 10]), np.array([[0, 0, 10, 10], [5, 0, 15, 10]])).round(3)
        array([1.   , 0.333])
    """
    import torch
    from torchvision.ops import box_iou

    boxes = torch.as_tensor(np.asarray(b, np.float64).reshape(len(b), -1)[:, :4])
    return box_iou(torch.as_tensor(np.asarray(a, np.float64)[None, :4]), boxes)[0].numpy()


def match(truth: np.ndarray, detections: np.ndarray) -> np.ndarray | None:
    """The detection of the face whose ground-truth box is ``truth`` (best IoU, at least
    :data:`MATCH_IOU`), if any."""
    if len(detections) == 0:
        return None
    overlaps = iou(truth, detections)
    best = int(overlaps.argmax())
    return detections[best, :4] if overlaps[best] >= MATCH_IOU else None


def detect_matched(detector, faces: Sequence[tuple[Path, Box]], desc: str) -> list[Pair]:
    """Run ``detector`` once on each image of ``faces`` (``(image path, target box)``) with a
    progress bar; each face's ``(matched detection or None, target box)``."""
    import cv2
    from tqdm import tqdm

    images = sorted({path for path, _ in faces})
    found = {}
    for path in tqdm(images, desc=desc, unit="image", mininterval=30,
                     disable=len(images) < 100):
        image = cv2.imread(str(path))
        if image is None:
            raise AANInputError(f"{path}: not a readable image")
        found[path] = detector.detect(image)
    return [(match(box, found[path]), box) for path, box in faces]


def fit_on_pairs(pairs: Iterable[Pair]) -> BoxCalibration | None:
    """The calibration of the faces that have a detection (``None`` when none has)."""
    found = [(d, t) for d, t in pairs if d is not None]
    if not found:
        return None
    return BoxCalibration.fit(np.array([d for d, _ in found]), np.array([t for _, t in found]))


def synthetic_fit(detector, count: int, command: str) -> dict | None:
    """The ``synthetic`` fit of ``detector`` on ``count`` rendered faces, as its entry records
    it (``None`` when the detector finds none)."""
    from aan_core.data.synthetic_faces import render_synthetic_face

    pairs = []
    for i in range(count):
        face = render_synthetic_face(3, i, image_size=256)
        canvas = np.full((512, 512, 3), 127, np.uint8)
        canvas[128:384, 128:384] = face.image
        truth = landmark_extent_boxes(face.keypoints[None] + 128)[0]
        pairs.append((match(truth, detector.detect(canvas)), truth))
    cal = fit_on_pairs(pairs)
    if cal is None:
        return None
    return dict(cal.to_json(), fit=SYNTHETIC_FIT, faces=sum(d is not None for d, _ in pairs),
                rendered=count, fitted_on=SYNTHETIC_FITTED_ON, command=command)


def load_300w_boxes(root: Path, split: str) -> tuple[list[tuple[Path, Box]], dict]:
    """``(image path, landmark extent)`` of every face of one split of an ``aan convert
    300w`` folder, and the annotation file's ``info``.

    Raises:
        AANInputError: the split's annotation file is missing or unreadable (named).
    """
    path = Path(root) / "annotations" / f"face_landmarks_300w_{split}.json"
    try:
        data = json.loads(path.read_text())
        images = {im["id"]: im["file_name"] for im in data["images"]}
        faces = [(Path(root) / "images" / images[a["image_id"]],
                  landmark_extent_boxes(np.asarray(a["keypoints"], np.float64)
                                        .reshape(1, 68, 3)[..., :2])[0])
                 for a in data["annotations"]]
    except FileNotFoundError:
        raise AANInputError(f"{path}: not found (make it with `aan convert 300w RAW "
                            f"{root}`)") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise AANInputError(f"{path}: not a 300W annotation file ({e})") from None
    return faces, data.get("info") or {}


def box_iou_stats(pairs: Iterable[Pair], cal: BoxCalibration | None = None) -> dict:
    """Mean and median IoU with their targets of the (calibrated) detections."""
    values = [iou(t, d[None] if cal is None else cal.apply(d[None]))[0]
              for d, t in pairs if d is not None]
    return dict(faces=len(values), mean=float(np.mean(values)) if values else None,
                median=float(np.median(values)) if values else None)


def calibration_fits(entry: dict | None) -> tuple[dict[str, dict], str | None]:
    """``({fit name: entry}, shipped fit name)`` of one detector's entry in the file: the
    shipped fit and the ``other_fits`` kept beside it.

    Example:
        >>> fits, shipped = calibration_fits({"dx": 0.1, "fit": "synthetic",
        ...                                   "other_fits": {"300w_train": {"dx": 0.2}}})
        >>> shipped, sorted(fits)
        ('synthetic', ['300w_train', 'synthetic'])
    """
    if not entry:
        return {}, None
    shipped = {k: v for k, v in entry.items() if k != "other_fits"}
    return {shipped["fit"]: shipped, **(entry.get("other_fits") or {})}, shipped["fit"]


def calibration_entry(fits: dict[str, dict], shipped: str) -> dict:
    """The file's entry: the shipped fit's values, the others under ``other_fits``."""
    others = {k: v for k, v in fits.items() if k != shipped}
    return dict(fits[shipped], **({"other_fits": others} if others else {}))


def choose_shipped_fit(mean_iou: dict[str, float | None], shipped: str | None) -> str:
    """The fit to ship: the higher mean IoU on 300W common; a tie (or no IoU) keeps the
    shipped one."""
    return max(mean_iou, key=lambda k: (-1.0 if mean_iou[k] is None else mean_iou[k],
                                        k == shipped))


def as_calibration(fit: dict) -> BoxCalibration:
    return BoxCalibration(*(float(fit[c]) for c in ("dx", "dy", "sx", "sy")))


def refit_entry(entry: dict | None, new_fits: dict[str, dict],
                common: list[Pair] | None = None
                ) -> tuple[dict[str, dict], str | None, dict[str, dict]]:
    """One detector's fits after ``new_fits``: ``(fits, shipped fit, IoU on common per
    fit)``. With ``common`` (each 300W common face's detection and landmark extent) every
    fit records its mean IoU there (``iou_300w_common``), and with a ``300w_train`` fit
    the one of higher IoU ships; otherwise the shipped fit stays (a first fit ships)."""
    fits, shipped = calibration_fits(entry)
    fits.update(new_fits)
    shipped = shipped or next(iter(new_fits), None)
    on_common = {}
    if common is not None:
        on_common = {k: box_iou_stats(common, as_calibration(f)) for k, f in fits.items()}
        for k, stats in on_common.items():
            fits[k]["iou_300w_common"] = (None if stats["mean"] is None
                                          else round(stats["mean"], 4))
        if FACE300W_FIT in new_fits:
            shipped = choose_shipped_fit({k: s["mean"] for k, s in on_common.items()}, shipped)
    return fits, shipped, on_common


def read_calibration_file(path: Path = CALIBRATION_FILE) -> dict:
    """A calibration file's content (``{"format": 1, "calibrations": {}}`` when absent).

    Raises:
        AANInputError: the file is not a calibration file (named).
    """
    path = Path(path)
    if not path.exists():
        return {"format": 1, "calibrations": {}}
    try:
        content = json.loads(path.read_text())
        if not isinstance(content.get("calibrations"), dict):
            raise ValueError("no 'calibrations' table")
    except (ValueError, AttributeError) as e:
        raise AANInputError(f"{path}: not a box calibration file ({e})") from None
    return content


def shipped_entry(content: dict, detector: str) -> dict | None:
    """``detector``'s landmark-extent entry in a calibration file's content."""
    return content["calibrations"].get(detector, {}).get(LANDMARK_EXTENT)


def set_entry(content: dict, detector: str, fits: dict[str, dict], shipped: str) -> None:
    content["calibrations"].setdefault(detector, {})[LANDMARK_EXTENT] = \
        calibration_entry(fits, shipped)
