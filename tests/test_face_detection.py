"""Face detectors, box calibration and detection-driven prediction on real fixture photos."""

from __future__ import annotations

import json
import sys

import cv2
import numpy as np
import pytest
import torch
from conftest import REPO
from mmengine.config import Config
from torchvision.ops import box_iou

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
from aan_core.utils.input_errors import AANInputError

CONFIG = str(REPO / "mm_configs" / "aan_300w.py")


def _best_iou(box, others) -> float:
    """The largest IoU of ``box`` with any of ``others`` (torchvision's ``box_iou``)."""
    return float(box_iou(torch.as_tensor(np.asarray(box, np.float64)[None, :4]),
                         torch.as_tensor(np.asarray(others, np.float64)[:, :4])).max())


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
        assert _best_iou(t, boxes) >= 0.4
    assert len(detector.detect(photo[::-1].copy())) < 2


def test_detector_without_its_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "facenet_pytorch", None)  # import fails
    with pytest.raises(FaceDetectorUnavailable, match="pip install --no-deps facenet-pytorch"):
        MTCNNFaceDetector()
    with pytest.raises(AANInputError, match="unknown face detector 'yolo'"):
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


@pytest.fixture(scope="module")
def initial_checkpoint(tmp_path_factory) -> str:
    """The 300W config's initial weights as a checkpoint (what detection is tested with does
    not depend on training; meta comes from the config)."""
    from aan_components.inference import load_pose_model

    path = tmp_path_factory.mktemp("ckpt") / "initial.pth"
    torch.save({"state_dict": load_pose_model(CONFIG).state_dict()}, path)
    return str(path)


def test_predict_a_photo_without_boxes_finds_its_faces(initial_checkpoint, fixtures_dir,
                                                       tmp_path, capsys):
    """`aan predict CONFIG CKPT photo.jpg` (no box file) on a photo of two real faces: two
    faces, each with the calibrated box it was cropped from, the detector's own box and the
    source; the whole-image fallback of before gave one face with the image as its box."""
    from aan_components.cli import main as aan

    photo, points = two_face_photo(fixtures_dir)
    cv2.imwrite(str(tmp_path / "photo.jpg"), photo)
    out = tmp_path / "out"
    aan(["predict", CONFIG, initial_checkpoint, str(tmp_path / "photo.jpg"), "--out", str(out)])
    assert "faces from mtcnn, calibrated to landmark_extent" in capsys.readouterr().err
    result = json.loads((out / "landmarks.json").read_text())
    assert result["faces_from"] == "detector mtcnn"
    (image,) = result["images"]
    assert len(image["faces"]) == 2
    cal = load_box_calibration("mtcnn", LANDMARK_EXTENT)
    truth = landmark_extent_boxes(np.stack(points))
    for face in image["faces"]:
        assert face["box_source"] == "mtcnn, calibrated to landmark_extent"
        assert 0.9 <= face["detector_score"] <= 1
        np.testing.assert_allclose(face["box"], cal.apply(np.array([face["detector_box"]]))[0],
                                   atol=0.01)
        assert _best_iou(face["box"], truth) >= 0.4
        assert np.array(face["keypoints"]).shape == (68, 2)
    # --no-calibration: the detector's boxes as they are, said so in the source
    aan(["predict", CONFIG, initial_checkpoint, str(tmp_path / "photo.jpg"), "--out", str(out),
         "--no-calibration", "--no-draw"])
    faces = json.loads((out / "landmarks.json").read_text())["images"][0]["faces"]
    assert [f["box_source"] for f in faces] == ["mtcnn (uncalibrated)"] * 2
    assert all(f["box"] == f["detector_box"] for f in faces)


def test_config_without_a_calibration_says_its_boxes_are_uncalibrated(fixtures_dir, tmp_path,
                                                                      capsys):
    """AFLW's annotator boxes have no fitted calibration: the detector's boxes are used as
    detected and the run says so once (never a silent reuse of another convention's)."""
    from aan_components.cli import main as aan
    from aan_components.inference import load_pose_model

    config = str(REPO / "mm_configs" / "aan_aflw.py")
    ckpt = tmp_path / "aflw.pth"
    torch.save({"state_dict": load_pose_model(config).state_dict()}, ckpt)
    out = tmp_path / "out"
    aan(["predict", config, str(ckpt), str(fixtures_dir / "300w" / "indoor_029.png"),
         "--out", str(out), "--no-draw"])
    err = capsys.readouterr().err
    assert err.count("boxes used as detected: no calibration for this config's training "
                     "boxes") == 1
    faces = json.loads((out / "landmarks.json").read_text())["images"][0]["faces"]
    assert len(faces) == 1 and faces[0]["box_source"] == "mtcnn (uncalibrated)"


def test_video_detects_every_n_frames_and_tracks_in_between(initial_checkpoint, fixtures_dir,
                                                            tmp_path):
    """A 7-frame clip of a real 300VW frame, --detect-every 3: frames 1, 4 and 7 are
    detected, the others take their box from the previous frame's landmarks (the extent of
    the landmarks, the 300W training convention)."""
    from aan_components.cli import main as aan

    frame = cv2.imread(str(fixtures_dir / "300vw" / "401" / "imgs" / "000732.jpg"))
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25,
                             (frame.shape[1], frame.shape[0]))
    for _ in range(7):
        writer.write(frame)
    writer.release()
    out = tmp_path / "out"
    aan(["predict", CONFIG, initial_checkpoint, str(video), "--out", str(out), "--no-draw",
         "--detect-every", "3"])
    images = json.loads((out / "landmarks.json").read_text())["images"]
    sources = [[f["box_source"] for f in r["faces"]] for r in images]
    detected = ["mtcnn, calibrated to landmark_extent"]
    assert sources == [detected, ["tracked from frame 1"], ["tracked from frame 2"], detected,
                       ["tracked from frame 4"], ["tracked from frame 5"], detected]
    for prev, cur in zip(images, images[1:], strict=False):
        if cur["faces"][0]["box_source"].startswith("tracked"):
            kp = np.array(prev["faces"][0]["keypoints"])
            np.testing.assert_allclose(cur["faces"][0]["box"], [*kp.min(0), *kp.max(0)],
                                       atol=0.02)


def test_missing_detector_package_is_one_line(initial_checkpoint, fixtures_dir, tmp_path,
                                              capsys, monkeypatch):
    """A detector whose package is missing: `aan predict` says what to install, exit 2, no
    traceback and no output."""
    from aan_components.cli import main as aan

    monkeypatch.setitem(sys.modules, "dlib", None)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as e:
        aan(["predict", CONFIG, initial_checkpoint, str(fixtures_dir / "300w"), "--out",
             str(out), "--detector", "dlib-hog"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "Traceback" not in err
    assert "aan predict: error: face detector 'dlib-hog' needs dlib: pip install dlib-bin" in err
    assert not out.exists()
