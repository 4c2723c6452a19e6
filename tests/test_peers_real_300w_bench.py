"""bench/peers_real_300w.py, the equal-CPU-time study of AAN against MMPose's face models:
the budget arithmetic, each peer's schedule restated for its iterations, the declared grid,
the calibration kept on resume, the table, and the tiny end-to-end run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from conftest import REPO
from mmengine.config import Config, DictAction
from study_runs import calibrated_runs, finished_run, tiny_study, trained_row, usage_error

from bench import peers_real_300w as peers
from bench import real_300w
from bench.equal_time import config_value


def _walk(node, path=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, f"{path}.{k}" if path else k)
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}.{i}")
    else:
        yield path, node


def _merged(arm: str, options: list[str]) -> tuple[Config, Config]:
    """The shipped config of ``arm`` and the same with ``options`` parsed as `mim train`'s
    ``--cfg-options`` (mmengine's DictAction) and merged as MMPose's train script does."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--cfg-options", nargs="+", action=DictAction)
    parsed = parser.parse_args(["--cfg-options", *options]).cfg_options
    shipped, merged = peers.load_config(arm), peers.load_config(arm)
    merged.merge_from_dict(parsed)
    return shipped, merged


def schedule_problems(shipped: Config, merged: Config, iters: int) -> list[str]:
    """What is wrong with ``merged`` as ``shipped`` restated for ``iters`` iterations: the
    length, validation and checkpoint not at ``iters``, an lr step off its fraction of
    training by more than half an iteration, a warm-up's end off its fraction (or its start
    or factor changed), the scheduler that ended with training not ending with it, a
    scheduler that starts later (RTMPose's cosine) not starting at its fraction, a cosine's
    ``T_max`` not its restated length, a pipeline switch (``custom_hooks``' ``switch_iter``)
    off its fraction, or any other value left at the shipped length (the ``peer_*``
    fragment inputs aside: they are read when the config is parsed)."""
    problems = []
    length = shipped.train_cfg.max_iters

    def off(new: int, old: int) -> bool:  # not at the same fraction, to half an iteration
        return abs(new / iters - old / length) > 0.5 / iters
    for key in ("train_cfg.max_iters", "train_cfg.val_interval",
                "default_hooks.checkpoint.interval"):
        if config_value(merged, key) != iters:
            problems.append(f"{key} is {config_value(merged, key)}")
    for i, (old, new) in enumerate(zip(shipped.param_scheduler, merged.param_scheduler,
                                           strict=True)):
        if old["end"] < length:
            if dict(new, end=old["end"]) != old:
                problems.append(f"warm-up {i} changed: {new}")
            if abs(new["end"] / iters - old["end"] / length) > 0.5 / iters and new["end"] != 1:
                problems.append(f"warm-up {i} ends at {new['end']}/{iters}, was "
                                f"{old['end']}/{length}")
        if old["end"] == length and new["end"] != iters:
            problems.append(f"scheduler {i} ends at {new['end']}")
        if old.get("begin", 0) > 0 and off(new["begin"], old["begin"]):
            problems.append(f"scheduler {i} begins at {new['begin']}/{iters}, was "
                            f"{old['begin']}/{length}")
        if "T_max" in old and new["T_max"] != new["end"] - new.get("begin", 0):
            problems.append(f"scheduler {i}: T_max {new['T_max']} is not its length "
                            f"{new['end']} - {new.get('begin', 0)}")
        for m_old, m_new in zip(old.get("milestones", []), new.get("milestones", []),
                                strict=True):
            if abs(m_new / iters - m_old / length) > 0.5 / iters:
                problems.append(f"scheduler {i}: step {m_new}/{iters} was {m_old}/{length}")
    for i, (old, new) in enumerate(zip(shipped.get("custom_hooks", []),
                                       merged.get("custom_hooks", []), strict=True)):
        if "switch_iter" in old and off(new["switch_iter"], old["switch_iter"]):
            problems.append(f"hook {i} switches at {new['switch_iter']}/{iters}, was "
                            f"{old['switch_iter']}/{length}")
    left = [p for p, v in _walk(merged.to_dict()) if v == length and not p.startswith("peer_")]
    return problems + [f"{p} left at {length}" for p in left]


@pytest.mark.parametrize("arm", sorted(peers.ARMS))
@pytest.mark.parametrize("iters", [1300, 13])
def test_restated_schedule_keeps_each_configs_shape(arm, iters):
    """Every arm's options, parsed as the command line parses them, give its own schedule
    at the new length: lr steps at the same fractions (HRNet's 40/60 and 55/60, the ResNets'
    170/210 and 200/210, AAN's 60% and 85%), the warm-up's end too, validation and the
    checkpoint at the end, nothing left at 6,000; RTMPose's cosine from 30/60 (m) or 30/120
    (s) to the end and its second stage from 50/60 or 110/120; a run shorter than the log
    interval logs."""
    shipped, merged = _merged(arm, peers.schedule_options(peers.load_config(arm), iters))
    assert schedule_problems(shipped, merged, iters) == []
    assert merged.default_hooks.logger.interval <= iters
    assert merged.model == shipped.model and merged.train_dataloader == shipped.train_dataloader


@pytest.mark.parametrize("arm", sorted(peers.ARMS))
@pytest.mark.parametrize("iters", [1, 2, 3])
def test_a_run_of_a_few_iterations_keeps_every_scheduler(arm, iters):
    """The tiny run's lengths (a slow arm gets 1 or 2 iterations): every scheduler begins
    before it ends (mmengine refuses an empty one) and a cosine's T_max is at least 1.
    Wrong input caught: RTMPose-m's cosine at 1 iteration restated to begin 1, end 1,
    T_max 0."""
    _, merged = _merged(arm, peers.schedule_options(peers.load_config(arm), iters))
    for s in merged.param_scheduler:
        assert s.get("begin", 0) < s["end"] <= iters, s
        assert s.get("T_max", 1) >= 1, s


def test_a_wrong_restatement_is_caught():
    """What the check above refuses: AAN's 60%/85% steps on HRNet (its own are 40/60 and
    55/60), the steps left at their shipped iterations, validation left at 6,000, the
    warm-up left at its shipped 500 iterations."""
    iters = 1300
    right = peers.schedule_options(peers.load_config("hrnetv2-w18"), iters)
    wrong_steps = [o if "milestones" not in o else
                   f"param_scheduler.1.milestones=[{int(0.6 * iters)},{int(0.85 * iters)}]"
                   for o in right]
    kept_steps = [o for o in right if "milestones" not in o]
    no_val = [o for o in right if "val_interval" not in o]
    shipped_warmup = [o for o in right if not o.startswith("param_scheduler.0.end")]
    for wrong, what in ((wrong_steps, "step"), (kept_steps, "step"),
                        (no_val, "train_cfg.val_interval"), (shipped_warmup, "warm-up 0")):
        problems = schedule_problems(*_merged("hrnetv2-w18", wrong), iters)
        assert any(what in p for p in problems), (wrong, problems)


def test_a_wrong_restatement_of_rtmposes_schedule_is_caught():
    """RTMPose-m's schedule restated wrongly: the cosine's start left at 3,000 (past a
    1,300-iteration run) or at 0, T_max the whole run or left at the shipped 3,000, the
    second stage left at 5,000 or put at 85% of the run."""
    iters = 1300
    right = peers.schedule_options(peers.load_config("rtmpose-m"), iters)
    assert "param_scheduler.1.begin=650" in right and "param_scheduler.1.T_max=650" in right
    assert "custom_hooks.1.switch_iter=1083" in right
    assert schedule_problems(*_merged("rtmpose-m", right), iters) == []

    def swap(key: str, value: str | None) -> list[str]:
        out = [o for o in right if not o.startswith(key + "=")]
        return out if value is None else [*out, f"{key}={value}"]

    for wrong, what in ((swap("param_scheduler.1.begin", None), "scheduler 1 begins"),
                        (swap("param_scheduler.1.begin", "0"), "scheduler 1 begins"),
                        (swap("param_scheduler.1.T_max", "1300"), "T_max 1300"),
                        (swap("param_scheduler.1.T_max", None), "T_max 3000"),
                        (swap("custom_hooks.1.switch_iter", None), "hook 1 switches"),
                        (swap("custom_hooks.1.switch_iter", "1105"), "hook 1 switches")):
        problems = schedule_problems(*_merged("rtmpose-m", wrong), iters)
        assert any(what in p for p in problems), (wrong, problems)


def test_schedule_options_refuse_what_they_cannot_restate():
    cfg = Config(dict(train_cfg=dict(max_iters=100, val_interval=10),
                      param_scheduler=[dict(type="MultiStepLR", by_epoch=False, end=100,
                                            milestones=[50])]))
    with pytest.raises(ValueError, match="val_interval is 10"):
        peers.schedule_options(cfg, 50)
    cfg.train_cfg.val_interval = 100
    cfg.param_scheduler = [dict(type="PolyLR", by_epoch=False, power=1.0, end=100)]
    with pytest.raises(ValueError, match="PolyLR"):
        peers.schedule_options(cfg, 50)
    cfg.param_scheduler = [dict(type="CosineAnnealingLR", by_epoch=False, T_max=80, end=100)]
    with pytest.raises(ValueError, match="T_max is 80"):
        peers.schedule_options(cfg, 50)
    cfg.param_scheduler = [dict(type="CosineAnnealingLR", by_epoch=False, begin=50, end=100,
                                T_max=100)]  # the whole run's length, not its own
    with pytest.raises(ValueError, match="T_max is 100, not the scheduler's length"):
        peers.schedule_options(cfg, 50)
    cfg.param_scheduler = []
    cfg.custom_hooks = [dict(type="IterPipelineSwitchHook", switch_iter=120)]
    with pytest.raises(ValueError, match="switch_iter is 120, outside training"):
        peers.schedule_options(cfg, 50)


def test_budget_is_aans_declared_iterations_at_aans_speed():
    """AAN's 6,000 iterations at 100 images/s (batch 32) are 1,920 s; a peer training 20
    images/s at batch 32 does 1,200 iterations in them, one at 15 images/s at batch 16 1,800,
    each a multiple of 50 (at least 50). Wrong input caught: rates taken as iterations/s
    (the batch left out) would give the batch-16 peer 900."""
    plan = peers.budget(dict(aan=100.0, a=20.0, b=15.0, slow=0.1),
                        dict(aan=32, a=32, b=16, slow=32), 6000, 50)
    assert plan["seconds"] == 1920.0
    assert plan["iterations"] == dict(aan=6000, a=1200, b=1800, slow=50)
    odd = peers.budget(dict(aan=100.0, c=21.0), dict(aan=32, c=32), 6000, 50)
    assert odd["iterations"]["c"] == 1250  # 1,260 exactly: the nearest multiple of 50
    assert peers.budget(dict(aan=100.0, c=21.5), dict(aan=32, c=32), 6000, 50)[
        "iterations"]["c"] == 1300  # 1,290: nearest, not rounded down
    assert peers.budget(dict(aan=100.0, c=21.0), dict(aan=32, c=32), 6000, 1)[
        "iterations"]["c"] == 1260


def _calibration(iterations: dict[str, int]) -> dict:
    cfgs = {arm: peers.load_config(arm) for arm in peers.ARMS}
    arms = {arm: dict(iterations=n, median_images_per_s=32.0 * n / 1920,
                      iterations_per_s=n / 1920, runs=[dict(images_per_s=32.0 * n / 1920)],
                      options=peers.run_options(arm, n, cfgs[arm]))
            for arm, n in iterations.items()}
    for arm in set(peers.PEERS) & set(iterations):
        arms[arm]["twice_options"] = peers.run_options(arm, 2 * iterations[arm], cfgs[arm])
    return dict(date="2026-01-01 00:00:00", rounds=3, warmup=10, iters=30, budget_iters=6000,
                round_to=50, budget_seconds=1920.0, arms=arms)


ITERATIONS = {"aan": 6000, "hrnetv2-w18": 1100, "resnet50-rle": 1250,
              "resnet50-softwing": 1250, "rtmpose-m": 850, "rtmpose-s": 1600}


def test_grid_runs_aan_as_shipped_and_each_peer_at_its_iterations():
    """8 equal-time runs, seeds outermost (every arm's seed 0 first), then each peer at twice
    its iterations, seed 0. AAN's runs get no option: its `mim train` command has only the
    seed and the data root."""
    specs = peers.specs(_calibration(ITERATIONS))
    train = [s for s in specs if s["part"] == "train"]
    assert [(s["arm"], s["seed"]) for s in train] == [
        (a, seed) for seed in (0, 1) for a in peers.ARMS]
    twice = [s for s in specs if s["part"] == "twice"]
    assert [(s["arm"], s["seed"], s["budget_iterations"]) for s in twice] == [
        (f"{a}_twice", 0, 2 * ITERATIONS[a]) for a in peers.PEERS]
    assert len({(s["arm"], s["seed"]) for s in specs}) == len(specs)
    aan = next(s for s in train if s["arm"] == "aan")
    assert aan["options"] == [] and aan["config"] == "mm_configs/aan_300w_cpu_aug.py"
    cmd = real_300w.train_command(aan["config"], Path("/w"), 1, Path("/d"), aan["options"])
    opts = cmd[cmd.index("--cfg-options") + 1:]
    assert opts[0] == "randomness.seed=1"
    assert all(o.split("=")[0].endswith("data_root") for o in opts[1:])
    hrnet = next(s for s in twice if s["arm"] == "hrnetv2-w18_twice")
    assert "train_cfg.max_iters=2200" in hrnet["options"]
    assert "param_scheduler.1.milestones=[1467,2017]" in hrnet["options"]
    rle = next(s for s in train if s["arm"] == "resnet50-rle")
    assert rle["config"] == "mm_configs/baselines/resnet50-rle_300w_cpu.py"
    assert "default_hooks.checkpoint.interval=1250" in rle["options"]


def test_calibration_measures_each_config_as_shipped(tmp_path):
    """The speed loop of every arm is its shipped model, batch and training data path (the
    data root aside): the CPU switch, loader and augmentation it trains with."""
    from bench.cpu_train_speed import build_config_cfg

    for arm, (_, config) in peers.ARMS.items():
        shipped = peers.load_config(arm)
        cfg = build_config_cfg(REPO / config, 128, "switch", tmp_path, 12)
        assert cfg.model == shipped.model, arm
        loader = shipped.train_dataloader
        inner = loader.dataset.get("dataset", loader.dataset)
        inner.data_root = str(tmp_path)
        assert cfg.train_dataloader == loader, arm
        assert cfg.optim_wrapper == shipped.optim_wrapper, arm
        assert cfg.train_cfg.max_iters == 12


def test_table_gives_each_arm_its_seeds_the_ratio_to_aan_and_every_run():
    runs = [finished_run("aan", 0, 4.0, 6000), finished_run("aan", 1, 4.2, 6000),
            finished_run("hrnetv2-w18", 0, 6.0, 1100), finished_run("hrnetv2-w18", 1, 6.6, 1100),
            finished_run("hrnetv2-w18_twice", 0, 5.0, 2200, "twice")]
    runs[2]["train_loss"] = [[100, 0.9], [400, 120.7], [1100, 0.98]]  # a run that diverged
    runs[3]["train_loss"] = [[100, 0.9], [1100, 0.3]]
    inference = dict(date="2026-01-02 00:00:00", threads=2, batch=32, how="eager fp32",
                     rows=[dict(arm="aan", params_m=6.21, latency_ms=4.04, images_per_s=250.0,
                                flip_test=False),
                           dict(arm="hrnetv2-w18", params_m=9.66, latency_ms=20.0,
                                images_per_s=50.0, flip_test=True)])
    payload = dict(machine="CPU: test", calibration=_calibration(ITERATIONS), runs=runs,
                   inference=inference)
    table = peers.results_markdown(payload)
    lines = table.splitlines()
    aan = next(x for x in lines if x.startswith("| AAN, CPU recipe"))
    assert "| 0, 1 | 4.10 ± 0.14 | 5.74 ± 0.20 | 0.5 ± 0.7 | 0.500 ± 0.000 |  | 6000 |" in aan
    assert "| 6.21 | 4.0 | 250.0 | no |" in aan
    hrnet = next(x for x in lines if x.startswith("| MMPose HRNetv2-w18, heatmaps |"))
    assert "| 6.30 ± 0.42 |" in hrnet and "| 1.54x | 1100 |" in hrnet  # 6.3 / 4.1
    assert "| 32.0 | 9.66 | 20.0 | 50.0 | yes |" in hrnet  # the budget, then inference
    twice = next(x for x in lines if "twice the budget |" in x and x.startswith("| MMPose"))
    assert "| 0 | 5.00 |" in twice and "| 1.22x | 2200 |" in twice and "| 64.0 |" in twice
    rle = next(x for x in lines if x.startswith("| MMPose ResNet-50 regression, RLE |"))
    assert "| 1250 (planned) |" in rle  # calibrated, not yet run
    assert table.count("| hrnetv2-w18 | 1 | 1100 | 6.60 |") == 1  # every run listed
    # each run's logged loss, first to last, and where it rose above its start
    assert "| 0.9 → 0.98 (peak 121 at 400) | 2 |" in table
    assert "| 0.9 → 0.3 | 2 |" in table and "|  | 2 |" in table  # a row without the log
    assert "`param_scheduler.1.milestones=[733,1008]`" in table  # the options a peer gets
    assert "none (as shipped)" in table
    # a file with the declaration only (before the calibration) still renders
    assert "Command:" in peers.results_markdown(dict(machine="CPU: test"))


def test_resume_keeps_the_recorded_calibration(tmp_path, monkeypatch):
    """The calibration is measured once, written before any run, and every later run takes
    its iterations from the file; --resume never measures another; training without one,
    or resuming with another budget, is a one-line error."""
    calls, trained = [], []

    def fake_calibrate(root, rounds, warmup, iters, budget_iters, round_to, study):
        calls.append(budget_iters)
        return _calibration(ITERATIONS)

    monkeypatch.setattr(peers, "full_stack_missing", list)  # the full-mmcv stack

    def fake_train(spec, root, runs, threads):
        saved = json.loads(out.read_text())
        assert saved["calibration"]["arms"]["resnet50-rle"]["iterations"] == 1250
        trained.append(spec)
        return trained_row(spec, 5.0)

    monkeypatch.setattr(peers, "calibrate", fake_calibrate)
    monkeypatch.setattr(real_300w, "train_one", fake_train)
    out = tmp_path / "peers.json"
    base = ["--300w-root", str(tmp_path), "--out", str(out), "--runs-dir", str(tmp_path / "r")]
    usage_error(peers.main, [*base, "--only", "train"])
    peers.main([*base, "--only", "speed"])
    assert calls == [6000] and json.loads(out.read_text())["runs"] == []
    peers.main([*base, "--only", "speed", "train", "--arms", "resnet50-rle", "--resume"])
    assert calls == [6000]  # kept, not measured again
    assert [(s["arm"], s["seed"], s["budget_iterations"]) for s in trained] == [
        ("resnet50-rle", 0, 1250), ("resnet50-rle", 1, 1250)]
    usage_error(peers.main, [*base, "--only", "train", "--resume", "--budget-iters", "100"])
    peers.main([*base, "--only", "train", "--resume", "--seeds", "1"])
    assert [(s["arm"], s["seed"]) for s in trained[2:]] == [
        (a, 1) for a in peers.ARMS if a != "resnet50-rle"]
    del trained[2:]
    peers.main([*base, "--only", "twice", "--resume"])
    assert [s["arm"] for s in trained[2:]] == [f"{a}_twice" for a in peers.PEERS]
    payload = json.loads(out.read_text())
    assert {(r["arm"], r["seed"]) for r in payload["runs"]} == {
        ("resnet50-rle", 0), ("resnet50-rle", 1), *((f"{a}_twice", 0) for a in peers.PEERS),
        *((a, 1) for a in peers.ARMS if a != "resnet50-rle")}
    assert "| 1250 |" in out.with_suffix(".md").read_text()
    # without --resume: not a new study over this one
    usage_error(peers.main, [*base, "--only", "speed"])
    assert json.loads(out.read_text()) == payload


def _lite_stack(monkeypatch) -> list:
    """The default stack, whatever this one is; the arms the fake calibration was given."""
    studied = []

    def fake_calibrate(root, rounds, warmup, iters, budget_iters, round_to, study):
        studied.append(sorted(study))
        return _calibration({a: ITERATIONS[a] for a in study})

    monkeypatch.setattr(peers, "full_stack_missing", lambda: ["mmcv's compiled ops"])
    monkeypatch.setattr(peers, "calibrate", fake_calibrate)
    return studied


def test_rtmpose_on_the_default_stack_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    """Where RTMPose cannot be built, asking for it (every arm is asked for by default)
    stops at once (exit 2) with one line naming the full-mmcv command and the --arms that
    run here; nothing is written."""
    _lite_stack(monkeypatch)
    out = tmp_path / "peers.json"
    base = ["--300w-root", str(tmp_path), "--out", str(out), "--runs-dir", str(tmp_path / "r")]
    for arms in ([], ["--arms", "aan", "rtmpose-s"]):
        usage_error(peers.main, [*base, *arms])
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert "RTMPose needs the full-mmcv stack" in error
        assert ".venv-fullmmcv/bin/python -m bench.peers_real_300w" in error
        assert ("--arms aan hrnetv2-w18 resnet50-rle resnet50-softwing here" if not arms else
                "--arms aan here") in error
        assert not out.exists()


def test_the_default_stack_studies_every_arm_but_rtmpose(tmp_path, monkeypatch):
    """``--arms`` without RTMPose on the default stack: the calibration takes every arm
    but RTMPose's, the declaration names those; resumed on the full stack with the RTMPose
    arms asked for, that calibration is a one-line error (it has no rate for them)."""
    studied = _lite_stack(monkeypatch)
    out = tmp_path / "peers.json"
    base = ["--300w-root", str(tmp_path), "--out", str(out), "--runs-dir", str(tmp_path / "r")]
    here = ["aan", "hrnetv2-w18", "resnet50-rle", "resnet50-softwing"]
    peers.main([*base, "--only", "speed", "--arms", *here])
    assert studied == [sorted(here)]
    assert sorted(json.loads(out.read_text())["arms"]) == sorted(here)
    monkeypatch.setattr(peers, "full_stack_missing", list)
    usage_error(peers.main, [*base, "--only", "train", "--resume"])


@pytest.mark.slow
def test_tiny_run_end_to_end():
    """Calibration of every arm this stack runs, `mim train` of AAN and a peer on the two
    faces of tests/data (each reaching its calibrated iterations), and every such arm's
    inference, in one call (on the default stack every arm but RTMPose's)."""
    study = peers.ARMS if not peers.full_stack_missing() else [
        a for a in peers.ARMS if a not in peers.FULL_STACK_ARMS]
    payload, _ = tiny_study("peers_real_300w", "--arms", "aan", "resnet50-softwing")
    calibrated_runs(payload, study, ("aan", "resnet50-softwing"))
    rows = {r["arm"]: r for r in payload["inference"]["rows"]}
    assert set(rows) == set(study)
    assert rows["aan"]["weights"] != "initial (no run)"
    assert rows["hrnetv2-w18"]["weights"] == "initial (no run)"
    assert rows["resnet50-softwing"]["params_m"] > rows["aan"]["params_m"]
