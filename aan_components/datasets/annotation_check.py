"""Check an MMPose COCO-style face-landmark json before training on it."""

from __future__ import annotations

import math
import os
from pathlib import Path

from aan_core.utils.input_errors import AANInputError
from aan_core.utils.json_input import read_json

__all__ = ["AnnotationError", "check_face_annotations"]


class AnnotationError(AANInputError):
    """A malformed annotation file; the message names the file, the entry and the field."""


def _numbers(value, n: int | None) -> bool:
    return (isinstance(value, list) and (n is None or len(value) == n)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))


def check_face_annotations(path: str | os.PathLike, num_keypoints: int | None = None,
                           image_dir: str | os.PathLike | None = None) -> dict:
    """Check the json MMPose's face datasets read; returns ``{"images": n, "faces": n,
    "num_keypoints": K}``, with the file's ``info`` object (a converter's record of what the
    file holds) under ``"info"`` when it has one.

    Checked: valid JSON; ``images`` and ``annotations`` lists; every image has ``id`` and
    ``file_name``; every annotation has ``image_id`` (of a listed image) and ``keypoints``
    with ``3 * K`` finite numbers (visibility 0, 1 or 2), K the same in every annotation and
    equal to ``num_keypoints`` when given; a face box, as ``bbox`` (x, y, w, h with w, h > 0)
    or as ``center`` + ``scale`` (> 0); with ``image_dir``, that each image file exists.

    Raises:
        AnnotationError: naming the file, the entry (``annotations[i]``, with its id) and the
            field.
    """
    path = Path(path)
    data = read_json(path, AnnotationError)
    if not isinstance(data, dict):
        raise AnnotationError(f"{path}: expected a JSON object with 'images' and 'annotations'")
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            raise AnnotationError(f"{path}: field {key!r}: missing or not a list")
    image_ids = {}
    for i, im in enumerate(data["images"]):
        where = f"{path}: images[{i}]"
        if not isinstance(im, dict):
            raise AnnotationError(f"{where}: not an object")
        for key in ("id", "file_name"):
            if key not in im:
                raise AnnotationError(f"{where}: field {key!r}: missing")
        image_ids[im["id"]] = im
        if image_dir is not None and not (Path(image_dir) / im["file_name"]).is_file():
            raise AnnotationError(f"{where}: field 'file_name': {im['file_name']!r} not found "
                                  f"in {image_dir}")
    k = num_keypoints
    for i, ann in enumerate(data["annotations"]):
        where = f"{path}: annotations[{i}] (id {ann.get('id', '?')})" if isinstance(ann, dict) \
            else f"{path}: annotations[{i}]"
        if not isinstance(ann, dict):
            raise AnnotationError(f"{where}: not an object")
        for key in ("image_id", "keypoints"):
            if key not in ann:
                raise AnnotationError(f"{where}: field {key!r}: missing")
        if ann["image_id"] not in image_ids:
            raise AnnotationError(f"{where}: field 'image_id': {ann['image_id']!r} is not the "
                                  f"id of any entry of 'images'")
        kpts = ann["keypoints"]
        if not _numbers(kpts, None) or len(kpts) % 3:
            raise AnnotationError(f"{where}: field 'keypoints': expected a list of x, y, v "
                                  f"numbers (a multiple of 3), got {str(kpts)[:80]}")
        if k is None:
            k = len(kpts) // 3
        if len(kpts) != 3 * k:
            raise AnnotationError(
                f"{where}: field 'keypoints': {len(kpts)} values = {len(kpts) // 3} points, "
                f"expected {k} points ({3 * k} values)"
                + (" as the model's num_joints" if num_keypoints else " as the first annotation"))
        if not all(math.isfinite(v) for v in kpts):
            raise AnnotationError(f"{where}: field 'keypoints': non-finite value (NaN/inf)")
        if any(v not in (0, 1, 2) for v in kpts[2::3]):
            raise AnnotationError(f"{where}: field 'keypoints': visibility values must be 0, 1 "
                                  f"or 2, got {sorted(set(kpts[2::3]))[:5]}")
        if "bbox" in ann:
            box = ann["bbox"]
            if not _numbers(box, 4) or not all(math.isfinite(v) for v in box):
                raise AnnotationError(f"{where}: field 'bbox': expected 4 finite numbers "
                                      f"x, y, w, h, got {box}")
            if box[2] <= 0 or box[3] <= 0:
                raise AnnotationError(f"{where}: field 'bbox': width and height must be > 0, "
                                      f"got {box} (x, y, w, h)")
        elif "center" in ann and "scale" in ann:
            if not _numbers(ann["center"], 2):
                raise AnnotationError(f"{where}: field 'center': expected 2 numbers")
            scale = ann["scale"]
            scale = scale[0] if isinstance(scale, list) and scale else scale
            if not isinstance(scale, (int, float)) or not scale > 0:
                raise AnnotationError(f"{where}: field 'scale': must be a number > 0, "
                                      f"got {ann['scale']}")
        else:
            raise AnnotationError(f"{where}: field 'bbox': missing (nor 'center' + 'scale')")
    summary = {"images": len(image_ids), "faces": len(data["annotations"]), "num_keypoints": k}
    if isinstance(data.get("info"), dict):
        summary["info"] = data["info"]
    return summary
