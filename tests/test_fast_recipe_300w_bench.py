"""bench/fast_recipe_300w.py, the fast-recipe study at equal training time: every arm's
cfg-options as `mim train` reads them (each the base with its change only, each building its
model, loss, hooks and lr schedule), the budget arithmetic, the combined rule, the table,
the calibration kept on resume, and the tiny end-to-end run."""

from __future__ import annotations

import copy
import json
import statistics
from pathlib import Path

import pytest
import torch
from conftest import REPO
from study_runs import (
    calibrated_runs,
    finished_run,
    flat_config,
    tiny_study,
    trained_row,
    usage_error,
)

from bench import fast_recipe_300w as fast
from bench import real_300w
from bench.common import cpu_model
from bench.equal_time import arm_config, schedule_options


def change_problems(config: str, options: list[str], declared: tuple[str, ...]) -> list[str]:
    """What is wrong with ``config`` + ``options`` as the base with the ``declared`` change:
    a key changed outside the declared ones, or a declared one left as the base has it."""
    base = flat_config(arm_config(fast.BASE_CONFIG, fast.arm_options("base")).to_dict())
    arm = flat_config(arm_config(config, options).to_dict())
    changed = {k for k in base.keys() | arm.keys() if base.get(k) != arm.get(k)}
    inside = lambda k, d: k == d or k.startswith(d + ".")  # noqa: E731
    problems = [f"{k} changed" for k in sorted(changed)
                if not any(inside(k, d) for d in declared)]
    problems += [f"{d} not changed" for d in declared
                 if not any(inside(k, d) for k in changed)]
    return problems


@pytest.mark.parametrize("arm", list(fast.ARMS))
def test_each_arm_is_the_base_with_its_change_only(arm):
    """Every arm's options, parsed as `mim train` parses them, change exactly the keys it
    declares (each of them, nothing else), the fair start included in every arm."""
    _, config, _, declared = fast.ARMS[arm]
    assert change_problems(config, fast.arm_options(arm), declared) == []
    cfg = arm_config(config, fast.arm_options(arm))
    assert cfg.model.head.output_init == "mean_shape"
    assert cfg.model.head.embedding_sigma == "median"


def test_a_wrong_arm_is_caught():
    """What the check above refuses: a misspelt key (read by nothing), an option that
    changes a second thing, and the base's fair start left out."""
    gap = list(fast.arm_options("gap"))
    misspelt = [o.replace("final_input", "final_inputs") for o in gap]
    assert "model.head.final_input not changed" in change_problems(
        fast.BASE_CONFIG, misspelt, fast.ARMS["gap"][3])
    assert "model.head.loss.loss.loss_weight changed" in change_problems(
        fast.BASE_CONFIG, [*gap, "model.head.loss.loss.loss_weight=1"], fast.ARMS["gap"][3])
    problems = change_problems(fast.BASE_CONFIG, list(fast.ARMS["gap"][2]),
                               fast.ARMS["gap"][3])
    assert "model.head.output_init changed" in problems


def test_the_base_is_the_shipped_batch_recipe_with_the_fair_start():
    shipped = flat_config(arm_config(fast.BASE_CONFIG).to_dict())
    base = flat_config(arm_config(fast.BASE_CONFIG, fast.arm_options("base")).to_dict())
    assert {k for k in shipped.keys() | base.keys() if shipped.get(k) != base.get(k)} == {
        "model.head.output_init", "model.head.embedding_sigma"}
    assert base["train_cfg.max_iters"] == fast.SHIPPED_ITERS
    assert base["model.head.loss.loss.type"] == "L1Loss"
    assert base["model.backbone.attention"] == "none"


@pytest.fixture(scope="module")
def faces() -> Path:
    """A 300W folder of the two faces in tests/data (the lr schedule's default end is read
    from the train loop, which builds the training data)."""
    from bench.equal_time_study import tiny_root

    return tiny_root()


def _runner(tmp_path, config: str, options: list[str], root: Path):
    """The Runner `mim train` builds from the config and options, on the data at ``root``."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    import aan_components.plugin  # noqa: F401

    init_default_scope("mmpose")
    cfg = arm_config(config, [*options, *real_300w.data_root_options(REPO / config, root)])
    cfg.work_dir = str(tmp_path)
    return Runner.from_cfg(cfg)


def _lrs(runner, iters: int) -> list[float]:
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    schedulers = runner.build_param_scheduler(runner.param_schedulers)
    lrs = []
    for _ in range(iters):
        lrs.append(runner.optim_wrapper.get_lr()["lr"][0])
        for s in schedulers:
            s.step()
    return lrs


@pytest.mark.parametrize("arm", list(fast.ARMS))
def test_every_arm_builds_its_model_loss_hooks_and_schedule(arm, tmp_path, faces):
    """Each arm at 40 iterations (its options and its schedule restated, as the runs get
    them) builds in mmengine's Runner: the model and its loss, the hooks (the EMA hook for
    ``ema`` only) and the lr it trains with, step by step (the step lr x0.1 at 60% and 85% of
    the 40; the cosine from 1e-3 down to 0 at the end)."""
    iters = 40
    _, config, _, _ = fast.ARMS[arm]
    own = fast.arm_options(arm)
    options = fast.merge_options(own, schedule_options(arm_config(config, own), iters))
    runner = _runner(tmp_path, config, options, faces)
    assert runner._train_loop["max_iters"] == iters  # noqa: SLF001 (built when train() runs)
    loss = runner.model.head.loss_module.loss
    assert type(loss).__name__ == ("SoftWingLoss" if arm == "softwing" else "L1Loss")
    hooks = [type(h).__name__ for h in runner.hooks]
    assert ("EMAHook" in hooks) == (arm == "ema")
    lrs = _lrs(runner, iters)
    if arm == "cosine":
        assert lrs[0] == pytest.approx(1e-3)
        assert lrs[iters // 2] == pytest.approx(0.5e-3, rel=1e-6)
        assert lrs[-1] == pytest.approx(1e-3 * (1 + torch.cos(torch.tensor(
            torch.pi * (iters - 1) / iters)).item()) / 2, rel=1e-4)
    else:
        assert lrs[:24] == pytest.approx([1e-3] * 24)
        assert lrs[24:34] == pytest.approx([1e-4] * 10)
        assert lrs[34:] == pytest.approx([1e-5] * 6)


def test_ema_arm_tests_and_saves_the_averaged_weights(tmp_path, faces):
    """The ``ema`` arm's hook, as the Runner registers it, swaps the averaged weights in for
    validation (the run's metrics) and saves them as the checkpoint's ``state_dict``."""
    runner = _runner(tmp_path, fast.BASE_CONFIG, fast.arm_options("ema"), faces)
    hook = next(h for h in runner.hooks if type(h).__name__ == "EMAHook")
    assert type(hook).__name__ == "EMAHook" and hook.priority == 49
    hook.before_run(runner)
    assert type(hook.ema_model).__name__ == "ExpMomentumEMA"
    assert hook.ema_model.update_buffers and hook.ema_model.momentum == 0.0002
    weights = dict(runner.model.named_parameters())
    name = next(iter(weights))
    for step in range(3):
        with torch.no_grad():
            weights[name].add_(1.0)
        hook.after_train_iter(runner, step)
    trained = weights[name].detach().clone()
    averaged = hook.ema_model.module.state_dict()[name].clone()
    assert not torch.equal(trained, averaged)
    hook.before_val_epoch(runner)
    torch.testing.assert_close(weights[name].detach(), averaged)
    hook.after_val_epoch(runner)
    torch.testing.assert_close(weights[name].detach(), trained)
    checkpoint = dict(state_dict=runner.model.state_dict())
    hook.before_save_checkpoint(runner, checkpoint)
    torch.testing.assert_close(checkpoint["state_dict"][name], averaged)


def test_softwing_arm_is_l1_below_2_px_and_amplifies_medium_errors():
    """The ``softwing`` loss as built: an error under 2 px of the 128 px crop costs what the
    base's L1 costs (same scale: the sum over 136 coordinates, mean over faces), one of 3 px
    gets 20 / (0.5 + 3) = 5.7x L1's gradient; MMPose's own defaults on these [0, 1]
    coordinates would be L1 everywhere (every error under omega1 = 2)."""
    from mmpose.registry import MODELS

    import aan_components.plugin  # noqa: F401

    def built(arm: str):
        return MODELS.build(arm_config(fast.ARMS[arm][1], fast.arm_options(arm))
                            .model.head.loss.loss)

    soft, l1 = built("softwing"), built("base")
    target = torch.rand(4, 68, 2)
    weight = torch.ones(4, 68, 1)
    small = target + 1.5 / 128
    assert soft(small, target, weight).item() == pytest.approx(
        l1(small, target, weight).item(), rel=1e-5)
    assert l1(small, target, weight).item() == pytest.approx(136 * 1.5 / 128, rel=1e-5)

    def grad(loss, px: float) -> float:
        pred = (target + px / 128).requires_grad_()
        loss(pred, target, weight).backward()
        return pred.grad.abs().mean().item()

    assert grad(soft, 3.0) / grad(l1, 3.0) == pytest.approx(20 / 3.5, rel=1e-4)
    assert grad(soft, 1.0) / grad(l1, 1.0) == pytest.approx(1.0, rel=1e-5)
    defaults = MODELS.build(dict(type="SoftWingLoss", use_target_weight=True))
    assert grad(defaults, 100.0) / grad(l1, 100.0) == pytest.approx(1.0, rel=1e-5)


CAL_RATES = {"base": 150.0, "gap": 170.0, "softwing": 150.0, "cosine": 150.0, "ema": 145.0,
             "per_sample": 120.0, "cache2x": 110.0}


def _loops(rates=CAL_RATES, minutes: float = 30.0, rounds=None) -> dict:
    """A calibration's loop measurements, not yet priced: each arm's loop at ``rates`` (or
    its ``rounds``, images/s each round), on this machine's CPU."""
    rounds = rounds or {a: [r] for a, r in rates.items()}
    arms = {a: dict(config=fast.ARMS[a][1], batch=32, runs=[dict(images_per_s=x) for x in r],
                    median_images_per_s=statistics.median(r)) for a, r in rounds.items()}
    return dict(date="2026-01-01 00:00:00", rounds=len(next(iter(rounds.values()))), warmup=10,
                iters=30, budget_minutes=minutes, budget_seconds=60 * minutes, round_to=50,
                environment=dict(cpu=cpu_model()), arms=arms)


def _steps(step_s: dict[str, float]) -> dict:
    """Steps measured alone (``fast.step_costs``' record): each arm's step seconds."""
    return dict(date="2026-01-01 01:00:00", reps=60, warmup=5, reference="base",
                arms={a: dict(step_s=v, minus_reference_s=v - step_s["base"], extra_hooks=[])
                      for a, v in step_s.items()})


def _calibration(rates=CAL_RATES, minutes: float = 30.0) -> dict:
    """A priced calibration whose loops ran at ``rates`` and whose steps alone differ as
    the loops do: every arm priced at its own rate."""
    steps = _steps({a: 32 / rates[a] for a in fast.STEP_ARMS})
    return fast.price(_loops(rates, minutes), steps)


def test_every_arm_trains_the_budget_at_its_own_rate():
    """30 minutes at 150 images/s of batch 32 are 8,437.5 iterations: 8,450 (multiple of
    50); gap at 170: 9,550 (9,562.5); per_sample at 120: 6,750. Each arm's lr schedule is
    restated for its own iterations and every key is given once (the cosine's shipped end
    replaced, not repeated). Wrong input caught: the rate taken as iterations/s (batch left
    out) would give 32x the iterations; cache2x at 110: 6,200 (6,187.5)."""
    cal = _calibration()
    iters = {a: e["iterations"] for a, e in cal["arms"].items()}
    assert iters == dict(base=8450, gap=9550, softwing=8450, cosine=8450, ema=8150,
                         per_sample=6750, cache2x=6200)
    base = cal["arms"]["base"]["options"]
    assert base[:2] == list(fast.FAIR_START)
    assert "param_scheduler.0.milestones=[5070,7183]" in base
    assert "train_cfg.max_iters=8450" in base and "train_cfg.val_interval=8450" in base
    cosine = cal["arms"]["cosine"]["options"]
    assert "param_scheduler.end=8450" in cosine
    keys = [o.split("=")[0] for o in cosine]
    assert len(keys) == len(set(keys)) and f"param_scheduler.end={fast.SHIPPED_ITERS}" not in cosine
    assert "param_scheduler.0.milestones=[4050,5738]" in cal["arms"]["per_sample"]["options"]


def _per_s(seconds: list[float]) -> list[float]:
    return [32 / x for x in seconds]


def _at_own_medians(loops: dict) -> dict:
    """``loops`` (a copy) priced as before the steps were measured alone: every arm at its
    own loops' median."""
    cal = copy.deepcopy(loops)
    cfgs = {a: arm_config(fast.ARMS[a][1], fast.arm_options(a)) for a in fast.ARMS}
    planned = fast.plan({a: e["median_images_per_s"] for a, e in cal["arms"].items()},
                        {a: e["batch"] for a, e in cal["arms"].items()},
                        cal["budget_seconds"], cal["round_to"], cfgs)
    for arm, entry in cal["arms"].items():
        entry.update(planned[arm])
    return cal


def test_arms_on_the_base_data_path_are_priced_from_their_pooled_loops():
    """Loops of the same step scatter (base 0.20, 0.16, 0.25 s an iteration; cosine, whose
    step is the base's, 0.18 and 0.19): each loop less its arm's step difference measured
    alone (softwing +0.01, ema +0.02, gap -0.05 s) is a measurement of the base's step;
    their median (0.195 s) plus each arm's difference prices it. So base and cosine train
    the same 9,250 iterations (1,800 s / 0.195), softwing 8,800, ema 8,350, gap 12,400;
    per_sample keeps its own loops' median (120 images/s: 6,750). Wrong input caught: each
    arm at its own loops' median, which gave cosine 9,750 iterations to base's 9,000."""
    loops = _loops(rounds=dict(
        base=_per_s([0.20, 0.16, 0.25]), gap=_per_s([0.14]), softwing=_per_s([0.21]),
        cosine=_per_s([0.18, 0.19]), ema=_per_s([0.26]), per_sample=[120.0],
        cache2x=[110.0]))
    unpriced = _at_own_medians(loops)["arms"]
    assert (unpriced["base"]["iterations"], unpriced["cosine"]["iterations"]) == (9000, 9750)
    cal = fast.price(loops, _steps(dict(base=0.1, gap=0.05, softwing=0.11, cosine=0.1,
                                        ema=0.12)))
    assert cal["pooled_base_step_s"] == 0.195
    assert {a: e["iterations"] for a, e in cal["arms"].items()} == dict(
        base=9250, gap=12400, softwing=8800, cosine=9250, ema=8350, per_sample=6750,
        cache2x=6200)
    assert cal["arms"]["cosine"]["images_per_s"] == cal["arms"]["base"]["images_per_s"] == 164.1
    assert cal["arms"]["per_sample"]["rate_from"] == "its own loop rounds' median"
    assert "step +0.0200 s from base's" in cal["arms"]["ema"]["rate_from"]
    table = "\n".join(fast.calibration_sections(cal))
    assert "(195.0 ms an iteration for the base)" in table
    assert "| `ema` | 123.1 | 123.1 | 120.0 (+20.0) | 148.8 |" in table
    assert "| `per_sample` | 120.0 | 120.0 |  | 120.0 |" in table


def _legacy(minutes: float = 30.0) -> dict:
    """A calibration recorded before the steps were measured alone (cosine's loop 4% faster
    than base's)."""
    return _at_own_medians(_loops(dict(CAL_RATES, cosine=156.0), minutes))


def test_a_calibration_without_steps_alone_is_priced_again_before_any_run(tmp_path,
                                                                          monkeypatch):
    """A recorded calibration without ``step_costs`` gets them on --resume (measured once),
    every arm priced again, the iterations it had kept as ``superseded_iterations``; with a
    run recorded, or on another CPU model, it is a one-line error instead."""
    measured = []
    monkeypatch.setattr(fast, "calibrate", lambda *a: _legacy())
    monkeypatch.setattr(fast, "step_costs", lambda root, reps, warmup: measured.append(reps)
                        or _steps({a: 32 / CAL_RATES[a] for a in fast.STEP_ARMS}))
    out = tmp_path / "fast.json"
    base = ["--300w-root", str(tmp_path), "--out", str(out), "--runs-dir", str(tmp_path / "r")]
    fast.main([*base, "--only", "speed"])  # the stand-in records the old kind
    assert measured == [60]  # ... and a first calibration is completed at once
    payload = json.loads(out.read_text())
    assert payload["calibration"]["superseded_iterations"]["cosine"] == 8800
    assert payload["calibration"]["arms"]["cosine"]["iterations"] == 8450
    fast.main([*base, "--only", "speed", "--resume"])
    assert measured == [60]  # priced once, kept
    legacy = dict(payload, calibration=_legacy())
    out.write_text(json.dumps(dict(legacy, runs=[finished_run("gap", 0, 3.8, 9550)])))
    usage_error(fast.main, [*base, "--only", "train", "--resume"])
    other = dict(legacy, calibration=dict(_legacy(), environment=dict(cpu="Other CPU")))
    out.write_text(json.dumps(other))
    usage_error(fast.main, [*base, "--only", "speed", "--resume"])
    assert measured == [60]
    assert "step_costs" not in json.loads(out.read_text())["calibration"]


def test_combined_arm_is_chosen_by_the_rule_and_priced_by_the_one_calibration():
    """The rule takes a change whose mean gain over base exceeds its paired sd (strictly):
    gap (gain 0.2, sd 0) and per_sample (0.25 vs 0.07) join, ema (gain 0.05, sd 0.07) and
    softwing (no gain) do not. Its seconds per iteration: base's 0.2133 + gap's -0.0251 +
    per_sample's +0.0533 = 0.2416 s, 7,450 iterations in 30 minutes, on the per-sample
    config with gap's options."""
    nme = dict(base=(4.0, 4.1), gap=(3.8, 3.9), softwing=(4.0, 4.1), cosine=(4.1, 4.1),
               ema=(3.9, 4.1), per_sample=(3.7, 3.9), cache2x=(4.0, 4.1))
    runs = [dict(arm=a, seed=s, nme_io=v) for a, vals in nme.items()
            for s, v in zip((0, 1), vals, strict=True)]
    assert fast.combined_rule(runs[:-1]) is None  # per_sample seed 1 missing
    rule = fast.combined_rule(runs)
    assert rule["changes"] == ["gap", "per_sample"]
    assert rule["arms"]["ema"]["chosen"] is False and rule["arms"]["ema"]["gain"] == 0.05
    combined = fast.combined_plan(_calibration(), rule["changes"])
    assert combined["config"] == fast.PER_SAMPLE_CONFIG
    assert combined["iterations"] == 7450
    assert "model.head.final_input=gap" in combined["options"]
    assert "param_scheduler.0.milestones=[4470,6333]" in combined["options"]
    specs = fast.combined_specs(combined)
    assert [(s["arm"], s["seed"], s["budget_iterations"]) for s in specs] == [
        ("combined", 0, 7450), ("combined", 1, 7450)]
    assert fast.combined_specs(dict(combined, changes=["gap"])) == []


def test_combined_arm_takes_one_data_path():
    """per_sample and cache2x are two data paths, not changes that add: when both pass the
    rule, the combined arm takes the one with the larger gain (cache2x's 0.2 over
    per_sample's 0.1 here), and the table says why the other does not join. Wrong input
    caught: both taken, which would put cache2x's options on the per-sample config."""
    nme = dict(base=(4.0, 4.1), gap=(3.8, 3.9), softwing=(4.0, 4.1), cosine=(4.1, 4.1),
               ema=(4.0, 4.1), per_sample=(3.9, 4.0), cache2x=(3.8, 3.9))
    runs = [finished_run(a, s, v, 8450) for a, vals in nme.items()
            for s, v in zip((0, 1), vals, strict=True)]
    rule = fast.combined_rule(runs)
    assert rule["changes"] == ["gap", "cache2x"]
    assert rule["arms"]["per_sample"]["passed"] and not rule["arms"]["per_sample"]["chosen"]
    combined = fast.combined_plan(_calibration(), rule["changes"])
    assert combined["config"] == fast.BASE_CONFIG
    assert "train_dataloader.dataset.dataset.pipeline.2.input_size=(448,448)" in \
        combined["options"]
    table = fast.results_markdown(dict(machine="CPU: test", calibration=_calibration(),
                                       runs=runs))
    assert "| `per_sample` | 0.100 | 0.000 | no: the other data path gains more |" in table
    assert "| `cache2x` | 0.200 | 0.000 | yes |" in table


def test_a_combined_arm_of_one_change_is_not_listed_as_planned():
    """When the rule takes one change, the combined arm would be that change's own arm: it is
    not run, and the table lists no row planning it (the wrong output: a `combined` row with
    its iterations "(planned)"), only the rule's line saying so."""
    nme = dict(base=(4.0, 4.1), gap=(4.2, 4.3), softwing=(4.1, 4.2), cosine=(3.9, 4.0),
               ema=(4.0, 4.2), per_sample=(4.1, 4.2), cache2x=(4.2, 4.2))
    runs = [finished_run(a, s, v, 8450) for a, vals in nme.items()
            for s, v in zip((0, 1), vals, strict=True)]
    rule = fast.combined_rule(runs)
    assert rule["changes"] == ["cosine"]
    combined = fast.combined_plan(_calibration(), rule["changes"])
    table = fast.results_markdown(dict(machine="CPU: test", calibration=_calibration(),
                                       runs=runs, combined=combined))
    assert "| `combined`" not in table
    assert ": `cosine` (fewer than two: not run)." in table
    assert "`cosine` (3.95)." in table  # the pick, with nothing pending


def test_table_gives_each_arm_its_seeds_paired_difference_and_goal():
    runs = [finished_run("base", 0, 4.0, 8450), finished_run("base", 1, 4.2, 8450),
            finished_run("gap", 0, 3.7, 9550), finished_run("gap", 1, 3.8, 9550),
            finished_run("per_sample", 0, 3.4, 6750)]
    table = fast.results_markdown(dict(machine="CPU: test", calibration=_calibration(),
                                       runs=runs))
    lines = table.splitlines()
    base = next(x for x in lines if x.startswith("| `base`"))
    assert "| 0, 1 | 4.00, 4.20 | 4.10 ± 0.14 |  |" in base and base.endswith("| no |")
    gap = next(x for x in lines if x.startswith("| `gap`"))
    assert "| 3.75 ± 0.07 | -0.35 ± 0.07 |" in gap and "| 9550 | 170.0 | yes |" in gap
    per_sample = next(x for x in lines if x.startswith("| `per_sample`"))
    assert "| 3.40 | -0.60 |" in per_sample and per_sample.endswith("| yes, moonshot too |")
    ema = next(x for x in lines if x.startswith("| `ema`"))
    assert "| 8150 (planned) | 145.0 |" in ema
    assert "Combined arm" not in table  # the one-change part is not complete
    # the shipped recipe: gap's 3.75 over both seeds, not per_sample's 3.40 on seed 0 alone
    assert ("the arm with the lowest mean NME(IO) over seeds 0 and 1: `gap` (3.75); so far: "
            "`softwing`, `cosine`, `ema`, `per_sample`, `cache2x` not yet run on every seed."
            in table)
    assert table.count("| gap | 1 | 9550 | 3.80 |") == 1  # every run listed
    assert "`param_scheduler.end=8450`" in table  # the options an arm gets
    assert "Budget: 30 minutes of training." in table
    assert "Command:" in fast.results_markdown(dict(machine="CPU: test"))


def test_resume_keeps_the_calibration_and_combined_runs_after_the_rule(tmp_path, monkeypatch):
    """The calibration is written before any run and kept on --resume; training without it,
    another budget on resume, or the combined part before every one-change run are one-line
    errors; the combined part then trains what the rule picked."""
    calls, trained = [], []
    nme = dict(base=4.0, gap=3.8, softwing=4.0, cosine=4.1, ema=4.0, per_sample=3.7,
               cache2x=4.0)

    def fake_calibrate(root, rounds, warmup, iters, minutes, round_to, step_reps,
                       step_warmup):
        calls.append(minutes)
        return _calibration(minutes=minutes)

    def fake_train(spec, root, runs, threads):
        saved = json.loads(out.read_text())
        assert saved["calibration"]["arms"]["gap"]["iterations"] == 9550
        trained.append(spec)
        return trained_row(spec, nme.get(spec["arm"], 3.5)
                           + 0.1 * spec["seed"] * (spec["arm"] == "gap"))

    monkeypatch.setattr(fast, "calibrate", fake_calibrate)
    monkeypatch.setattr(real_300w, "train_one", fake_train)
    out = tmp_path / "fast.json"
    base = ["--300w-root", str(tmp_path), "--out", str(out), "--runs-dir", str(tmp_path / "r")]
    usage_error(fast.main, [*base, "--only", "train"])
    fast.main([*base, "--only", "speed"])
    assert calls == [30.0] and json.loads(out.read_text())["runs"] == []
    usage_error(fast.main, [*base, "--only", "train", "--resume", "--budget-minutes", "20"])
    fast.main([*base, "--only", "speed", "train", "--arms", "gap", "--resume"])
    assert calls == [30.0]  # kept, not measured again
    assert [(s["arm"], s["seed"], s["budget_iterations"]) for s in trained] == [
        ("gap", 0, 9550), ("gap", 1, 9550)]
    usage_error(fast.main, [*base, "--only", "combined", "--resume"])
    fast.main([*base, "--resume"])
    assert [(s["arm"], s["seed"]) for s in trained[2:]] == [
        (a, s) for s in (0, 1) for a in fast.ARMS if a != "gap"]
    fast.main([*base, "--only", "combined", "--resume"])
    payload = json.loads(out.read_text())
    # gap: gain 0.15, sd 0.07; per_sample: 0.3, sd 0; the rest gain nothing
    assert payload["combined"]["changes"] == ["gap", "per_sample"]
    combined = [s for s in trained if s["arm"] == "combined"]
    assert [s["seed"] for s in combined] == [0, 1]
    assert combined[0]["config"] == fast.PER_SAMPLE_CONFIG
    assert "model.head.final_input=gap" in combined[0]["options"]
    assert "`gap`, `per_sample`." in out.with_suffix(".md").read_text()
    # without --resume: not a new study over this one
    usage_error(fast.main, [*base, "--only", "speed"])


@pytest.mark.slow
def test_tiny_run_end_to_end():
    """Calibration of every arm, `mim train` of base and ema on the two faces of tests/data
    (each reaching its calibrated iterations); the ema run's checkpoint holds the averaged
    weights as its state_dict and the trained ones beside them (mmengine's EMAHook swaps the
    two when it saves: ``ema_state_dict`` then holds the source model's)."""
    payload, _ = tiny_study("fast_recipe_300w", "--arms", "base", "ema")
    runs = calibrated_runs(payload, fast.ARMS, ("base", "ema"))
    steps = payload["calibration"]["step_costs"]["arms"]
    assert list(steps) == list(fast.STEP_ARMS)  # measured alone, the base first
    assert steps["ema"]["extra_hooks"] == ["EMAHook"] and steps["base"]["extra_hooks"] == []
    assert steps["base"]["minus_reference_s"] == 0 < steps["base"]["step_s"]
    assert "superseded_iterations" not in payload["calibration"]
    pointer = Path(runs["ema"]["work_dir"]) / "last_checkpoint"
    checkpoint = torch.load(pointer.read_text().strip(), map_location="cpu",
                            weights_only=False)
    assert int(checkpoint["ema_state_dict"]["steps"]) == runs["ema"]["iterations"]
    trained = {k.removeprefix("module."): v for k, v in checkpoint["ema_state_dict"].items()
               if k.startswith("module.")}
    averaged = checkpoint["state_dict"]
    assert trained.keys() == averaged.keys()
    weights = [k for k, v in averaged.items() if v.is_floating_point() and "running" not in k]
    assert any(not torch.equal(averaged[k], trained[k]) for k in weights)
