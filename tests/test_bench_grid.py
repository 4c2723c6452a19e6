"""bench.grid.DeclaredGrid, the one declared grid of the bench tools: the grid is in the
results file before any run, each finished run rewrites the JSON and its table, --resume
keeps finished runs and trains only the missing ones."""

from __future__ import annotations

import json

import pytest

from bench import real_300w
from bench.grid import DeclaredGrid


def _markdown(payload: dict) -> str:
    return "runs: " + ", ".join(f"{r['cell']}/{r['seed']}" for r in payload["runs"])


def _grid(out, resume=False):
    return DeclaredGrid(out, "demo_grid", _markdown, key=lambda r: (r["cell"], r["seed"]),
                        resume=resume)


SPECS = [dict(cell=c, seed=s) for s in (0, 1) for c in ("a", "b")]


def test_the_grid_is_declared_in_the_json_before_any_run(tmp_path):
    out = tmp_path / "grid.json"
    grid = _grid(out)
    grid.declare(cells=["a", "b"], seeds=[0, 1])
    payload = json.loads(out.read_text())
    assert payload["tool"] == "bench.demo_grid" and payload["runs"] == []
    assert payload["cells"] == ["a", "b"] and payload["seeds"] == [0, 1]
    assert list(payload)[-1] == "runs" and payload["environment"]["cpu"]
    assert out.with_suffix(".md").read_text().endswith("runs: \n")


def test_every_finished_run_rewrites_the_json_and_its_table(tmp_path):
    """Training stops at the third run: the file holds the two finished ones, JSON and
    table alike (catches a grid that writes only at the end)."""
    out = tmp_path / "grid.json"
    grid = _grid(out)
    grid.declare(cells=["a", "b"])
    seen = []

    def train(spec):
        if len(seen) == 2:
            raise KeyboardInterrupt
        seen.append(json.loads(out.read_text())["runs"])
        return dict(spec, nme=1.0)

    with pytest.raises(KeyboardInterrupt):
        grid.run(SPECS, train)
    assert [len(runs) for runs in seen] == [0, 1]  # each run saw the one before it written
    assert [(r["cell"], r["seed"]) for r in json.loads(out.read_text())["runs"]] == [
        ("a", 0), ("b", 0)]
    assert out.with_suffix(".md").read_text().endswith("runs: a/0, b/0\n")


def test_resume_keeps_finished_runs_and_trains_the_missing(tmp_path):
    out = tmp_path / "grid.json"
    first = _grid(out)
    first.declare(cells=["a", "b"])
    first.run(SPECS[:2], lambda spec: dict(spec, nme=1.0))
    again = _grid(out, resume=True)
    again.declare(cells=["a", "b"])
    assert again.pending(SPECS) == SPECS[2:]
    trained = []
    again.run(again.pending(SPECS), lambda spec: trained.append(spec) or dict(spec, nme=2.0),
              parallel=2)
    assert trained == SPECS[2:]
    runs = json.loads(out.read_text())["runs"]
    assert runs[:2] == [dict(s, nme=1.0) for s in SPECS[:2]] and len(runs) == 4
    fresh = _grid(out)  # without --resume: a new file
    assert fresh.pending(SPECS) == SPECS and fresh.runs == []


def test_a_run_recorded_again_replaces_its_row(tmp_path):
    grid = _grid(tmp_path / "grid.json")
    grid.declare()
    grid.record(dict(cell="a", seed=0, nme=1.0))
    grid.record(dict(cell="a", seed=0, nme=3.0))
    assert grid.runs == [dict(cell="a", seed=0, nme=3.0)]


def test_a_tool_grid_resumes_after_an_interruption(tmp_path, monkeypatch):
    """bench.table5_real_300w (training stood in for) stopped after its first run: the JSON
    holds the declared grid and that run; --resume trains only the other 17."""
    from bench import table5_real_300w as t5

    trained = []

    def train_one(spec, root, runs, threads):
        if len(trained) == 1 and not resumed:
            raise KeyboardInterrupt
        trained.append((spec["arm"], spec["seed"]))
        return dict(spec, nme_io=5.0, nme_ip=7.0, train_minutes=1.0)

    monkeypatch.setattr(real_300w, "train_one", train_one)
    out = tmp_path / "t5.json"
    argv = ["--300w-root", str(tmp_path), "--iters", "10", "--out", str(out)]
    resumed = False
    with pytest.raises(KeyboardInterrupt):
        t5.main(argv)
    payload = json.loads(out.read_text())
    assert len(payload["runs"]) == 1 and payload["iters"] == 10
    assert payload["grid"][0] == dict(variant="aan", start="fair", seeds=[0, 1, 2])
    resumed = True
    t5.main([*argv, "--resume"])
    assert len(trained) == 18 and len(set(trained)) == 18
    assert len(json.loads(out.read_text())["runs"]) == 18


def test_a_failed_run_loses_no_other_run(tmp_path):
    """A run that fails is reported and the others go on, in parallel as in order: the run
    finishing after the failure is recorded before one error names the failed run. Before,
    the failure's exception left the parallel loop, and a run finishing later was trained
    but never recorded (the peers study lost its first grid so)."""
    import threading

    started = threading.Barrier(2, timeout=10)

    def train(spec):
        if spec["cell"] == "a" and spec["seed"] == 0:
            started.wait()
            raise RuntimeError("mim train failed")
        if spec["seed"] == 0:
            started.wait()  # running beside the failing run
        return dict(spec, nme=1.0)

    for parallel in (2, 1):
        out = tmp_path / f"grid{parallel}.json"
        grid = _grid(out)
        grid.declare()
        if parallel == 1:
            started = threading.Barrier(1)
        with pytest.raises(RuntimeError, match=r"1 of 4 runs failed: \('a', 0\): mim train"):
            grid.run(SPECS, train, parallel=parallel)
        recorded = {(r["cell"], r["seed"]) for r in json.loads(out.read_text())["runs"]}
        assert recorded == {("b", 0), ("a", 1), ("b", 1)}, parallel


def test_grid_threads_read_configs_one_at_a_time(monkeypatch):
    """``train_command`` reads the config (its datasets' roots) through mmengine's
    ``Config.fromfile``, which is not thread-safe (a ``mmpose::`` base calls pkg_resources;
    two threads at once broke every later call in the peers study's process). Grid threads
    read one at a time. Wrong input caught: without the lock, two readers overlap."""
    import threading
    import time

    from mmengine.config import Config

    inside, most = [0], [0]
    real = Config.fromfile

    def slow_fromfile(*args, **kwargs):
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        time.sleep(0.05)
        try:
            return real(*args, **kwargs)
        finally:
            inside[0] -= 1

    monkeypatch.setattr(Config, "fromfile", slow_fromfile)
    threads = [threading.Thread(target=real_300w.train_command, args=(
        "aan_300w_cpu.py", real_300w.REPO / "work_dirs" / "x", seed, real_300w.REPO))
        for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1
