"""Figures: landmark predictions on faces (the paper's Fig. 3), multi-scale attention maps
overlaid on faces (Fig. 4) and cumulative error distribution (CED) curves."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from aan_core.utils.atomic_io import atomic_write

__all__ = ["attention_grid", "draw_faces", "draw_landmarks", "image_grid", "save_ced_plot",
           "save_image", "save_png", "with_caption"]


def draw_landmarks(image: np.ndarray, pred: np.ndarray, gt: np.ndarray | None = None,
                   scale: int = 2) -> np.ndarray:
    """Draw predicted (red) and, when given, ground-truth (green) points on a BGR image,
    upscaled ``scale`` times so that 68 points stay readable."""
    img = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    r = max(1, scale)
    if gt is not None:
        for x, y in np.asarray(gt).reshape(-1, 2):
            cv2.circle(img, (int(x * scale), int(y * scale)), r, (0, 220, 0), -1, cv2.LINE_AA)
    for x, y in np.asarray(pred).reshape(-1, 2):
        cv2.circle(img, (int(x * scale), int(y * scale)), r, (0, 0, 255), -1, cv2.LINE_AA)
    return img


def draw_faces(image: np.ndarray, boxes: Sequence[np.ndarray],
               keypoints: Sequence[np.ndarray]) -> np.ndarray:
    """Draw face boxes (blue) and landmarks (red) on a copy of a full-size BGR image; point
    radius and line width follow the face size."""
    img = image.copy()
    for box, pts in zip(boxes, keypoints, strict=True):
        # clipped: OpenCV's drawing overflows on coordinates beyond int32
        x1, y1, x2, y2 = (int(round(v)) for v in np.clip(box, -1e6, 1e6))
        size = max(x2 - x1, y2 - y1, 1)
        r = max(1, size // 150)
        cv2.rectangle(img, (x1, y1), (x2, y2), (255, 128, 0), max(1, size // 200), cv2.LINE_AA)
        for x, y in np.clip(np.nan_to_num(np.asarray(pts, np.float64)), -1e6, 1e6).reshape(-1, 2):
            cv2.circle(img, (int(round(x)), int(round(y))), r, (0, 0, 255), -1, cv2.LINE_AA)
    return img


def image_grid(images: Sequence[np.ndarray], cols: int, pad: int = 2) -> np.ndarray:
    """Tile equally sized images into rows of ``cols`` (white padding)."""
    if not images:
        raise ValueError("image_grid needs at least one image")
    h, w = images[0].shape[:2]
    rows = -(-len(images) // cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h,
             pad + c * (w + pad):pad + c * (w + pad) + w] = im
    return grid


def attention_grid(crops: Sequence[np.ndarray], maps: Sequence[np.ndarray],
                   scale: int = 2) -> np.ndarray:
    """Fig. 4: one column per face; the face on top, then one row per stage (shallow to
    deep) with that stage's attention map, stretched to its own min-max range, as a heat map
    over the face.

    Args:
        crops: Network input crops, each ``(H, W, 3)`` BGR uint8.
        maps: One array per stage, ``(N, h_i, w_i)`` (or ``(N, 1, h_i, w_i)``).
    """
    tiles = []
    h, w = crops[0].shape[:2]
    size = (w * scale, h * scale)
    rows = [[cv2.resize(c, size) for c in crops]]
    for stage_maps in maps:
        stage_maps = np.asarray(stage_maps, np.float32).reshape(len(crops), *np.shape(
            stage_maps)[-2:])
        row = []
        for crop, m in zip(crops, stage_maps, strict=True):
            m = (m - m.min()) / max(float(m.max() - m.min()), 1e-6)
            heat = cv2.applyColorMap((cv2.resize(m, size, interpolation=cv2.INTER_NEAREST)
                                      * 255).astype(np.uint8), cv2.COLORMAP_JET)
            row.append(cv2.addWeighted(cv2.resize(crop, size), 0.45, heat, 0.55, 0))
        rows.append(row)
    for row in rows:
        tiles.extend(row)
    return image_grid(tiles, cols=len(crops))


def with_caption(image: np.ndarray, text: str, height: int = 24) -> np.ndarray:
    """Add a white strip with ``text`` above ``image``."""
    strip = np.full((height, image.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (6, height - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                cv2.LINE_AA)
    return np.concatenate([strip, image])


def save_image(path, image: np.ndarray, ext: str | None = None) -> None:
    """Write a BGR image atomically, encoded as ``ext`` (default: the suffix of ``path``)."""
    ext = ext or os.path.splitext(str(path))[1] or ".png"

    def write(tmp: str) -> None:
        ok, buf = cv2.imencode(ext, image)
        if not ok:
            raise OSError(f"could not encode {path} as {ext}")
        with open(tmp, "wb") as f:
            f.write(buf.tobytes())

    atomic_write(path, write)


def save_png(path, image: np.ndarray) -> None:
    """Write a BGR image as PNG, atomically."""
    save_image(path, image, ".png")


def save_ced_plot(path, curves: Mapping, labels: Mapping[str, str],
                  thresholds: Sequence[float] = (), xlabel: str = "NME",
                  xmax: float | None = None) -> None:
    """Plot CED curves, one per named set, into a PNG written atomically.

    Args:
        path: The PNG file.
        curves: ``{name: CED}`` (:class:`aan_core.face_metrics.CED`: ``thresholds`` and
            ``fractions``), e.g. ``'all'`` and each subset.
        labels: ``{name: legend text}`` for each curve.
        thresholds: NME thresholds marked by dashed vertical lines.
        xlabel: The x axis' title (the NME's normalisation).
        xmax: Right end of the x axis (default: the curves' last threshold).

    Example:
        >>> import tempfile, pathlib
        >>> from aan_core.face_metrics import ced_curve
        >>> ced = ced_curve(np.array([0.02, 0.05, 0.12]))
        >>> png = pathlib.Path(tempfile.mkdtemp()) / "ced.png"
        >>> save_ced_plot(png, {"all": ced}, {"all": "all (3)"}, thresholds=(0.08,))
        >>> png.read_bytes()[:4]
        b'\\x89PNG'
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    def draw(tmp: str) -> None:
        fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
        try:
            for name, ced in curves.items():
                ax.plot(ced.thresholds, ced.fractions, label=labels[name])
            for t in thresholds:
                ax.axvline(t, color="gray", lw=0.8, ls="--")
            right = xmax if xmax is not None else max(float(c.thresholds[-1])
                                                      for c in curves.values())
            ax.set(xlabel=xlabel, ylabel="fraction of images", xlim=(0, right), ylim=(0, 1),
                   title="Cumulative error distribution")
            ax.grid(alpha=0.3)
            ax.legend(loc="lower right", fontsize=8)
            fig.tight_layout()
            fig.savefig(tmp, format="png")
        finally:
            plt.close(fig)

    atomic_write(path, draw)
