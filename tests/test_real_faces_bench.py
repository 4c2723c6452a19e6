"""``python -m bench.real_faces`` on a converted 300W folder (``--300w-root``): the calibration
 fits kept
side by side in the shipped file, the choice of the one to ship, and the whole path (fit on
the training faces, IoU on common, NME with detector boxes against ground-truth boxes for a
given checkpoint + config) on a tiny conversion made by the test."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch
from conftest import REPO
from raw_archives import make_300w

from bench import real_faces

SYNTHETIC = {"dx": -0.0086, "dy": 0.0797, "sx": 1.0285, "sy": 0.7728, "faces": 185,
             "rendered": 300, "fitted_on": "synthetic faces", "command": "--fit"}


def test_fits_round_trip_through_the_shipped_entry():
    """An entry from before the 300W fit (no ``fit`` name) is the synthetic fit; shipping
    the 300W fit keeps the synthetic one under ``other_fits``, and reading that back gives
    both. Wrong input caught: an entry that drops the fit it does not ship."""
    fits, shipped = real_faces.calibration_fits(SYNTHETIC)
    assert shipped == "synthetic" and fits == {"synthetic": dict(SYNTHETIC, fit="synthetic")}
    fits["300w_train"] = {"dx": 0.0, "dy": 0.05, "sx": 0.95, "sy": 0.8, "fit": "300w_train"}
    entry = real_faces.calibration_entry(fits, "300w_train")
    assert entry["dy"] == 0.05 and entry["other_fits"]["synthetic"]["dy"] == 0.0797
    assert real_faces.calibration_fits(entry) == (fits, "300w_train")
    assert "other_fits" not in real_faces.calibration_entry({"synthetic": fits["synthetic"]},
                                                            "synthetic")
    assert real_faces.calibration_fits(None) == ({}, None)


@pytest.mark.parametrize("ious, shipped, want", [
    ({"synthetic": 0.80, "300w_train": 0.85}, "synthetic", "300w_train"),
    ({"synthetic": 0.85, "300w_train": 0.80}, "synthetic", "synthetic"),
    ({"synthetic": 0.85, "300w_train": 0.80}, "300w_train", "synthetic"),
    ({"synthetic": 0.80, "300w_train": 0.80}, "synthetic", "synthetic"),  # a tie keeps it
    ({"synthetic": None, "300w_train": 0.5}, "synthetic", "300w_train"),
])
def test_the_fit_with_the_higher_iou_on_common_ships(ious, shipped, want):
    assert real_faces.choose_shipped_fit(ious, shipped) == want


@pytest.mark.slow
def test_300w_root_fits_compares_and_reports_nme(tmp_path):
    """The tool path the lead runs on the real folder, here on a conversion of two training
    and two common faces: MTCNN's fit on the training faces and the synthetic fit, each with
    its IoU on common, the better one shipped (into --calibration-out, never the repository's
    file in this run), and a 300W config's checkpoint (its initial weights) tested on common
    with ground-truth, raw and calibrated detector boxes."""
    pytest.importorskip("facenet_pytorch")
    from aan_components.inference import load_pose_model
    from aan_components.inference.box_calibration import CALIBRATION_FILE

    raw, out = tmp_path / "raw", tmp_path / "out"
    make_300w(raw)
    for folder in ("afw", "ibug"):
        shutil.rmtree(raw / folder)
    from aan_components.cli import main as aan

    aan(["convert", "300w", str(raw), str(out)])
    config = str(REPO / "mm_configs" / "aan_300w.py")
    checkpoint = tmp_path / "initial.pth"
    torch.save({"state_dict": load_pose_model(config).state_dict()}, checkpoint)
    shipped_before = CALIBRATION_FILE.read_bytes()
    calibration, result = tmp_path / "calibration.json", tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.real_faces", "--tiny", "--no-fixtures",
         "--300w-root", str(out), "--fit-300w", "--calibration-out", str(calibration),
         "--config", config, "--checkpoint", str(checkpoint), "--out", str(result)],
        capture_output=True, text=True, timeout=900, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert CALIBRATION_FILE.read_bytes() == shipped_before
    payload = json.loads(result.read_text())
    assert payload["face300w"]["train"]["protocol"] == "300W partial"
    fits = {r["fit"].removesuffix(" (shipped)"): r for r in payload["calibration_300w_common"]
            if r["detector"] == "mtcnn"}
    assert set(fits) == {"none (raw boxes)", "synthetic", "300w_train"}
    assert fits["300w_train"]["fitted_faces"] == 2 and fits["300w_train"]["faces"] == 2
    entry = json.loads(calibration.read_text())["calibrations"]["mtcnn"]["landmark_extent"]
    written, shipped = real_faces.calibration_fits(entry)
    assert set(written) == {"synthetic", "300w_train"}
    assert shipped == real_faces.choose_shipped_fit(
        {k: fits[k]["mean"] for k in written}, "synthetic")
    assert all(written[k]["iou_300w_common"] == round(fits[k]["mean"], 4) for k in written)
    rows = {r["boxes"]: r for r in payload["landmarks_300w_common"]
            if not r["boxes"].startswith("dlib")}  # dlib's rows where it is installed
    assert set(rows) == {"ground-truth extent", "mtcnn box",
                         *(f"mtcnn box, calibrated ({k} fit"
                           + (", shipped)" if k == shipped else ")") for k in written)}
    assert rows["ground-truth extent"]["ratio"] == pytest.approx(1.0)
    for r in rows.values():
        assert r["faces"] == 2 and r["nme"] > 0 and r["model"] == "aan_300w (initial.pth)"
        assert r["ratio"] == pytest.approx(r["nme"] / r["nme_ground_truth_boxes_same_faces"])
    assert "landmarks, 300W common" in result.with_suffix(".md").read_text()
