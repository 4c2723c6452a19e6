"""Face detectors, box calibration and detection-driven prediction on real fixture photos."""

from __future__ import annotations

import json
import sys

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from aan_components.inference.box_calibration import (
    LANDMARK_EXTENT,
    BoxCalibration,
    box_convention,
    landmark_extent_boxes,
    load_box_calibration,
)
from aan_components.inference.face_detection import (
    FaceDetector,
    FaceDetectorUnavailable,
    MTCNNFaceDetector,
    build_face_detector,
)
from conftest import REPO


def _iou(a, b) -> float:
    lt, rb = np.maximum(a[:2], b[:2]), np.minimum(a[2:4], b[2:4])
    inter = float(np.clip(rb - lt, 0, None).prod())
    area = lambda x: (x[2] - x[0]) * (x[3] - x[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def _fixture_faces(fixtures_dir):
    """(BGR image, 68-point ground truth) of the two real 300W fixture faces."""
    data = json.loads((fixtures_dir / "300w" / "test_300w.json").read_text())
    images = {im["id"]: im["file_name"] for im in data["images"]}
    for ann in data["annotations"]:
        image = cv2.imread(str(fixtures_dir / "300w" / images[ann["image_id"]]))
        yield image, np.asarray(ann["keypoints"], np.float64).reshape(68, 3)[:, :2]


def two_face_photo(fixtures_dir):
    """Both 300W fixture faces, each cropped with a margin and scaled to 300 px high, side by
    side in one photo; returns it and the two faces' 68 points in it."""
    tiles, points, x0 = [], [], 0
    for image, pts in _fixture_faces(fixtures_dir):
        (x1, y1), (x2, y2) = pts.min(0), pts.max(0)
        m = 0.4 * max(x2 - x1, y2 - y1)
        x1, y1 = max(0, int(x1 - m)), max(0, int(y1 - m))
        x2, y2 = min(image.shape[1], int(x2 + m)), min(image.shape[0], int(y2 + m))
        s = 300 / (y2 - y1)
        tiles.append(cv2.resize(image[y1:y2, x1:x2], None, fx=s, fy=s))
        points.append((pts - [x1, y1]) * s + [x0, 0])
        x0 += tiles[-1].shape[1]
    h = max(t.shape[0] for t in tiles)
    photo = np.concatenate([cv2.copyMakeBorder(t, 0, h - t.shape[0], 0, 0, cv2.BORDER_CONSTANT)
                            for t in tiles], axis=1)
    return photo, points


def test_mtcnn_finds_both_faces_of_a_two_face_photo(fixtures_dir):
    """Each real face is found once (IoU >= 0.4 with its landmark extent), nothing else is.
    A wrong input (the photo flipped upside down) finds fewer faces: checked here too."""
    detector = build_face_detector("mtcnn")
    assert isinstance(detector, FaceDetector) and detector.name == "mtcnn"
    photo, points = two_face_photo(fixtures_dir)
    boxes = detector.detect(photo)
    assert boxes.shape == (2, 5) and boxes.dtype == np.float32
    assert (np.diff(boxes[:, 4]) <= 0).all()  # best first
    truth = landmark_extent_boxes(np.stack(points))
    for t in truth:
        assert max(_iou(t, b) for b in boxes) >= 0.4
    assert len(detector.detect(photo[::-1].copy())) < 2


def test_detector_without_its_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "facenet_pytorch", None)  # import fails
    with pytest.raises(FaceDetectorUnavailable, match="pip install --no-deps facenet-pytorch"):
        MTCNNFaceDetector()
    with pytest.raises(ValueError, match="unknown face detector 'yolo'"):
        build_face_detector("yolo")


def test_calibration_fit_recovers_a_known_mapping():
    """Boxes made by a known calibration, with noise, give it back; the identity (a wrong
    fit) is far from it."""
    rng = np.random.default_rng(0)
    centre = rng.uniform(100, 500, (200, 2))
    size = rng.uniform(50, 200, (200, 1)) * [1.0, 1.1]
    detector = np.concatenate([centre - size / 2, centre + size / 2], 1)
    known = BoxCalibration(dx=0.03, dy=-0.12, sx=1.15, sy=1.3)
    target = known.apply(detector) + rng.normal(0, 1.0, (200, 4))
    fitted = BoxCalibration.fit(detector, target)
    got = np.array([fitted.dx, fitted.dy, fitted.sx, fitted.sy])
    want = np.array([known.dx, known.dy, known.sx, known.sy])
    np.testing.assert_allclose(got, want, atol=0.01)
    assert np.abs(np.array([0, 0, 1, 1]) - want).max() > 0.1
    with pytest.raises(ValueError, match="matched pairs"):
        BoxCalibration.fit(detector, target[:-1])


def test_shipped_calibration_and_conventions():
    """The paper's 300W config and the synthetic demo train on landmark-extent boxes and
    have a fitted MTCNN calibration; AFLW's annotator boxes have none (no silent reuse)."""
    cal = load_box_calibration("mtcnn", LANDMARK_EXTENT)
    assert cal is not None and cal != BoxCalibration()
    for name in ("aan_300w.py", "aan_synthetic.py", "aan_300vw.py"):
        assert box_convention(Config.fromfile(str(REPO / "mm_configs" / name))) \
            == LANDMARK_EXTENT
    aflw = Config.fromfile(str(REPO / "mm_configs" / "aan_aflw.py"))
    assert box_convention(aflw) is None
    assert load_box_calibration("mtcnn", box_convention(aflw)) is None
