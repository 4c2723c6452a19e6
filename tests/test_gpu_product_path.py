"""bench/gpu_product_path.sh end to end in its CPU ``--tiny`` setting (no timing asserted)."""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO


@pytest.mark.slow
def test_product_path_script_runs_every_step_on_the_cpu(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run(
        ["bash", str(REPO / "bench" / "gpu_product_path.sh"), "--tiny", "--work",
         str(tmp_path / "work")],
        capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHON": sys.executable, "OUT": str(out)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    payload = json.loads((out / "gpu_product_path.json").read_text())
    paths = payload["images_per_s"]
    assert {"mim train, GPU switch (aan_300w_gpu.py)", "mim train, no switch (aan_300w.py)",
            "gpu_train.py cached"} <= set(paths)
    assert all(v > 0 for v in paths.values())
    assert payload["device"] == "cpu" and payload["torch"]
    assert payload["test_nme"] is not None and payload["predicted_images"] >= 1
    assert payload["compile_graph"]["graph_breaks"] == 0
    switch_log = (tmp_path / "work" / "logs" / "train_switch.log").read_text()
    assert "CropCacheDataset" in switch_log and "ChannelsLastHook" in switch_log
    assert (tmp_path / "work" / "data300w" / "annotations"
            / "face_landmarks_300w_train.json").is_file()
