"""Jitter-free landmark tracks: the One Euro filter (Casiez et al., CHI 2012), and its use
on the faces of consecutive video frames (``aan predict --smooth``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import TypeVar

import numpy as np

__all__ = ["OneEuroFilter", "smooth_tracks"]

Frame = TypeVar("Frame")


class OneEuroFilter:
    """Adaptive low-pass filter for a stream of landmark arrays (any shape, e.g. ``(K, 2)``).

    Each value is smoothed with an exponential filter whose cutoff frequency rises with the
    (smoothed) speed of that value: still landmarks are smoothed strongly (no jitter), moving
    ones lightly (little lag).
    ``cutoff = min_cutoff + beta * |speed|``, ``alpha = 1 / (1 + fps / (2 pi cutoff))``.

    Args:
        fps: Frame rate of the stream (frames per second).
        min_cutoff: Cutoff frequency (Hz) at rest; lower = smoother, more lag.
        beta: Speed coefficient (per pixel/s); higher = less lag on fast motion.
        d_cutoff: Cutoff frequency (Hz) of the speed estimate.

    Example:
        >>> f = OneEuroFilter(fps=30)
        >>> x = f(np.array([[10.0, 10.0]]))  # the first value passes through
        >>> bool(f(np.array([[12.0, 10.0]]))[0, 0] < 12.0)
        True
    """

    def __init__(self, fps: float = 30.0, min_cutoff: float = 1.0, beta: float = 0.05,
                 d_cutoff: float = 1.0) -> None:
        if fps <= 0 or min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError(f"OneEuroFilter: fps, min_cutoff and d_cutoff must be > 0 and "
                             f"beta >= 0, got fps={fps}, min_cutoff={min_cutoff}, "
                             f"d_cutoff={d_cutoff}, beta={beta}")
        self.fps = float(fps)
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        """Forget the stream (e.g. at a cut or a lost track)."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def _alpha(self, cutoff):
        return 1.0 / (1.0 + self.fps / (2 * math.pi * cutoff))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filter the next value; returns the smoothed value (same shape)."""
        x = np.asarray(x, np.float64)
        if self._x is None or self._x.shape != x.shape:
            self._x, self._dx = x.copy(), np.zeros_like(x)
            return x.copy()
        dx = (x - self._x) * self.fps
        a_d = self._alpha(self.d_cutoff)
        self._dx = a_d * dx + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        a = self._alpha(cutoff)
        self._x = a * x + (1 - a) * self._x
        return self._x.copy()


def smooth_tracks(frames: Iterable[Frame], fps: float, min_cutoff: float = 1.0,
                  beta: float = 0.05) -> Iterator[Frame]:
    """Smooth each face's landmarks over consecutive frames, in place, one
    :class:`OneEuroFilter` per face track.

    A track is a face index: face ``i`` of a frame continues face ``i`` of the frame before
    (as ``LandmarkPredictor.predict(..., track=True)`` orders them). When a frame has fewer
    faces, the lost tracks are forgotten and start afresh when they come back.

    Args:
        frames: Each with a ``faces`` list whose items have a ``keypoints`` array, e.g.
            ``aan_components.inference.ImageLandmarks``; consumed lazily.
        fps: Frame rate of the video.
        min_cutoff: :class:`OneEuroFilter`'s cutoff at rest (Hz).
        beta: :class:`OneEuroFilter`'s speed coefficient.

    Yields:
        The same frame objects, their faces' ``keypoints`` replaced by the smoothed ones.

    Shape:
        - ``keypoints`` of each face: :math:`(K, 2)` (any shape, kept).

    Example:
        >>> from types import SimpleNamespace as NS
        >>> frames = [NS(faces=[NS(keypoints=np.array([[x, 0.0]]))]) for x in (0.0, 3.0, 3.0)]
        >>> [round(float(f.faces[0].keypoints[0, 0]), 2) for f in smooth_tracks(frames, fps=30)]
        [0.0, 0.81, 1.51]
    """
    filters: dict[int, OneEuroFilter] = {}
    for frame in frames:
        for i, face in enumerate(frame.faces):
            f = filters.setdefault(i, OneEuroFilter(fps, min_cutoff, beta))
            face.keypoints = f(face.keypoints)
        for i in list(filters):
            if i >= len(frame.faces):
                filters.pop(i)  # track lost: start afresh when it comes back
        yield frame
