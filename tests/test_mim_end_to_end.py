"""What users type: `mim train / test mmpose mm_configs/aan_300w.py`, resume included."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from fixture_runs import as_cli, fixture_overrides

pytestmark = pytest.mark.slow
CONFIG = str(REPO / "mm_configs" / "aan_300w.py")


def mim(*args: str, cwd: Path) -> str:
    exe = shutil.which("mim", path=str(Path(sys.executable).parent)) or "mim"
    proc = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"mim {' '.join(args[:2])} failed:\n{out[-4000:]}"
    return out


def test_train_test_resume_through_mim(fixtures_dir, tmp_path):
    work = tmp_path / "work"
    opts = fixture_overrides(fixtures_dir / "300w", "test_300w.json", iters=2)
    mim("train", "mmpose", CONFIG, "--work-dir", str(work), *as_cli(opts), cwd=tmp_path)
    ckpt = work / "iter_2.pth"
    assert ckpt.is_file()
    assert (work / "last_checkpoint").read_text().strip().endswith("iter_2.pth")

    out = mim("test", "mmpose", CONFIG, "--checkpoint", str(ckpt), "--work-dir",
              str(tmp_path / "test"), *as_cli(opts), cwd=tmp_path)
    assert "NME:" in out

    more = {**opts, "train_cfg.max_iters": 4, "train_cfg.val_interval": 4,
            "default_hooks.checkpoint.interval": 4}
    out = mim("train", "mmpose", CONFIG, "--work-dir", str(work), "--resume", *as_cli(more),
              cwd=tmp_path)
    assert "resumed epoch: 0, iter: 2" in out
    assert "Iter(train) [3/4]" in out and "Iter(train) [1/4]" not in out
    assert (work / "iter_4.pth").is_file()
    logs = sorted(work.glob("*/vis_data/scalars.json"))
    steps = [json.loads(line)["step"] for log in logs for line in log.read_text().splitlines()
             if '"loss"' in line]
    assert steps[-2:] == [3, 4]
