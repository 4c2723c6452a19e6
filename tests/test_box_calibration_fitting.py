"""``aan calibrate`` and ``aan_components.inference.box_calibration_fitting``: the fits kept
side by side in the calibration file, the choice of the one to ship, and the file written
once, at the end (a failed run leaves it as it was)."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from raw_archives import make_300w

from aan_components.cli import main as aan
from aan_components.inference import box_calibration_fitting as fitting
from aan_components.inference.box_calibration import CALIBRATION_FILE
from aan_components.tools import calibrate

SYNTHETIC = {"dx": -0.0086, "dy": 0.0797, "sx": 1.0285, "sy": 0.7728, "fit": "synthetic",
             "faces": 185, "rendered": 300, "fitted_on": "synthetic faces",
             "command": "aan calibrate --synthetic-faces 300"}


def test_fits_round_trip_through_the_entry():
    """Shipping the 300W fit keeps the synthetic one under ``other_fits``, and reading that
    back gives both. Wrong input caught: an entry that drops the fit it does not ship."""
    fits, shipped = fitting.calibration_fits(SYNTHETIC)
    assert shipped == "synthetic" and fits == {"synthetic": SYNTHETIC}
    fits["300w_train"] = {"dx": 0.0, "dy": 0.05, "sx": 0.95, "sy": 0.8, "fit": "300w_train"}
    entry = fitting.calibration_entry(fits, "300w_train")
    assert entry["dy"] == 0.05 and entry["other_fits"]["synthetic"]["dy"] == 0.0797
    assert fitting.calibration_fits(entry) == (fits, "300w_train")
    assert "other_fits" not in fitting.calibration_entry({"synthetic": fits["synthetic"]},
                                                         "synthetic")
    assert fitting.calibration_fits(None) == ({}, None)


@pytest.mark.parametrize("ious, shipped, want", [
    ({"synthetic": 0.80, "300w_train": 0.85}, "synthetic", "300w_train"),
    ({"synthetic": 0.85, "300w_train": 0.80}, "synthetic", "synthetic"),
    ({"synthetic": 0.85, "300w_train": 0.80}, "300w_train", "synthetic"),
    ({"synthetic": 0.80, "300w_train": 0.80}, "synthetic", "synthetic"),  # a tie keeps it
    ({"synthetic": None, "300w_train": 0.5}, "synthetic", "300w_train"),
])
def test_the_fit_with_the_higher_iou_on_common_ships(ious, shipped, want):
    assert fitting.choose_shipped_fit(ious, shipped) == want


class ShiftedDetector:
    """Finds each face of a 300W folder as its landmark extent with the top raised by 20% of
    its height (1.2x taller, centre 0.1 of its height higher: a detector's convention),
    recognising the image by its pixels."""
    name = "shifted"

    def __init__(self, faces):
        self.boxes = {}
        for path, (x1, y1, x2, y2) in faces:
            h = y2 - y1
            box = [x1, y1 - 0.2 * h, x2, y2]
            self.boxes[cv2.imread(str(path)).tobytes()] = np.array([[*box, 0.99]], np.float32)

    def detect(self, image):
        return self.boxes[image.tobytes()]


class BrokenDetector:
    name = "broken"

    def detect(self, image):
        raise RuntimeError("the detector failed")


@pytest.fixture(scope="module")
def face300w(tmp_path_factory):
    """A conversion of two training and two common faces (``aan convert 300w``)."""
    raw, out = tmp_path_factory.mktemp("raw"), tmp_path_factory.mktemp("300w") / "out"
    make_300w(raw)
    for folder in ("afw", "ibug"):
        shutil.rmtree(raw / folder)
    aan(["convert", "300w", str(raw), str(out)])
    return out


def _detector(face300w):
    faces = fitting.load_300w_boxes(face300w, "train")[0] + \
        fitting.load_300w_boxes(face300w, "common")[0]
    return ShiftedDetector(faces)


def test_calibrate_fits_300w_and_ships_the_better_fit(face300w, tmp_path, monkeypatch):
    """From a file that ships the synthetic fit: the 300W fit undoes the detector's shift
    (IoU 1 on common) and ships; the synthetic fit stays under ``other_fits``, each with its
    IoU on common; the shipped file is not touched. Wrong input caught: a fit that is not
    chosen by its IoU, or an entry that drops the other fit."""
    out = tmp_path / "calibrations.json"
    out.write_text(json.dumps({"format": 1, "calibrations": {
        "mtcnn": {"landmark_extent": SYNTHETIC}}}))
    shipped_before = CALIBRATION_FILE.read_bytes()
    monkeypatch.setattr(calibrate, "detectors", lambda names: {"mtcnn": _detector(face300w)})
    aan(["calibrate", "--300w-root", str(face300w), "--out", str(out)])
    entry = json.loads(out.read_text())["calibrations"]["mtcnn"]["landmark_extent"]
    assert entry["fit"] == "300w_train" and entry["faces"] == 2
    assert entry["command"] == "aan calibrate --300w-root OUT"
    assert entry["iou_300w_common"] == pytest.approx(1.0, abs=1e-3)
    # centre down by 0.1 of the face's height = 0.1 / 1.2 of the detector's; height / 1.2
    assert entry["dy"] == pytest.approx(0.1 / 1.2, abs=1e-3)
    assert entry["sy"] == pytest.approx(1 / 1.2, abs=1e-3)
    other = entry["other_fits"]["synthetic"]
    assert other["dy"] == SYNTHETIC["dy"] and other["iou_300w_common"] < 1.0
    assert CALIBRATION_FILE.read_bytes() == shipped_before


def test_a_failed_calibration_leaves_the_file_as_it_was(face300w, tmp_path, monkeypatch):
    """The file is written once, after every detector: a detector failing after another
    was fitted leaves it byte for byte, with nothing beside it."""
    out = tmp_path / "calibrations.json"
    shutil.copy(CALIBRATION_FILE, out)
    before = out.read_bytes()
    monkeypatch.setattr(calibrate, "detectors", lambda names: {
        "mtcnn": _detector(face300w), "dlib-hog": BrokenDetector()})
    with pytest.raises(RuntimeError, match="the detector failed"):
        aan(["calibrate", "--300w-root", str(face300w), "--out", str(out)])
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["calibrations.json"]


def test_an_unreadable_calibration_file_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "calibrations.json"
    bad.write_text("[1, 2]")
    with pytest.raises(SystemExit) as e:
        aan(["calibrate", "--synthetic-faces", "2", "--out", str(bad)])
    assert e.value.code == 2
    assert capsys.readouterr().err == (f"aan calibrate: error: {bad}: not a box calibration "
                                       f"file ('list' object has no attribute 'get')\n")
