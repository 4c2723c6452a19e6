"""Procedural face images with exact landmarks (iBUG 68-point layout, plus 19 and 5 points).

A parametric 3D face (jaw, brows, nose, eyes, lips) is deformed by identity and expression,
rotated by yaw / pitch / roll, projected and drawn with OpenCV over a cluttered, textured
background, then lit, occluded, blurred and noised. Every image is a pure function of
``(seed, index)``. numpy + OpenCV only (no torch, no MMPose).

Example:
    >>> face = render_synthetic_face(seed=0, index=3, image_size=128)
    >>> face.image.shape, face.keypoints.shape, face.visible.shape
    ((128, 128, 3), (68, 2), (68,))
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "FLIP_INDICES",
    "LAYOUTS",
    "SyntheticFace",
    "mean_face_3d",
    "render_synthetic_face",
    "subset_matrix",
]

# --------------------------------------------------------------------------- the 3D face


def _mirror(points: np.ndarray) -> np.ndarray:
    out = points.copy()
    out[:, 0] *= -1
    return out


def mean_face_3d() -> np.ndarray:
    """The neutral face, ``(68, 3)``: x to the image right, y down, z towards the camera.

    Units: the face is about 2 wide (x in [-1, 1]), chin at y = 1, nose tip at z = 0.45.
    Index order is iBUG's 68-point layout (0-16 jaw, 17-26 brows, 27-35 nose, 36-47 eyes,
    48-67 lips), image-left side first, so 300W's flip pairs apply.
    """
    t = np.linspace(0, np.pi, 17)
    jaw = np.stack([-0.95 * np.cos(t), -0.12 + 1.12 * np.sin(t) ** 1.3,
                    -0.75 * np.cos(t) ** 2], axis=1)
    brow_x = np.linspace(-0.78, -0.16, 5)
    brow_l = np.stack([brow_x, -0.46 - 0.09 * np.sin(np.linspace(0.2, np.pi - 0.6, 5)),
                       -0.08 - 0.25 * brow_x ** 2], axis=1)
    brow_r = _mirror(brow_l)[::-1]
    bridge = np.stack([np.zeros(4), np.linspace(-0.3, 0.12, 4), np.linspace(0.1, 0.45, 4)],
                      axis=1)
    nose_x = np.array([-0.2, -0.1, 0.0, 0.1, 0.2])
    nose_low = np.stack([nose_x, 0.24 + 0.04 * (1 - np.abs(nose_x) / 0.2),
                         0.2 + 0.1 * (1 - np.abs(nose_x) / 0.2)], axis=1)
    eye_l = np.array([[-0.56, -0.24], [-0.46, -0.3], [-0.34, -0.3], [-0.24, -0.24],
                      [-0.34, -0.19], [-0.46, -0.19]])
    eye_l = np.concatenate([eye_l, (0.02 - 0.2 * (eye_l[:, :1] + 0.4) ** 2)], axis=1)
    eye_r = _mirror(eye_l)[[3, 2, 1, 0, 5, 4]]
    lip_outer = np.array([[-0.36, 0.56], [-0.22, 0.5], [-0.08, 0.47], [0.0, 0.49],
                          [0.08, 0.47], [0.22, 0.5], [0.36, 0.56], [0.22, 0.64],
                          [0.08, 0.67], [0.0, 0.68], [-0.08, 0.67], [-0.22, 0.64]])
    lip_inner = np.array([[-0.3, 0.56], [-0.1, 0.54], [0.0, 0.545], [0.1, 0.54],
                          [0.3, 0.56], [0.1, 0.575], [0.0, 0.58], [-0.1, 0.575]])
    lips = np.concatenate([lip_outer, lip_inner])
    lips = np.concatenate([lips, 0.18 - 0.5 * lips[:, :1] ** 2], axis=1)
    return np.concatenate([jaw, brow_l, brow_r, bridge, nose_low, eye_l, eye_r, lips]).astype(
        np.float64)


# 300W flip pairs (what MMPose's configs/_base_/datasets/300w.py encodes).
_FLIP_68 = np.array(
    list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30]
    + [35, 34, 33, 32, 31] + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65])

_UPPER_LIDS = [37, 38, 43, 44]
_LOWER_LIDS = [40, 41, 46, 47]
_LOWER_LIP = [55, 56, 57, 58, 59, 65, 66, 67]
_BROWS = list(range(17, 27))


def _eye_centre(first: int) -> dict[int, float]:
    return {i: 1 / 6 for i in range(first, first + 6)}


# Each layout point is a weighted mean of 68-layout points.
_LAYOUT_DEFS: dict[int, list[dict[int, float]]] = {
    68: [{i: 1.0} for i in range(68)],
    # AFLW's 19 points (21 minus the ears), in MMPose's aflw.py order.
    19: [{17: 1}, {19: 1}, {21: 1}, {22: 1}, {24: 1}, {26: 1},
         {36: 1}, _eye_centre(36), {39: 1}, {42: 1}, _eye_centre(42), {45: 1},
         {31: 1}, {30: 1}, {35: 1}, {48: 1}, {62: 0.5, 66: 0.5}, {54: 1}, {8: 1}],
    # CelebA's 5 points: eye centres, nose tip, mouth corners.
    5: [_eye_centre(36), _eye_centre(42), {30: 1}, {48: 1}, {54: 1}],
}
FLIP_INDICES: dict[int, list[int]] = {
    68: _FLIP_68.tolist(),
    19: [5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 14, 13, 12, 17, 16, 15, 18],
    5: [1, 0, 2, 4, 3],
}
LAYOUTS = tuple(sorted(_LAYOUT_DEFS))


def subset_matrix(num_points: int) -> np.ndarray:
    """``(P, 68)`` matrix mapping 68-point coordinates to the ``num_points`` layout."""
    if num_points not in _LAYOUT_DEFS:
        raise ValueError(f"num_points must be one of {LAYOUTS}, got {num_points}")
    mat = np.zeros((num_points, 68))
    for row, weights in enumerate(_LAYOUT_DEFS[num_points]):
        for col, w in weights.items():
            mat[row, col] = w
    return mat


# ------------------------------------------------------------------------ sampling


@dataclass(frozen=True)
class SyntheticFace:
    """One rendered face.

    Attributes:
        image: ``(S, S, 3)`` uint8, BGR (OpenCV / MMPose convention).
        keypoints: ``(P, 2)`` float32 pixel coordinates (x, y), P in (68, 19, 5).
        visible: ``(P,)`` float32, 1 where the point is inside the image and faces the
            camera, 0 where it is self-occluded (the far side of a turned head) or outside.
        bbox: ``(4,)`` float32 face box ``x1, y1, x2, y2``: the landmarks' extent with
            detector-like jitter.
        pose: ``(3,)`` yaw, pitch, roll in degrees.
    """

    image: np.ndarray
    keypoints: np.ndarray
    visible: np.ndarray
    bbox: np.ndarray
    pose: np.ndarray


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    y, p, r = np.deg2rad([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


_MEAN = mean_face_3d()
_HEAD_CENTRE = np.array([0.0, 0.15, -0.9])


def _deform(rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """Identity and expression: returns the 3D points, mouth opening and eye openness."""
    pts = _MEAN.copy()
    # identity: overall proportions and part placement
    pts[:, 0] *= rng.uniform(0.85, 1.15)
    pts[:, 1] *= rng.uniform(0.88, 1.12)
    pts[:17, 0] *= rng.uniform(0.9, 1.1)  # jaw width
    pts[36:48, 0] *= rng.uniform(0.9, 1.12)  # eye spacing
    pts[36:48, 1] += rng.uniform(-0.05, 0.05)
    pts[27:36, 1] *= rng.uniform(0.85, 1.15)  # nose length
    pts[31:36, 0] *= rng.uniform(0.8, 1.25)  # nose width
    pts[48:68, 0] *= rng.uniform(0.8, 1.2)  # mouth width
    pts[48:68, 1] += rng.uniform(-0.05, 0.05)
    pts += rng.normal(0, 0.012, pts.shape)  # small per-point identity noise
    # expression
    mouth_open = float(rng.choice([0.0, rng.uniform(0.02, 0.3)], p=[0.6, 0.4]))
    pts[_LOWER_LIP, 1] += mouth_open
    pts[5:12, 1] += mouth_open * np.array([0.2, 0.45, 0.7, 0.8, 0.7, 0.45, 0.2])
    eye_open = float(rng.choice([1.0, rng.uniform(0.0, 0.3)], p=[0.85, 0.15]))
    lid_gap = pts[_LOWER_LIDS, 1] - pts[_UPPER_LIDS, 1]
    pts[_UPPER_LIDS, 1] += (1 - eye_open) * lid_gap * 0.85
    pts[_BROWS, 1] -= rng.uniform(-0.04, 0.1)  # brows raised / lowered
    pts[48, 1] -= rng.uniform(-0.04, 0.06)  # smile / frown corners
    pts[54, 1] -= rng.uniform(-0.04, 0.06)
    return pts, mouth_open, eye_open


def _colour(rng: np.random.Generator, lo: int = 0, hi: int = 255) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(lo, hi, 3))


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    low = rng.integers(0, 256, (rng.integers(2, 7), rng.integers(2, 7), 3)).astype(np.uint8)
    img = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(3, 14))):  # clutter
        kind = rng.integers(0, 3)
        c = _colour(rng)
        p1 = tuple(int(v) for v in rng.integers(-size // 4, size + size // 4, 2))
        if kind == 0:
            p2 = tuple(int(v) for v in rng.integers(-size // 4, size + size // 4, 2))
            cv2.rectangle(img, p1, p2, c, -1 if rng.random() < 0.6 else int(rng.integers(1, 4)))
        elif kind == 1:
            cv2.circle(img, p1, int(rng.integers(3, size // 4)), c, -1, cv2.LINE_AA)
        else:
            p2 = tuple(int(v) for v in rng.integers(0, size, 2))
            cv2.line(img, p1, p2, c, int(rng.integers(1, 5)), cv2.LINE_AA)
    if rng.random() < 0.5:  # fine texture
        noise = rng.normal(0, rng.uniform(5, 25), (size // 4, size // 4, 3))
        img = np.clip(img + cv2.resize(noise, (size, size)), 0, 255).astype(np.uint8)
    return img


_SKIN_TONES = np.array([[189, 210, 242], [145, 180, 224], [120, 160, 198], [88, 120, 165],
                        [60, 85, 120], [40, 60, 92], [170, 200, 230]], np.float64)


def _pts(p: np.ndarray) -> np.ndarray:
    return np.round(p * 16).astype(np.int32)  # 4 fractional bits for cv2's `shift`


def _draw_face(img: np.ndarray, pts2: np.ndarray, front: np.ndarray, rng: np.random.Generator,
               scale: float, mouth_open: float, eye_open: float, hair: bool) -> None:
    sh = 4
    if rng.random() < 0.75:  # a skin tone (BGR), else any colour (paint, masks, lighting)
        tone = _SKIN_TONES[rng.integers(len(_SKIN_TONES))]
        skin = np.clip(tone * rng.uniform(0.8, 1.15) + rng.normal(0, 8, 3), 0, 255)
    else:
        skin = np.array(_colour(rng, 40, 230), np.float64)
    skin_c = tuple(int(v) for v in skin)
    dark = tuple(int(v) for v in skin * rng.uniform(0.25, 0.6))
    # the head: jaw + a forehead arc above the brows, as one convex region
    jaw = pts2[:17]
    top = pts2[17:27]
    centre = pts2[27:31].mean(0)
    forehead = top + (top - centre) * 0.55
    head = cv2.convexHull(_pts(np.concatenate([jaw, forehead])))
    if hair:
        hair_c = _colour(rng, 0, 120)
        hull = np.concatenate([forehead + (forehead - centre) * 0.25, jaw[[0, 16]]])
        cv2.fillConvexPoly(img, cv2.convexHull(_pts(hull)), hair_c, cv2.LINE_AA, sh)
    cv2.fillConvexPoly(img, head, skin_c, cv2.LINE_AA, sh)
    lw = max(1, int(round(scale * 0.035)))
    # brows
    brow_c = _colour(rng, 0, 90)
    for sl in (slice(17, 22), slice(22, 27)):
        if front[sl].mean() > 0.3:
            cv2.polylines(img, [_pts(pts2[sl])], False, brow_c, lw + 1, cv2.LINE_AA, sh)
    # nose: bridge shading, nostrils, base line
    cv2.polylines(img, [_pts(pts2[27:31])], False, dark, max(1, lw - 1), cv2.LINE_AA, sh)
    cv2.polylines(img, [_pts(pts2[31:36])], False, dark, lw, cv2.LINE_AA, sh)
    for i in (32, 34):
        cv2.circle(img, tuple(_pts(pts2[i])), int(16 * max(1.0, scale * 0.02)), dark, -1,
                   cv2.LINE_AA, sh)
    # eyes
    sclera = _colour(rng, 190, 255)
    iris = _colour(rng, 10, 140)
    for first in (36, 42):
        eye = pts2[first:first + 6]
        if front[first:first + 6].mean() < 0.3:
            continue
        if eye_open < 0.35:
            cv2.polylines(img, [_pts(eye[[0, 1, 2, 3]])], False, dark, lw, cv2.LINE_AA, sh)
            continue
        cv2.fillPoly(img, [_pts(eye)], sclera, cv2.LINE_AA, sh)
        x0, y0 = np.floor(eye.min(0)).astype(int) - 1
        x1, y1 = np.ceil(eye.max(0)).astype(int) + 2
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, img.shape[1]), min(y1, img.shape[0])
        if x1 > x0 and y1 > y0:
            roi = img[y0:y1, x0:x1]
            mask = np.zeros(roi.shape[:2], np.uint8)
            cv2.fillPoly(mask, [_pts(eye - [x0, y0])], 255, cv2.LINE_AA, sh)
            disc = roi.copy()
            r = np.linalg.norm(eye[1] - eye[5]) * 0.55 + 0.5
            c = eye.mean(0) - [x0, y0] + rng.normal(0, r * 0.25, 2)
            cv2.circle(disc, tuple(_pts(c)), int(16 * r), iris, -1, cv2.LINE_AA, sh)
            cv2.circle(disc, tuple(_pts(c)), int(16 * r * 0.45), (10, 10, 10), -1,
                       cv2.LINE_AA, sh)
            roi[mask > 127] = disc[mask > 127]
        cv2.polylines(img, [_pts(eye[[0, 1, 2, 3]])], False, dark, lw, cv2.LINE_AA, sh)
    # lips
    lip_c = tuple(int(v) for v in np.clip(skin * [0.55, 0.5, 1.1], 0, 255))
    cv2.fillPoly(img, [_pts(pts2[48:60])], lip_c, cv2.LINE_AA, sh)
    if mouth_open > 0.015:
        cv2.fillPoly(img, [_pts(pts2[60:68])], (25, 15, 30), cv2.LINE_AA, sh)
    else:
        cv2.polylines(img, [_pts(pts2[[48, 60, 61, 62, 63, 64, 54]])], False, dark, lw,
                      cv2.LINE_AA, sh)


def _occlude(img: np.ndarray, rng: np.random.Generator, pts2: np.ndarray, scale: float) -> None:
    kind = rng.integers(0, 3)
    target = pts2[rng.integers(0, 68)]
    c = _colour(rng)
    if kind == 0:  # a bar across the face
        ang = rng.uniform(0, np.pi)
        d = np.array([np.cos(ang), np.sin(ang)]) * scale * 1.5
        w = int(max(2, scale * rng.uniform(0.1, 0.3)))
        cv2.line(img, tuple(_pts(target - d)), tuple(_pts(target + d)), c, w, cv2.LINE_AA, 4)
    elif kind == 1:  # a blob
        axes = tuple(int(16 * scale * v) for v in rng.uniform(0.15, 0.45, 2))
        cv2.ellipse(img, tuple(_pts(target)), axes, float(rng.uniform(0, 180)), 0, 360, c, -1,
                    cv2.LINE_AA, 4)
    else:  # a hand: palm and four fingers
        skin = _colour(rng, 60, 230)
        palm = target + rng.normal(0, scale * 0.2, 2)
        r = scale * rng.uniform(0.2, 0.32)
        ang = rng.uniform(0, 2 * np.pi)
        cv2.circle(img, tuple(_pts(palm)), int(16 * r), skin, -1, cv2.LINE_AA, 4)
        for k in range(4):
            a = ang + (k - 1.5) * 0.35
            tip = palm + np.array([np.cos(a), np.sin(a)]) * r * 2.2
            cv2.line(img, tuple(_pts(palm)), tuple(_pts(tip)), skin, max(2, int(r * 0.45)),
                     cv2.LINE_AA, 4)


def render_synthetic_face(seed: int, index: int, image_size: int = 128,
                          num_points: int = 68) -> SyntheticFace:
    """Render face ``index`` of the synthetic set ``seed`` (deterministic).

    Args:
        seed: Identifies the set (train and test sets use different seeds).
        index: The sample within the set (>= 0).
        image_size: Side of the square image in pixels (>= 32).
        num_points: Landmark layout: 68 (iBUG / 300W), 19 (AFLW) or 5 (CelebA).

    Returns:
        The image, its landmarks, their visibility, a face box and the head pose.
    """
    if image_size < 32:
        raise ValueError(f"image_size must be >= 32, got {image_size}")
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}")
    mat = subset_matrix(num_points)
    rng = np.random.default_rng([int(seed), int(index), 0xAA7])
    pts3, mouth_open, eye_open = _deform(rng)
    pose = np.array([rng.uniform(-50, 50), rng.uniform(-20, 20), rng.uniform(-25, 25)])
    rot = _rotation(*pose)
    rotated = (pts3 - _HEAD_CENTRE) @ rot.T + _HEAD_CENTRE
    normals = (pts3 - _HEAD_CENTRE) @ rot.T
    front = (normals[:, 2] / np.linalg.norm(normals, axis=1) > -0.05).astype(np.float32)
    # scale/translation jitter: the face spans 45-75% of the image
    scale = image_size * rng.uniform(0.24, 0.38)
    offset = image_size / 2 + rng.uniform(-0.12, 0.12, 2) * image_size
    pts2 = rotated[:, :2] * scale + offset - np.array([0, 0.25]) * scale

    img = _background(rng, image_size)
    _draw_face(img, pts2, front, rng, scale, mouth_open, eye_open, hair=rng.random() < 0.6)
    if rng.random() < 0.35:
        _occlude(img, rng, pts2, scale)
    # lighting: a linear gradient in a random direction
    ang = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:image_size, 0:image_size] / image_size - 0.5
    light = 1 + rng.uniform(0.0, 0.8) * (np.cos(ang) * xx + np.sin(ang) * yy)
    img = img * (light[..., None] * rng.uniform(0.7, 1.2))
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.4))
    img = img + rng.normal(0, rng.uniform(0, 8), img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)

    kp68 = pts2.astype(np.float64)
    inside = ((kp68 >= 0) & (kp68 <= image_size - 1)).all(1)
    vis68 = front * inside
    keypoints = (mat @ kp68).astype(np.float32)
    contributing = mat > 0
    visible = np.array([vis68[row].min() for row in contributing], np.float32)
    lo, hi = kp68.min(0), kp68.max(0)
    centre = (lo + hi) / 2 + rng.normal(0, 0.04, 2) * (hi - lo)
    half = (hi - lo) / 2 * rng.uniform(0.95, 1.1)
    bbox = np.concatenate([centre - half, centre + half]).astype(np.float32)
    return SyntheticFace(img, keypoints, visible, bbox, pose.astype(np.float32))
