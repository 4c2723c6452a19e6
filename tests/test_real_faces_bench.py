"""``python -m bench.real_faces`` on a converted 300W folder (``--300w-root``): the whole path
(fit on the training faces, IoU on common, NME with detector boxes against ground-truth
boxes for a given checkpoint + config) on a tiny conversion made by the test, measuring the
fits without writing the shipped file (``aan calibrate`` does: tests/test_box_calibration_
fitting.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch
from conftest import REPO
from raw_archives import make_300w

from aan_components.inference.box_calibration_fitting import choose_shipped_fit


@pytest.mark.slow
def test_300w_root_fits_compares_and_reports_nme(tmp_path):
    """The tool path the lead runs on the real folder, here on a conversion of two training
    and two common faces: MTCNN's fit on the training faces and the synthetic fit, each with
    its IoU on common, the better one marked shipped (the shipped file left alone), and a
    300W config's checkpoint (its initial weights) tested on common with ground-truth, raw
    and calibrated detector boxes."""
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
    result = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.real_faces", "--tiny", "--no-fixtures",
         "--300w-root", str(out), "--fit-300w",
         "--config", config, "--checkpoint", str(checkpoint), "--out", str(result)],
        capture_output=True, text=True, timeout=900, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert CALIBRATION_FILE.read_bytes() == shipped_before
    payload = json.loads(result.read_text())
    assert payload["face300w"]["train"]["protocol"] == "300W partial"
    mtcnn = [r for r in payload["calibration_300w_common"] if r["detector"] == "mtcnn"]
    fits = {r["fit"].removesuffix(" (shipped)"): r for r in mtcnn}
    assert set(fits) == {"none (raw boxes)", "synthetic", "300w_train"}
    assert fits["300w_train"]["fitted_faces"] == 2 and fits["300w_train"]["faces"] == 2
    written = {"synthetic", "300w_train"}
    (shipped,) = [r["fit"].removesuffix(" (shipped)") for r in mtcnn
                  if r["fit"].endswith(" (shipped)")]
    assert shipped == choose_shipped_fit({k: fits[k]["mean"] for k in written}, "300w_train")
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
