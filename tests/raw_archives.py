"""Tiny raw archives in each official format (300W, AFLW, CelebA, 300VW), made by the tests.

Images are real fixture faces where the format allows, synthetic faces otherwise.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
from conftest import FIXTURES

from aan_core.data.synthetic_faces import render_synthetic_face

FACE300W_DIRS = ("afw", "helen/trainset", "helen/testset", "lfpw/trainset", "lfpw/testset",
                 "ibug")


def write_pts(path: Path, points: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "\n".join(f"{x:.3f} {y:.3f}" for x, y in points)
    path.write_text(f"version: 1\nn_points:  {len(points)}\n{{\n{rows}\n}}\n")


def fixture_300w_faces() -> list[tuple[Path, np.ndarray]]:
    """(image, 68 x 2 keypoints as in MMPose's json) of the real 300W fixture."""
    data = json.loads((FIXTURES / "300w" / "test_300w.json").read_text())
    by_id = {im["id"]: im for im in data["images"]}
    return [(FIXTURES / "300w" / by_id[a["image_id"]]["file_name"],
             np.array(a["keypoints"], np.float64).reshape(68, 3)[:, :2])
            for a in data["annotations"]]


def make_300w(root: Path) -> dict[str, np.ndarray]:
    """One real fixture face per source folder; each ``.pts`` holds the values of MMPose's
    json for that face, which are the raw ``.pts`` values (MMPose's converters copy them:
    see the 300VW fixture, where both files of the same frames are present).

    Returns ``{relative image path: the .pts values}``."""
    faces = fixture_300w_faces()
    truth = {}
    for i, folder in enumerate(FACE300W_DIRS):
        image, points = faces[i % len(faces)]
        d = root / folder
        d.mkdir(parents=True, exist_ok=True)
        name = f"face{i}{image.suffix}"
        shutil.copyfile(image, d / name)
        write_pts(d / f"face{i}.pts", points)
        truth[f"{folder}/{name}"] = points
    return truth


def make_aflw(root: Path) -> dict:
    """A 4-face ``AFLWinfo_release.mat`` over the two real AFLW fixture images: the points are
    MMPose's json values, the boxes the squares of its ``box_size`` around its ``center``,
    written as they are (no coordinate convention is assumed here)."""
    from scipy.io import savemat

    data = json.loads((FIXTURES / "aflw" / "test_aflw.json").read_text())
    by_id = {im["id"]: im for im in data["images"]}
    names, pts, boxes = [], [], []
    for a in data["annotations"]:
        file_name = by_id[a["image_id"]]["file_name"]
        (root / "flickr" / "0").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURES / "aflw" / file_name, root / "flickr" / "0" / file_name)
        names.append(f"0/{file_name}")
        pts.append(np.array(a["keypoints"], np.float64).reshape(19, 3)[:, :2])
        cx, cy = a["center"]
        half = a["box_size"] / 2
        boxes.append([cx - half, cx + half, cy - half, cy + half])
    names, pts, boxes = names * 2, pts * 2, boxes * 2
    mask = np.ones((4, 19))
    mask[3, [0, 5]] = 0  # two missing points on one test face
    pts = np.array(pts)
    pts[3, [0, 5]] = 0  # AFLW stores missing points as 0
    mat = dict(nameList=np.array([[np.array([n])] for n in names], dtype=object),
               data=np.concatenate([pts[..., 0], pts[..., 1]], 1), mask_new=mask,
               bbox=np.array(boxes), ra=np.array([[3, 1, 4, 2]], np.float64))
    savemat(root / "AFLWinfo_release.mat", mat)
    return mat


def make_celeba(root: Path, n: int = 6) -> dict[str, np.ndarray]:
    """CelebA text lists over synthetic 5-point faces; partitions 0, 1, 2 in turn."""
    (root / "Anno").mkdir(parents=True)
    (root / "Eval").mkdir()
    (root / "Img" / "img_celeba").mkdir(parents=True)
    lm, bb, part, truth = [], [], [], {}
    for i in range(n):
        face = render_synthetic_face(7, i, 96, 5)
        name = f"{i + 1:06d}.jpg"
        cv2.imwrite(str(root / "Img" / "img_celeba" / name), face.image)
        p = np.round(face.keypoints).astype(int)
        truth[name] = p
        lm.append(f"{name} " + " ".join(str(v) for v in p.reshape(-1)))
        x1, y1, x2, y2 = np.round(face.bbox).astype(int)
        bb.append(f"{name} {x1} {y1} {x2 - x1} {y2 - y1}")
        part.append(f"{name} {i % 3}")
    (root / "Anno" / "list_landmarks_celeba.txt").write_text(
        f"{n}\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y "
        f"rightmouth_x rightmouth_y\n" + "\n".join(lm) + "\n")
    (root / "Anno" / "list_bbox_celeba.txt").write_text(
        f"{n}\nimage_id x_1 y_1 width height\n" + "\n".join(bb) + "\n")
    (root / "Eval" / "list_eval_partition.txt").write_text("\n".join(part) + "\n")
    return truth


def make_300vw(root: Path, videos=("001", "410"), frames: int = 6) -> None:
    """``<video>/vid.avi`` (MJPG) + ``annot/*.pts`` of synthetic faces (1-based values)."""
    for v in videos:
        (root / v / "annot").mkdir(parents=True)
        writer = cv2.VideoWriter(str(root / v / "vid.avi"), cv2.VideoWriter_fourcc(*"MJPG"),
                                 25, (96, 96))
        for f in range(1, frames + 1):
            face = render_synthetic_face(int(v), f, 96, 68)
            writer.write(face.image)
            write_pts(root / v / "annot" / f"{f:06d}.pts", face.keypoints + 1)
        writer.release()
