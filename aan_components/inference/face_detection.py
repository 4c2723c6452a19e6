"""Face detectors behind one small interface, for ``aan predict`` and ``LandmarkPredictor``.

A detector takes a BGR image (OpenCV / MMPose convention) and returns its faces as an
``(N, 5)`` float32 array ``x1, y1, x2, y2, score``, best first. Two are wired in, both
installed from the package registries with their weights inside the package (nothing is
fetched at run time):

- ``mtcnn`` (default): MTCNN from ``facenet-pytorch`` (pure PyTorch; runs on the model's
  device). Its declared torch pin is old, so it is installed with ``pip install --no-deps
  facenet-pytorch`` (``scripts/setup_env.sh`` does this); it needs only torch, torchvision,
  numpy and pillow.
- ``dlib-hog``: dlib's HOG + linear SVM frontal-face detector (``pip install dlib-bin``),
  the classical one; it misses strongly turned faces.

Measured on MMPose's real face samples (``python -m bench.real_faces``, docs/studies.md "Real
faces"): both find all 17 faces; MTCNN's calibrated boxes match the training convention
better (mean IoU 0.79 against 0.74), which is why it is the default.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch

from aan_core.utils.input_errors import AANInputError

__all__ = ["DETECTORS", "DlibHogFaceDetector", "FaceDetector", "FaceDetectorUnavailable",
           "MTCNNFaceDetector", "build_face_detector"]


class FaceDetectorUnavailable(AANInputError):
    """The package a detector needs is not installed (the message says what to install;
    ``aan`` reports it as one line, exit 2)."""


@runtime_checkable
class FaceDetector(Protocol):
    """What ``LandmarkPredictor`` needs of a face detector.

    Attributes:
        name: Short name, recorded with every box it finds (``landmarks.json``) and used to
            look up its box calibration.
    """

    name: str

    def detect(self, image: np.ndarray) -> np.ndarray:
        """Faces of one image.

        Args:
            image: BGR uint8 image, :math:`(H, W, 3)`.

        Returns:
            :math:`(N, 5)` float32 ``x1, y1, x2, y2, score`` in image pixels, sorted by
            score (best first); :math:`(0, 5)` when there is no face.
        """
        ...


def _sorted_boxes(boxes: np.ndarray, scores: np.ndarray, min_score: float) -> np.ndarray:
    out = np.concatenate([np.asarray(boxes, np.float32).reshape(-1, 4),
                          np.asarray(scores, np.float32).reshape(-1, 1)], axis=1)
    out = out[(out[:, 4] >= min_score) & (out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])]
    return out[np.argsort(-out[:, 4], kind="stable")]


class MTCNNFaceDetector:
    """MTCNN (Zhang et al. 2016) from ``facenet-pytorch``, weights shipped in that package.

    Args:
        device: Torch device for the three cascaded networks.
        min_face_size: Smallest face side searched for, in pixels.
        min_score: Faces with a lower final (O-Net) probability are dropped.

    Raises:
        FaceDetectorUnavailable: ``facenet-pytorch`` is not installed.
    """

    name = "mtcnn"

    def __init__(self, device: str | torch.device = "cpu", min_face_size: int = 20,
                 min_score: float = 0.9) -> None:
        try:
            from facenet_pytorch import MTCNN
        except ImportError as e:
            raise FaceDetectorUnavailable(
                "face detector 'mtcnn' needs facenet-pytorch: pip install --no-deps "
                f"facenet-pytorch (its torch pin is old; docs/inference.md) ({e})") from None
        self.min_score = float(min_score)
        self._mtcnn = MTCNN(keep_all=True, min_face_size=min_face_size, device=device)

    def detect(self, image: np.ndarray) -> np.ndarray:
        rgb = np.ascontiguousarray(image[..., ::-1])
        boxes, scores = self._mtcnn.detect(rgb)
        if boxes is None:
            return np.zeros((0, 5), np.float32)
        return _sorted_boxes(boxes, scores, self.min_score)


class DlibHogFaceDetector:
    """dlib's HOG + linear SVM frontal-face detector (``dlib.get_frontal_face_detector``).

    Args:
        upsample: Times the image is upsampled before searching (1 finds faces down to
            about 40 px).
        min_score: Faces with a lower SVM score are dropped.

    Raises:
        FaceDetectorUnavailable: ``dlib`` (``pip install dlib-bin``) is not installed.
    """

    name = "dlib-hog"

    def __init__(self, upsample: int = 1, min_score: float = -0.5) -> None:
        try:
            import dlib
        except ImportError as e:
            raise FaceDetectorUnavailable(
                f"face detector 'dlib-hog' needs dlib: pip install dlib-bin ({e})") from None
        self.upsample = int(upsample)
        self.min_score = float(min_score)
        self._detector = dlib.get_frontal_face_detector()

    def detect(self, image: np.ndarray) -> np.ndarray:
        rgb = np.ascontiguousarray(image[..., ::-1])
        rects, scores, _ = self._detector.run(rgb, self.upsample, self.min_score)
        boxes = [[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in rects]
        return _sorted_boxes(np.array(boxes, np.float32).reshape(-1, 4), scores,
                             -float("inf"))


DETECTORS = {MTCNNFaceDetector.name: MTCNNFaceDetector,
             DlibHogFaceDetector.name: DlibHogFaceDetector}


def build_face_detector(name: str, device: str | torch.device = "cpu") -> FaceDetector:
    """A detector by name (``'mtcnn'`` or ``'dlib-hog'``).

    Raises:
        AANInputError: an unknown name (the message lists the known ones).
        FaceDetectorUnavailable: the detector's package is not installed.

    Example:
        >>> build_face_detector('haar')
        Traceback (most recent call last):
        ...
        aan_core...AANInputError: unknown face detector 'haar' (known: mtcnn, dlib-hog)
    """
    if name not in DETECTORS:
        raise AANInputError(f"unknown face detector {name!r} (known: {', '.join(DETECTORS)})")
    if name == MTCNNFaceDetector.name:
        return MTCNNFaceDetector(device=device)
    return DETECTORS[name]()
