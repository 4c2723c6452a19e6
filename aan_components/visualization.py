"""Figures: landmark predictions on faces (the paper's Fig. 3), multi-scale attention maps
overlaid on faces (Fig. 4) and cumulative error distribution (CED) curves."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from aan_core.utils.atomic_io import atomic_write

__all__ = ["IBUG68_LINKS", "attention_grid", "draw_faces", "draw_landmarks", "face_drawing_sizes",
           "image_grid", "landmark_links", "save_ced_plot", "save_image", "save_png",
           "with_caption"]


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


def _polyline(points: Sequence[int], closed: bool = False) -> list[tuple[int, int]]:
    pts = list(points)
    links = list(zip(pts[:-1], pts[1:], strict=True))
    return links + [(pts[-1], pts[0])] if closed else links


# The contours of the iBUG 68-point markup (300W, 300VW, ...), 0-based, joined as dlib's
# render_face_detections joins them: jaw, brows and nose bridge open; the lower nose (from
# the bridge's tip), the eyes and both lip contours closed.
IBUG68_LINKS: tuple[tuple[int, int], ...] = tuple(
    _polyline(range(0, 17)) + _polyline(range(17, 22)) + _polyline(range(22, 27))
    + _polyline(range(27, 31)) + _polyline(range(30, 36), closed=True)
    + _polyline(range(36, 42), closed=True) + _polyline(range(42, 48), closed=True)
    + _polyline(range(48, 60), closed=True) + _polyline(range(60, 68), closed=True))


def landmark_links(dataset_meta: Mapping | None, num_keypoints: int) -> list[tuple[int, int]]:
    """The point pairs to join in a drawing: the dataset's skeleton links where its metainfo
    defines them (``skeleton_links``, as MMPose parses ``skeleton_info``), else the iBUG
    contours (:data:`IBUG68_LINKS`) for 68 points, else none.

    Example:
        >>> len(landmark_links({"skeleton_links": []}, 68)), landmark_links(None, 19)
        (65, [])
        >>> landmark_links({"skeleton_links": [(0, 1), (1, 2)]}, 3)
        [(0, 1), (1, 2)]
    """
    links = (dataset_meta or {}).get("skeleton_links") or []
    if len(links):
        return [(int(a), int(b)) for a, b in links]
    return list(IBUG68_LINKS) if num_keypoints == 68 else []


def face_drawing_sizes(box: np.ndarray) -> dict[str, float]:
    """Marker radius, line width and label font scale for a face box, in proportion to the
    box's longer side (never under 2 px, 1 px and 0.4): the drawing reads the same at any
    image size and for any face size.

    Example:
        >>> face_drawing_sizes(np.array([0, 0, 200, 150]))
        {'radius': 3, 'thickness': 1, 'font_scale': 0.8}
    """
    x1, y1, x2, y2 = np.asarray(box, np.float64)[:4]
    side = max(float(x2 - x1), float(y2 - y1), 1.0)
    return dict(radius=max(2, round(side / 70)), thickness=max(1, round(side / 150)),
                font_scale=max(0.4, round(side / 250, 2)))


_SHIFT = 4  # OpenCV's fractional bits: points drawn at sub-pixel positions


def _fixed(x: float, y: float) -> tuple[int, int]:
    return int(round(x * (1 << _SHIFT))), int(round(y * (1 << _SHIFT)))


def draw_faces(image: np.ndarray, boxes: Sequence[np.ndarray],
               keypoints: Sequence[np.ndarray], scores: Sequence[float | None] | None = None,
               links: Sequence[tuple[int, int]] = ()) -> np.ndarray:
    """Draw face boxes (blue), the lines joining their landmarks (green) and the landmarks
    (red) on a copy of a full-size BGR image; with ``scores`` (a detector's), each face's
    score is written above its box, so that a false face reads as one.

    Markers, lines and text grow with each face's box (:func:`face_drawing_sizes`).

    Args:
        image: :math:`(H, W, 3)` BGR uint8.
        boxes: Per face ``(x1, y1, x2, y2)``.
        keypoints: Per face :math:`(K, 2)` pixel coordinates.
        scores: Per face a score, or ``None`` for a face without one (a given box).
        links: Point index pairs to join (:func:`landmark_links`).

    Example:
        >>> canvas = np.zeros((1080, 1920, 3), np.uint8)
        >>> pts = np.array([[900.0, 500.0], [1000.0, 500.0]])
        >>> out = draw_faces(canvas, [np.array([850, 450, 1050, 650])], [pts], [0.98],
        ...                  links=[(0, 1)])
        >>> bool(out[500, 950, 1] > 150)  # green on the line between the two points
        True
    """
    img = image.copy()
    scores = [None] * len(boxes) if scores is None else list(scores)
    for box, pts, score in zip(boxes, keypoints, scores, strict=True):
        # clipped: OpenCV's drawing overflows on coordinates beyond int32
        box = np.clip(np.asarray(box, np.float64)[:4], -1e6, 1e6)
        sizes = face_drawing_sizes(box)
        r, t = sizes["radius"], sizes["thickness"]
        cv2.rectangle(img, _fixed(*box[:2]), _fixed(*box[2:]), (255, 128, 0), t, cv2.LINE_AA,
                      _SHIFT)
        pts = np.clip(np.asarray(pts, np.float64).reshape(-1, 2), -1e6, 1e6)
        finite = np.isfinite(pts).all(1)
        for a, b in links:
            if a < len(pts) and b < len(pts) and finite[a] and finite[b]:
                cv2.line(img, _fixed(*pts[a]), _fixed(*pts[b]), (0, 220, 0), t, cv2.LINE_AA,
                         _SHIFT)
        for x, y in pts[finite]:
            cv2.circle(img, _fixed(x, y), r << _SHIFT, (0, 0, 255), -1, cv2.LINE_AA, _SHIFT)
        if score is not None:
            _label(img, f"{float(score):.2f}", box, sizes["font_scale"], t)
    return img


def _label(img: np.ndarray, text: str, box: np.ndarray, scale: float, thickness: int) -> None:
    """``text`` in white on the box's colour, above the box's top-left corner (inside the
    box when there is no room above)."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    weight = max(1, round(scale * 2))
    (w, h), base = cv2.getTextSize(text, font, scale, weight)
    pad = max(2, thickness)
    x1, y1 = int(round(box[0])), int(round(box[1]))
    top = y1 - h - base - 2 * pad
    if top < 0:  # no room above: just inside the top edge
        top = y1
    cv2.rectangle(img, (x1, top), (x1 + w + 2 * pad, top + h + base + 2 * pad),
                  (255, 128, 0), -1)
    cv2.putText(img, text, (x1 + pad, top + pad + h), font, scale, (255, 255, 255), weight,
                cv2.LINE_AA)


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
        curves: ``{name: CED}`` (:class:`aan_core.evaluation.face_metrics.CED`: ``thresholds`` and
            ``fractions``), e.g. ``'all'`` and each subset.
        labels: ``{name: legend text}`` for each curve.
        thresholds: NME thresholds marked by dashed vertical lines.
        xlabel: The x axis' title (the NME's normalisation).
        xmax: Right end of the x axis (default: the curves' last threshold).

    Example:
        >>> import tempfile, pathlib
        >>> from aan_core.evaluation.face_metrics import ced_curve
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
