"""Training survives being killed: ``mim train`` killed (SIGKILL, the whole process group)
while it writes a checkpoint and at a random iteration, then ``--resume``d, ends with the
same weights as a run never interrupted; a checkpoint is never half-written under its final
name and ``last_checkpoint`` never names an incomplete or removed file. ``aan demo`` killed
while it trains and while it draws, and interrupted. The atomic save itself is tested
without training (fast)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO
from test_fault_injection import start_and_stop_at, stop

SYNTHETIC = str(REPO / "mm_configs" / "aan_synthetic.py")
MAX_ITERS = 6
# the shipped synthetic config (the demo's: max_keep_ckpts=1, bf16 autocast, fused Adam) at
# test size: 6 iterations of 4 faces, a checkpoint every 2, seeded and deterministic
TINY = {
    "train_cfg.max_iters": MAX_ITERS, "train_cfg.val_interval": MAX_ITERS,
    "default_hooks.checkpoint.interval": 2, "default_hooks.logger.interval": 1,
    "train_dataloader.batch_size": 4, "train_dataloader.num_workers": 0,
    "train_dataloader.persistent_workers": False,
    "train_dataloader.dataset.num_samples": 64,
    "val_dataloader.dataset.num_samples": 4, "test_dataloader.dataset.num_samples": 4,
    "randomness.seed": 0, "randomness.deterministic": True,
}


def _mim() -> list[str]:
    return [shutil.which("mim", path=str(Path(sys.executable).parent)) or "mim"]


def _train_argv(work: Path, resume: bool = False) -> list[str]:
    return ["train", "mmpose", SYNTHETIC, "--work-dir", str(work),
            *(["--resume"] if resume else []),
            "--cfg-options", *(f"{k}={v}" for k, v in TINY.items())]


def _train(work: Path, resume: bool = False) -> str:
    proc = subprocess.run([*_mim(), *_train_argv(work, resume)], capture_output=True,
                          text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(REPO),
                               "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from aan_components.compat import safe_torch_load

    return safe_torch_load(str(path), map_location="cpu")["state_dict"]


def _check_resumable(work: Path) -> int:
    """``last_checkpoint`` names a complete checkpoint, and no checkpoint is half-written
    under its final name; returns the iteration it holds."""
    from aan_components.compat import safe_torch_load

    for ckpt in work.glob("iter_*.pth"):
        safe_torch_load(str(ckpt), map_location="cpu")  # raises on a truncated file
    last = Path((work / "last_checkpoint").read_text().strip())
    assert last.is_file(), f"last_checkpoint names {last}, which is not there"
    return int(safe_torch_load(str(last), map_location="cpu")["meta"]["iter"])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, torch.Tensor]:
    work = tmp_path_factory.mktemp("uninterrupted")
    _train(work)
    return _weights(work / f"iter_{MAX_ITERS}.pth")


# iteration at which the second run is killed: drawn once, seeded (and said on failure)
RANDOM_ITERATION = random.Random(0).randint(3, MAX_ITERS - 1)
KILL_POINTS = {  # point -> (function, call, when)
    "while writing the iter_4 checkpoint (half-written)": ("torch:save", 2, "half"),
    f"after iteration {RANDOM_ITERATION} (drawn at random, seed 0)": (
        "mmengine.runner.loops:IterBasedTrainLoop.run_iter", RANDOM_ITERATION, "after"),
}


@pytest.mark.slow
@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_killed_training_resumes_to_the_same_weights(point, uninterrupted, tmp_path):
    """Wrong input caught: mmengine wrote ``iter_4.pth`` under its final name, and with
    ``max_keep_ckpts=1`` removed ``iter_2.pth`` before saving it: killed while saving,
    ``last_checkpoint`` named a removed file and a truncated ``iter_4.pth`` was left."""
    work = tmp_path / "work"
    at, call, when = KILL_POINTS[point]
    proc = start_and_stop_at(_train_argv(work), tmp_path, at, call=call, when=when,
                             command=_mim())
    assert stop(proc, signal.SIGKILL)[0] == -signal.SIGKILL
    resumed_from = _check_resumable(work)
    assert resumed_from in (2, 4) and resumed_from < MAX_ITERS
    out = _train(work, resume=True)
    assert f"resumed epoch: 0, iter: {resumed_from}" in out, out[-3000:]
    assert f"Iter(train) [{resumed_from + 1}/{MAX_ITERS}]" in out
    _check_resumable(work)
    resumed = _weights(work / f"iter_{MAX_ITERS}.pth")
    assert resumed.keys() == uninterrupted.keys()
    for name, value in uninterrupted.items():  # bit for bit: see docs/robustness.md
        assert torch.equal(resumed[name], value), name


@pytest.mark.slow
@pytest.mark.parametrize("point", ["training: a checkpoint half-written",
                                   "drawing the figures", "interrupted while training"])
def test_demo_killed(point, tmp_path):
    """``aan demo`` at its smallest: killed, the work dir holds no half-written checkpoint
    or summary and a rerun completes; Ctrl-C is one line, exit 130."""
    work = tmp_path / "demo"
    opts = [f"{k}={v}" for k, v in TINY.items() if not k.startswith("train_cfg")]
    argv = ["demo", "--work-dir", str(work), "--iters", "4", "--num-figures", "2",
            "--cfg-options", *opts]
    at, call, when = {"training: a checkpoint half-written": ("torch:save", 2, "half"),
                      "drawing the figures": ("aan_components.tools.demo:draw_figures", 1,
                                              "before"),
                      "interrupted while training": (
                          "mmengine.runner.loops:IterBasedTrainLoop.run_iter", 3, "after"),
                      }[point]
    proc = start_and_stop_at(argv, tmp_path, at, call=call, when=when)
    if point.startswith("interrupted"):
        rc, err = stop(proc, signal.SIGINT)
        assert rc == 130 and "Traceback" not in err, err[-3000:]
        assert err.strip().splitlines()[-1] == "aan demo: interrupted"
    else:
        assert stop(proc, signal.SIGKILL)[0] == -signal.SIGKILL
    assert not list(work.glob("*/summary.json"))
    if (work / "last_checkpoint").exists():
        _check_resumable(work)
    done = subprocess.run([sys.executable, "-m", "aan_components.cli", *argv],
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(next(work.glob("*/summary.json")).read_text())
    assert summary["iterations"] == 4 and Path(summary["checkpoint"]).is_file()
    assert not [p for p in work.rglob("*.tmp")]  # the killed run's temporaries are gone


# ------------------------------------------------------------- the atomic save, fast
def test_importing_the_module_changes_nothing():
    code = ("import mmengine.runner.checkpoint as c\n"
            "before = c.save_checkpoint\n"
            "import aan_components.compat.atomic_checkpoint\n"
            "assert c.save_checkpoint is before\n"
            "from aan_components.compat import install_atomic_checkpoint_saving as i\n"
            "i(); i()\n"
            "import mmengine.runner.runner as r\n"
            "assert c.save_checkpoint is r.save_checkpoint is not before\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_failed_save_leaves_the_earlier_checkpoint(tmp_path, monkeypatch):
    """A save that dies half-way leaves the earlier file under the name, and no temporary.
    Wrong input caught: mmengine's own save (``open(filename, 'wb')``) truncates it."""
    import mmengine.runner.checkpoint as checkpoint_module

    from aan_components import setup

    setup()  # what the configs' custom_imports (aan_components.plugin) does
    save_checkpoint = checkpoint_module.save_checkpoint
    path = tmp_path / "iter_2.pth"
    save_checkpoint({"state_dict": {"w": torch.ones(3)}}, str(path))
    before = path.read_bytes()
    real_save = torch.save

    def dies_half_way(obj, f, *a, **k):
        real_save(obj, f, *a, **k)
        f.truncate(f.tell() // 2)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(OSError) as e:
        save_checkpoint({"state_dict": {"w": torch.zeros(3)}}, str(path))
    assert e.value.filename == str(path)
    assert path.read_bytes() == before and sorted(tmp_path.iterdir()) == [path]
