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
    ("cpu_speed.py", {"inference", "ratios", "train_images_per_s", "gemm_gflops"}),
    ("gpu_train.py", {"runs", "device"}),
    ("regressor_input_speed.py", {"rows"}),
    ("synthetic_pool_accuracy.py", {"runs", "table"}),
    ("temporal_smoothing.py", {"rows"}),
    ("real_faces.py", {"detection", "calibration", "landmarks"}),
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


@pytest.mark.slow
def test_ablation_summarises_an_interrupted_results_file(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "synthetic_ablation.py"),
                           "--tiny", "--variants", "aan", "no_both"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = Path(proc.stdout.split("[bench] wrote ")[-1].strip())
    payload = json.loads(out.read_text())
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({k: payload[k] for k in
                                   ("benchmark", "args", "environment", "runs")}))
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "synthetic_ablation.py"),
                           "--summarise", str(partial)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "cannot be judged (not all four variants ran)" in proc.stdout
    done = json.loads(partial.read_text())
    assert done["partial"] is False and len(done["summary"]) == 2


@pytest.mark.slow
def test_ablation_resume_runs_only_the_missing_pairs(tmp_path):
    out = tmp_path / "ablation.json"
    script = str(REPO / "bench" / "synthetic_ablation.py")
    first = subprocess.run([sys.executable, script, "--tiny", "--variants", "aan", "--out",
                            str(out)], capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    second = subprocess.run([sys.executable, script, "--tiny", "--variants", "aan", "no_both",
                             "--out", str(out), "--resume"],
                            capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming: 1 finished runs" in second.stdout
    assert "[bench] aan seed" not in second.stdout and "[bench] no_both seed" in second.stdout
    runs = json.loads(out.read_text())["runs"]
    assert [(r["variant"], r["seed"]) for r in runs] == [("aan", 0), ("no_both", 0)]
    clash = subprocess.run([sys.executable, script, "--iters", "3", "--batch", "4", "--out",
                            str(out), "--resume", "--variants", "aan"],
                           capture_output=True, text=True, timeout=300)
    assert clash.returncode != 0 and "different protocol" in clash.stderr


def _study(*args):
    return subprocess.run([sys.executable, str(REPO / "bench" / "aan_study.py"), "--tiny",
                           *args], capture_output=True, text=True, timeout=600)


def test_aan_study_tiny_resume_and_merge(tmp_path):
    """The Table 5 study's tiny path: one JSON row per (variant, head, seed) with its NME;
    --resume runs only the missing cells and refuses a file of another protocol; --merge
    joins per-head files. Catches a resume that reruns (or drops) finished cells."""
    gap, flat = tmp_path / "gap.json", tmp_path / "flatten.json"
    first = _study("--heads", "gap", "--variants", "aan", "no_both", "--out", str(gap))
    assert first.returncode == 0, first.stderr[-3000:]
    payload = json.loads(gap.read_text())
    assert {"protocol", "runs", "summary", "table", "verdicts"} <= set(payload)
    assert [(r["variant"], r["head"], r["seed"]) for r in payload["runs"]] == [
        ("aan", "gap", 0), ("no_both", "gap", 0)]
    assert all(r["nme_pct"] > 0 for r in payload["runs"])
    again = _study("--heads", "gap", "--variants", "aan", "no_both", "no_attention",
                   "no_embedding", "--out", str(gap), "--resume")
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("[study]        gap") == 2  # only the two missing cells ran
    assert "paper's order" in again.stdout
    runs = json.loads(gap.read_text())["runs"]
    assert runs[:2] == payload["runs"] and len(runs) == 4
    other = _study("--heads", "gap", "--variants", "aan", "--iters", "4", "--out", str(gap),
                   "--resume")
    assert other.returncode != 0 and "another protocol (iters=3 vs 4)" in other.stderr
    assert _study("--heads", "flatten", "--variants", "aan", "--out",
                  str(flat)).returncode == 0
    merged = tmp_path / "merged.json"
    joined = subprocess.run([sys.executable, str(REPO / "bench" / "aan_study.py"), "--merge",
                             str(gap), str(flat), "--out", str(merged)],
                            capture_output=True, text=True, timeout=120)
    assert joined.returncode == 0, joined.stderr[-3000:]
    assert len(json.loads(merged.read_text())["runs"]) == 5
