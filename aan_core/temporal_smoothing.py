"""Jitter-free landmark tracks: the One Euro filter (Casiez et al., CHI 2012)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["OneEuroFilter"]


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
