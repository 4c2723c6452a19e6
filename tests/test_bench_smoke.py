"""The bench scripts run end to end in their tiny mode (no timing is asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO


@pytest.mark.slow
@pytest.mark.parametrize("script,keys", [
    ("synthetic_data_speed.py", {"render_images_per_s", "train_images_per_s"}),
    ("synthetic_ablation.py", {"runs", "summary", "paper_order_holds"}),
    ("backbone_comparison.py", {"runs", "summary"}),
])
def test_bench_script_tiny_mode(script, keys):
    proc = subprocess.run([sys.executable, str(REPO / "bench" / script), "--tiny"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = [line for line in proc.stdout.splitlines() if line.startswith("[bench] wrote ")]
    assert out, proc.stdout[-2000:]
    payload = json.loads(Path(out[-1].split("wrote ", 1)[1]).read_text())
    assert keys <= set(payload)
    assert "| " in payload["table"]
