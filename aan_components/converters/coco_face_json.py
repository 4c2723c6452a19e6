"""Build and write MMPose's COCO-style face-landmark json (one face per annotation)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aan_core.utils.atomic_io import atomic_write
from aan_core.utils.image_file import check_image_decodes
from aan_core.utils.input_errors import UnreadableImageError

from .errors import ConversionError

__all__ = ["CocoFaceJson", "PIXEL_STD", "box_from_points", "link_images", "read_image_size"]

# MMPose's face datasets (Face300WDataset, AFLWDataset, Face300VWDataset) read ``center`` and
# ``scale`` (in units of 200 px) rather than ``bbox``.
PIXEL_STD = 200.0


def read_image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of an image that decodes completely, as the training loader will
    read it: a converter checks what it converts (an image cut short behind an intact
    header passed a header-only check).

    Raises:
        ConversionError: the image is missing, empty, not an image, truncated or corrupt, or
            outside the loader's size limits.
    """
    try:
        return check_image_decodes(path)
    except UnreadableImageError as e:
        raise ConversionError(e.path, e.problem) from None


def box_from_points(points: np.ndarray, visible: np.ndarray | None = None) -> np.ndarray:
    """Tight ``(x1, y1, x2, y2)`` box of the (visible) points."""
    pts = points if visible is None else points[np.asarray(visible) > 0]
    if len(pts) == 0:
        pts = points
    return np.array([*pts.min(0), *pts.max(0)], np.float64)


class CocoFaceJson:
    """Accumulates images and one-face annotations, then writes the json atomically.

    Args:
        keypoint_names: Names of the points, in order (written to ``categories``).
        info: Provenance written under ``info`` (converter, coordinate convention...).
    """

    def __init__(self, keypoint_names: Sequence[str], info: dict | None = None) -> None:
        self.keypoint_names = list(keypoint_names)
        self.info = dict(info or {})
        self.images: list[dict] = []
        self.annotations: list[dict] = []

    def __len__(self) -> int:
        return len(self.annotations)

    def add(self, file_name: str, image_size: tuple[int, int], keypoints: np.ndarray,
            visible: np.ndarray, box_xyxy: np.ndarray, *, source: str | os.PathLike,
            box_size: float | None = None) -> None:
        """Add one image with one face.

        Args:
            file_name: Image path relative to the dataset's image folder.
            image_size: ``(width, height)``.
            keypoints: :math:`(K, 2)`, 0-based pixel coordinates.
            visible: :math:`(K,)`, 1 visible/labelled, 0 missing (weight 0 in training).
            box_xyxy: Face box ``(x1, y1, x2, y2)``.
            source: The raw file the annotation came from (named in errors).
            box_size: Normalisation size written as ``box_size`` (AFLW protocol).

        Raises:
            ConversionError: wrong point count, non-finite values, or a box that is empty
                or lies outside the image.
        """
        k = len(self.keypoint_names)
        keypoints = np.asarray(keypoints, np.float64)
        if keypoints.shape != (k, 2):
            raise ConversionError(source, f"expected {k} points, got array of shape "
                                          f"{keypoints.shape}", field="keypoints")
        visible = np.asarray(visible, np.float64).reshape(-1)
        if not np.isfinite(keypoints[visible > 0]).all():
            raise ConversionError(source, "non-finite landmark coordinate", field="keypoints")
        keypoints = np.where(visible[:, None] > 0, keypoints, 0.0)
        x1, y1, x2, y2 = (float(v) for v in box_xyxy)
        w, h = image_size
        if not all(np.isfinite([x1, y1, x2, y2])) or x2 <= x1 or y2 <= y1:
            raise ConversionError(source, f"empty or invalid face box {[x1, y1, x2, y2]}",
                                  field="bbox")
        if x2 <= 0 or y2 <= 0 or x1 >= w or y1 >= h:
            raise ConversionError(source, f"face box {[round(v, 1) for v in (x1, y1, x2, y2)]}"
                                          f" lies outside the {w}x{h} image", field="bbox")
        image_id = len(self.images)
        self.images.append(dict(id=image_id, file_name=file_name, width=int(w), height=int(h)))
        flat = np.concatenate([keypoints, (visible > 0)[:, None] * 2.0], 1)  # COCO v=2 labelled
        ann = dict(
            id=image_id, image_id=image_id, category_id=1, iscrowd=0,
            bbox=[round(x1, 3), round(y1, 3), round(x2 - x1, 3), round(y2 - y1, 3)],
            area=round((x2 - x1) * (y2 - y1), 3),
            center=[round((x1 + x2) / 2, 3), round((y1 + y2) / 2, 3)],
            scale=round(max(x2 - x1, y2 - y1) / PIXEL_STD, 5),
            keypoints=[round(float(v), 3) for v in flat.reshape(-1)],
            num_keypoints=int((visible > 0).sum()),
        )
        if box_size is not None:
            ann["box_size"] = round(float(box_size), 3)
        self.annotations.append(ann)

    def to_dict(self) -> dict:
        return dict(
            info=self.info,
            images=self.images,
            annotations=self.annotations,
            categories=[dict(id=1, name="face", supercategory="face",
                             keypoints=self.keypoint_names, skeleton=[])],
        )

    def write(self, path: str | os.PathLike) -> None:
        """Write atomically (an existing file is replaced only by a complete one)."""
        data = self.to_dict()

        def dump(tmp: str) -> None:
            with open(tmp, "w") as f:
                json.dump(data, f, separators=(",", ":"))

        atomic_write(path, dump)


def link_images(raw_dir: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Make ``OUT_DIR/images`` a symlink to the raw image folder (no copy of the images).

    Raises:
        ConversionError: ``OUT_DIR/images`` exists and is something else.
    """
    raw = Path(raw_dir).resolve()
    link = Path(out_dir) / "images"
    if link.is_symlink():
        if link.resolve() == raw:
            return link
        raise ConversionError(link, f"already links to {os.readlink(link)}, not {raw}; "
                                    f"remove it or choose another output folder")
    if link.exists():
        raise ConversionError(link, "exists and is not a link to the raw folder; remove it "
                                    "or choose another output folder")
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".images.{os.getpid()}.tmp")
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(raw, target_is_directory=True)
    os.replace(tmp, link)
    return link
