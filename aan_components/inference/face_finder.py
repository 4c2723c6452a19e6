"""Where each image's face boxes come from: a face detector (calibrated to the model's
training boxes), and, in a video, the previous frame's landmarks between detections."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .box_calibration import (
    LANDMARK_EXTENT,
    BoxCalibration,
    landmark_extent_boxes,
    load_box_calibration,
)
from .face_detection import FaceDetector

__all__ = ["FoundFaces", "FaceFinder"]


@dataclass
class FoundFaces:
    """The faces of one image.

    Attributes:
        boxes: :math:`(N, 4)` float32 ``x1, y1, x2, y2`` given to the model.
        source: Where they came from (``'mtcnn, calibrated to landmark_extent'``,
            ``'tracked from frame 12'``...).
        detector_boxes: :math:`(N, 5)` the detector's own ``x1, y1, x2, y2, score``, or
            ``None`` for tracked boxes.
    """

    boxes: np.ndarray
    source: str
    detector_boxes: np.ndarray | None = None


class FaceFinder:
    """Finds faces with a detector and maps its boxes onto the model's training convention.

    In a video (:meth:`find` called frame after frame with ``previous``), the detector runs
    every ``detect_every`` frames; in between, each face's box is its landmarks' extent in
    the previous frame (when the model trains on landmark-extent boxes) or its previous box,
    the usual detect-then-track pattern. A frame whose previous frame had no face is always
    detected.

    Args:
        detector: The face detector.
        convention: The training boxes' convention (``box_convention(config)``), ``None``
            when unknown: boxes are then used as the detector gives them.
        calibration: Overrides the shipped calibration of ``detector`` to ``convention``;
            ``BoxCalibration()`` (identity) turns calibration off.
        detect_every: Frames between detections in a video (1: every frame).

    Example:
        >>> class OneFace:
        ...     name = 'fixed'
        ...     def detect(self, image):
        ...         return np.array([[10, 10, 50, 60, 0.99]], np.float32)
        >>> finder = FaceFinder(OneFace(), convention=None)
        >>> found = finder.find(np.zeros((80, 80, 3), np.uint8))
        >>> found.boxes.tolist(), found.source
        ([[10.0, 10.0, 50.0, 60.0]], 'fixed (uncalibrated)')
    """

    def __init__(self, detector: FaceDetector, convention: str | None,
                 calibration: BoxCalibration | None = None, detect_every: int = 1) -> None:
        if detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {detect_every}")
        self.detector = detector
        self.convention = convention
        self.calibration = (calibration if calibration is not None
                            else load_box_calibration(detector.name, convention))
        self.detect_every = int(detect_every)
        self._since_detection = 0

    @property
    def detection_source(self) -> str:
        if self.calibration is None or self.calibration == BoxCalibration():
            return f"{self.detector.name} (uncalibrated)"
        return f"{self.detector.name}, calibrated to {self.convention}"

    def find(self, image: np.ndarray, previous: tuple[str, np.ndarray, np.ndarray] | None = None
             ) -> FoundFaces:
        """The faces of ``image``.

        Args:
            image: BGR image, :math:`(H, W, 3)`.
            previous: In a video, ``(frame name, boxes (N, 4), keypoints (N, K, 2))`` of the
                previous frame; ``None`` for a still image (always detected).
        """
        if (previous is not None and len(previous[1]) and
                self._since_detection < self.detect_every - 1):
            self._since_detection += 1
            name, boxes, keypoints = previous
            if self.convention == LANDMARK_EXTENT:
                boxes = landmark_extent_boxes(keypoints)
            return FoundFaces(np.asarray(boxes, np.float32).reshape(-1, 4),
                             f"tracked from frame {name}")
        self._since_detection = 0
        found = self.detector.detect(image)
        boxes = found[:, :4] if self.calibration is None else self.calibration.apply(found)
        return FoundFaces(np.asarray(boxes, np.float32).reshape(-1, 4), self.detection_source,
                         found)
