"""Map a face detector's boxes onto the boxes a model was trained on.

A regression model crops each face from its box (``GetBBoxCenterScale`` +
``TopdownAffine``), so it only sees the crops it was trained on when it gets boxes of its
training data's convention. A detector's box is another convention: MTCNN's sits higher and
is taller than the landmark extent that 300W and the synthetic faces use. A
:class:`BoxCalibration` is the per-detector, per-convention correction, four numbers fitted
on faces with ground truth::

    centre' = centre + (dx * w, dy * h)        size' = (sx * w, sy * h)

The fitted values ship in ``box_calibrations.json`` beside this file, one entry per detector
and convention, each recording the faces it was fitted on and the command. MTCNN's
landmark-extent entry is fitted on 1,669 real 300W training faces (``aan calibrate --300w-root
OUT``, :mod:`~aan_components.inference.box_calibration_fitting`): mean IoU with the landmark
extent on 300W common 0.869, against 0.807 for the earlier fit on synthetic faces (``aan
calibrate --synthetic-faces 300``), which stays in the entry under ``other_fits`` (read by
the bench, never at inference). dlib-hog's likewise, on 1,647 faces: 0.765 against 0.756.
``aan calibrate`` is what writes the file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

__all__ = ["CALIBRATION_FILE", "LANDMARK_EXTENT", "BoxCalibration", "box_convention",
           "landmark_extent_boxes", "load_box_calibration"]

CALIBRATION_FILE = Path(__file__).with_name("box_calibrations.json")
LANDMARK_EXTENT = "landmark_extent"
# Training datasets whose face box is the extent of the landmarks (300W's centre/scale is
# the extent's centre and longer side, which gives the same square crop). AFLW's and CelebA's
# boxes are the annotators' own: no calibration is fitted to them.
_CONVENTIONS = {name: LANDMARK_EXTENT for name in (
    "Face300WDataset", "AANFace300WDataset", "Face300VWDataset", "AANFace300VWDataset",
    "SyntheticFaceDataset")}


def _centre_size(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return (boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]


@dataclass(frozen=True)
class BoxCalibration:
    """Centre shift (``dx``, ``dy``, fractions of the box's width and height) and size scale
    (``sx``, ``sy``) that turn a detector's boxes into a training convention's boxes.

    Example:
        >>> cal = BoxCalibration(dx=0.0, dy=-0.1, sx=1.2, sy=1.5)
        >>> cal.apply(np.array([[0.0, 0.0, 100.0, 100.0]])).round(1).tolist()
        [[-10.0, -35.0, 110.0, 115.0]]
        >>> BoxCalibration.fit(np.array([[0.0, 0.0, 100.0, 100.0]]),
        ...                    cal.apply(np.array([[0.0, 0.0, 100.0, 100.0]]))) == cal
        True
    """

    dx: float = 0.0
    dy: float = 0.0
    sx: float = 1.0
    sy: float = 1.0

    def apply(self, boxes: np.ndarray) -> np.ndarray:
        """Calibrated boxes.

        Args:
            boxes: :math:`(N, 4)` or :math:`(N, 5)` ``x1, y1, x2, y2[, score]``.

        Returns:
            :math:`(N, 4)` float32 boxes of the training convention.
        """
        centre, size = _centre_size(np.asarray(boxes)[..., :4])
        centre = centre + size * (self.dx, self.dy)
        half = size * (self.sx, self.sy) / 2
        return np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)

    @classmethod
    def fit(cls, detector_boxes: np.ndarray, target_boxes: np.ndarray) -> BoxCalibration:
        """Least-squares shift (mean) and log-scale (geometric mean) over matched pairs.

        Args:
            detector_boxes: :math:`(N, 4)` the detector's boxes.
            target_boxes: :math:`(N, 4)` the same faces' boxes in the training convention.

        Raises:
            ValueError: no pairs, mismatched counts or empty boxes.
        """
        (dc, ds), (tc, ts) = _centre_size(detector_boxes), _centre_size(target_boxes)
        if len(dc) == 0 or len(dc) != len(tc):
            raise ValueError(f"need matched pairs of boxes, got {len(dc)} and {len(tc)}")
        if (ds <= 0).any() or (ts <= 0).any():
            raise ValueError("boxes must have positive width and height")
        shift = ((tc - dc) / ds).mean(0)
        scale = np.exp(np.log(ts / ds).mean(0))
        return cls(*(round(float(v), 4) for v in (*shift, *scale)))

    def to_json(self) -> dict:
        return asdict(self)


def landmark_extent_boxes(keypoints: np.ndarray, visible: np.ndarray | None = None
                          ) -> np.ndarray:
    """The :data:`LANDMARK_EXTENT` convention: each face's box spans its (visible) points.

    Args:
        keypoints: :math:`(N, K, 2)` pixel coordinates.
        visible: :math:`(N, K)` mask; all points when ``None``.

    Returns:
        :math:`(N, 4)` float32 ``x1, y1, x2, y2``.
    """
    kp = np.asarray(keypoints, np.float64).reshape(len(keypoints), -1, 2)
    mask = np.ones(kp.shape[:2], bool) if visible is None else np.asarray(visible) > 0
    boxes = [np.r_[k[m].min(0), k[m].max(0)] for k, m in zip(kp, mask, strict=True)]
    return np.array(boxes, np.float32).reshape(-1, 4)


def box_convention(config) -> str | None:
    """The face-box convention of a config's training data, ``None`` when not known.

    Args:
        config: An mmengine ``Config`` (or dict) with a ``train_dataloader``.
    """
    dataset = (config.get("train_dataloader") or {}).get("dataset") or {}
    while isinstance(dataset.get("dataset"), dict):  # a wrapper (CropCacheDataset...)
        dataset = dataset["dataset"]
    return _CONVENTIONS.get(str(dataset.get("type", "")).split(".")[-1].split("::")[-1])


def load_box_calibration(detector: str, convention: str | None,
                         path: str | Path = CALIBRATION_FILE) -> BoxCalibration | None:
    """The shipped calibration of ``detector`` boxes to ``convention``, or ``None``.

    Raises:
        ValueError: the calibration file cannot be read (names the file).
    """
    if convention is None:
        return None
    try:
        table = json.loads(Path(path).read_text())["calibrations"]
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"{path}: cannot read box calibrations: {e}") from None
    entry = table.get(detector, {}).get(convention)
    if entry is None:
        return None
    return BoxCalibration(*(float(entry[k]) for k in ("dx", "dy", "sx", "sy")))
