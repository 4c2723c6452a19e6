"""The bench scripts run end to end in their tiny mode (no timing is asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO


def _bench(tool: str, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """``python -m bench.<tool> ARGS`` from the repository root (how the tools run)."""
    return subprocess.run([sys.executable, "-m", f"bench.{tool}", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.parametrize("tool,keys", [
    ("synthetic_data_speed", {"render_images_per_s", "train_images_per_s"}),
    ("cpu_speed", {"inference", "like_for_like", "fastest_each", "over_eager",
                   "train_images_per_s", "gemm_gflops", "aan"}),
    ("gpu_train", {"runs", "device"}),
    ("temporal_smoothing", {"rows"}),
    ("real_faces", {"detection", "calibration", "landmarks"}),
])
def test_bench_tool_tiny_mode(tool, keys):
    """Each tool runs as a module in its tiny mode and writes its JSON and the tables
    generated from it (``.md`` beside the JSON)."""
    proc = _bench(tool, "--tiny")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = [line.split("wrote ", 1)[1] for line in proc.stdout.splitlines()
           if line.startswith("[bench] wrote ") and line.endswith(".json")]
    assert out, proc.stdout[-2000:]
    path = Path(out[-1])
    payload = json.loads(path.read_text())
    assert keys <= set(payload)
    assert "| " in payload["table"]
    assert path.with_suffix(".md").read_text().startswith("<!-- Generated from ")
    if tool == "cpu_speed":  # every treatment, compile included, on every model that built
        from bench.cpu_speed import COMPILED, TREATMENTS

        rows = [r for r in payload["inference"] if "images_per_s" in r]
        built = {r["model"] for r in rows}
        assert "AAN" in built and len(built) >= 3, built
        for model in built:
            assert [r["variant"] for r in rows if r["model"] == model] == [
                *(t for t, _, _ in TREATMENTS), COMPILED]
        assert all(r["bn_folded"].split("/")[0] == r["bn_folded"].split("/")[1] != "0"
                   for r in rows if "bn_folded" in r)


def _study(*args):
    return _bench("aan_study", "--tiny", *args, timeout=600)


@pytest.mark.slow  # five subprocesses of the study tool, each training a few iterations
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
    joined = _bench("aan_study", "--merge", str(gap), str(flat), "--out", str(merged),
                    timeout=120)
    assert joined.returncode == 0, joined.stderr[-3000:]
    assert len(json.loads(merged.read_text())["runs"]) == 5
