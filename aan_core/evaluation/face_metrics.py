"""Face-alignment metrics: the normalisation distance of each dataset's protocol, per-image
NME, CED curve, AUC and failure rate (numpy only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CED", "EYE_GROUPS", "NORM_MODES", "OUTER_EYE_CORNERS", "ced_curve", "failure_rate",
           "inter_ocular", "inter_pupil", "normalisation_distance", "per_image_nme"]

_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 names it trapz

# Default normalisation points per dataset (MMPose dataset_name), 0-based.
OUTER_EYE_CORNERS = {"300w": (36, 45), "300vw": (36, 45), "wflw": (60, 72), "cofw": (8, 9),
                     "coco_wholebody_face": (36, 45), "lapa": (66, 79), "celeba": (0, 1)}
EYE_GROUPS = {"300w": (range(36, 42), range(42, 48)), "300vw": (range(36, 42), range(42, 48)),
              "coco_wholebody_face": (range(36, 42), range(42, 48)),
              "wflw": (range(60, 68), range(68, 76)), "celeba": ([0], [1]),
              "aflw": ([7], [10])}
# inter_ocular: two points (outer eye corners by default); inter_pupil: two eye centres (the
# means of two point groups); box_size: the annotation's face size (AFLW); box_area:
# sqrt(w * h) of the face box
NORM_MODES = ("inter_ocular", "inter_pupil", "box_size", "box_area")


def per_image_nme(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray,
                  norm: np.ndarray) -> np.ndarray:
    """NME of each image: mean over its visible points of ``|pred - gt| / norm``.

    Unlike MMPose's ``NME`` (which averages over all visible points of all images at once),
    each image counts once, whatever its number of visible points.

    Args:
        pred: Predicted coordinates, :math:`(N, K, 2)`.
        gt: Ground-truth coordinates, :math:`(N, K, 2)`.
        visible: Point visibility / mask, :math:`(N, K)`; points with 0 are ignored.
        norm: Normalisation distance of each image, :math:`(N,)`.

    Returns:
        :math:`(N,)` NME per image; NaN for images without a visible point or a
        non-positive normalisation distance (callers decide how to report them).

    Example:
        >>> gt = np.zeros((1, 2, 2)); pred = gt + [[[3.0, 4.0], [0.0, 0.0]]]
        >>> per_image_nme(pred, gt, np.ones((1, 2)), np.array([10.0]))
        array([0.25])
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if pred.shape != gt.shape or pred.ndim != 3:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} must both be (N, K, 2)")
    mask = np.asarray(visible, np.float64).reshape(gt.shape[:2]) > 0
    norm = np.asarray(norm, np.float64).reshape(-1)
    err = np.linalg.norm(pred - gt, axis=-1)
    count = mask.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_err = np.where(count > 0, (err * mask).sum(1) / np.maximum(count, 1), np.nan)
        return np.where(norm > 0, mean_err / norm, np.nan)


def inter_ocular(gt: np.ndarray, left: int, right: int) -> np.ndarray:
    """Distance between two ground-truth points (e.g. outer eye corners), :math:`(N,)`."""
    gt = np.asarray(gt, np.float64)
    return np.linalg.norm(gt[:, left] - gt[:, right], axis=-1)


def inter_pupil(gt: np.ndarray, left: Sequence[int], right: Sequence[int]) -> np.ndarray:
    """Distance between the centres (means) of two ground-truth point groups, :math:`(N,)`."""
    gt = np.asarray(gt, np.float64)
    return np.linalg.norm(gt[:, list(left)].mean(1) - gt[:, list(right)].mean(1), axis=-1)


def normalisation_distance(gt: np.ndarray, norm_mode: str, dataset_name: str = "",
                           norm_indices: Sequence | None = None,
                           box_sizes: Sequence[float] | None = None) -> np.ndarray:
    """The distance that divides each image's landmark error in its dataset's protocol.

    Args:
        gt: Ground-truth coordinates, :math:`(N, K, 2)`.
        norm_mode: One of :data:`NORM_MODES`.
        dataset_name: MMPose ``dataset_name``, for the default points of ``'inter_ocular'``
            (:data:`OUTER_EYE_CORNERS`) and ``'inter_pupil'`` (:data:`EYE_GROUPS`).
        norm_indices: Instead of the defaults: two point indices (``'inter_ocular'``) or two
            lists of indices (``'inter_pupil'``).
        box_sizes: For ``'box_size'`` and ``'box_area'``: each image's size, :math:`(N,)`,
            returned as they are.

    Returns:
        :math:`(N,)` float64 distances.

    Raises:
        ValueError: an unknown ``norm_mode``; no points for the dataset and no
            ``norm_indices``; a box mode without ``box_sizes``.

    Example:
        >>> gt = np.zeros((1, 68, 2)); gt[0, 45] = [30.0, 40.0]  # outer eye corners 36, 45
        >>> normalisation_distance(gt, "inter_ocular", "300w")
        array([50.])
        >>> normalisation_distance(gt, "inter_ocular", "my_faces")
        Traceback (most recent call last):
        ...
        ValueError: no default inter_ocular points for dataset 'my_faces'; set norm_indices
    """
    if norm_mode not in NORM_MODES:
        raise ValueError(f"norm_mode must be one of {NORM_MODES}, got {norm_mode!r}")
    if norm_mode in ("box_size", "box_area"):
        if box_sizes is None:
            raise ValueError(f"norm_mode {norm_mode!r} needs each image's box size")
        return np.asarray(box_sizes, np.float64).reshape(-1)
    table = OUTER_EYE_CORNERS if norm_mode == "inter_ocular" else EYE_GROUPS
    indices = norm_indices if norm_indices is not None else table.get(dataset_name)
    if indices is None:
        raise ValueError(f"no default {norm_mode} points for dataset {dataset_name!r}; "
                         f"set norm_indices")
    if norm_mode == "inter_ocular":
        return inter_ocular(gt, *indices)
    return inter_pupil(gt, *indices)


@dataclass(frozen=True)
class CED:
    """Cumulative error distribution of per-image NMEs.

    Attributes:
        thresholds: NME values on the x axis, from 0 to ``max_threshold``.
        fractions: Fraction of images with NME <= each threshold.
    """

    thresholds: np.ndarray
    fractions: np.ndarray

    def auc(self, threshold: float) -> float:
        """Area under the CED up to ``threshold``, divided by ``threshold`` (1 = perfect)."""
        keep = self.thresholds <= threshold + 1e-12
        return float(_trapezoid(self.fractions[keep], self.thresholds[keep]) / threshold)


def ced_curve(nmes: np.ndarray, max_threshold: float = 0.15, step: float = 1e-4) -> CED:
    """The CED of per-image NMEs (NaNs are dropped)."""
    nmes = np.asarray(nmes, np.float64)
    nmes = np.sort(nmes[~np.isnan(nmes)])
    if nmes.size == 0:
        raise ValueError("ced_curve needs at least one finite NME")
    thresholds = np.arange(0.0, max_threshold + step / 2, step)
    fractions = np.searchsorted(nmes, thresholds, side="right") / nmes.size
    return CED(thresholds, fractions)


def failure_rate(nmes: np.ndarray, threshold: float) -> float:
    """Fraction of images (finite NMEs) with NME above ``threshold``."""
    nmes = np.asarray(nmes, np.float64)
    nmes = nmes[~np.isnan(nmes)]
    return float((nmes > threshold).mean())
