"""A fast CPU recipe chosen by accuracy at equal training time: AAN on the 300W training faces
a user has, tested on the common subset (554 faces), every arm trained for the same time on
this machine (``--budget-minutes``, default 30), 2 seeds each, one change at a time from a
base. Goal: NME inter-ocular <= 3.8% (moonshot 3.5%) with <= 30 minutes of training.

Base: ``mm_configs/aan_300w_cpu_batchaug.py`` as shipped (the fastest recipe: the
augmentation made on the batch, both cores train the model; L1 loss, no attention) with the
fair start of ``bench.table5_real_300w`` (``model.head.output_init=mean_shape
model.head.embedding_sigma=median``), the start with which no attention reached 3.96 ± 0.01
in the attention study's part (c) (``aan_300w_cpu_aug.py``, L1, 6,000 iterations). Arms, each
the base with one change (``ARMS``; every run is `mim train mmpose <config>` with
``--cfg-options``):

- ``base``;
- ``gap``: the regressors read globally average pooled maps instead of the flattened ones
  (``model.head.final_input=gap model.head.branch_input=gap``);
- ``softwing``: MMPose's ``SoftWingLoss`` in the head's ``IntermediateSupervisionLoss`` in
  place of L1. Its defaults (omega1 2, omega2 20, epsilon 0.5) are read on its RegressionLabel
  coordinates, [0, 1] across the crop (MMPose's WFLW config
  td-reg_res50_softwingloss_8xb64-210e_wflw-256x256 uses them so): there every error is
  below omega1 (2 = twice the crop), so the loss never leaves its linear part and is L1.
  Here the thresholds are the loss's values in pixels of the crop the network sees (128 px):
  omega1 2/128, omega2 20/128, epsilon 0.5/128 in the head's normalised coordinates, so an
  error under 2 px is L1 as in the base and one of 2-19.5 px gets up to 8x its gradient.
  ``loss_weight=1``: SoftWing already sums over the 68 points' 136 coordinates (mean over
  faces), the base L1's scale (``loss_weight=136`` on an element mean), so in its linear
  part the gradient is the base's exactly;
- ``cosine``: one ``CosineAnnealingLR`` over the run (lr 1e-3 to 0) instead of the step lr
  (x0.1 at 60% and 85%). ``param_scheduler._delete_=True`` makes the list one scheduler (a
  dict: mmengine takes both); an option cannot replace one element of a list whole;
- ``ema``: mmengine's ``EMAHook`` with MMPose's settings (its RTMPose configs:
  ``ExpMomentumEMA``, momentum 0.0002, gamma 2000, ``update_buffers=True``, priority 49),
  given under ``default_hooks.ema`` (``--cfg-options`` cannot append to the
  ``custom_hooks`` list; the Runner registers a default hook by its priority as it does a
  custom one). Its momentum starts near 1 and falls as exp(-step/2000) to 0.0002, so at the
  end of an n-iteration run it averages about the last 1 / (exp(-n/2000) + 0.0002) steps
  (about 70 at 8,500). mmengine's default (``ExponentialMovingAverage``, momentum 0.0002
  from the first step) would still hold exp(-0.0002 n) of the random start at the end (18%
  at 8,500), so it is not the arm. The EMA weights are what is tested: the hook swaps them
  in for the final validation (the run's metrics) and saves them as the checkpoint's
  ``state_dict``;
- ``per_sample``: ``mm_configs/aan_300w_cpu_aug.py`` (the same augmentation per sample on a
  loader worker, one compute thread) with the fair start instead of the batch recipe:
  slower, so fewer iterations in the same time.
- ``cache2x`` (added with the batch-augmentation study's outcome, before any run of this
  study): the batch recipe's crop cache at twice the pixels over the same margin (448 px)
  with the zoom range halved, so that the face is as large in the crop as the base's
  (``bench.real_300w``'s ``aan_batchaug_cache2x_zoom``: 0.05 better than its reference at
  equal iterations, but slower as it ran; at equal time its speed is paid in iterations).

``per_sample`` and ``cache2x`` are two data paths, not changes that add: if the rule below
picks both, the ``combined`` arm takes the one with the larger gain.

Parts (``--only``):

- ``speed``: the calibration (``bench.equal_time``, as ``bench.peers_real_300w``): images/s
  of every arm's `mim train` loop (its config and options; no validation or checkpoints) on
  the real data, every arm once a round, median of ``--speed-rounds`` (``SPEED``: 5 rounds
  of 150 timed iterations after 20; its arms differ in cost by a few percent). Loops of the
  same step scattered more than that on this shared machine, so the arms on the base's data
  path (``STEP_ARMS``: all but ``per_sample`` and ``cache2x``) are priced from their
  training steps measured alone, interleaved step by step (``--step-reps``, ``STEPS``: 60
  rounds after 5): each loop round less its arm's step difference from the base's measures
  the base's step; the median of all of them plus an arm's own difference is its seconds per
  iteration (``bench.equal_time.shared_step_rates``). The other data paths keep their own
  loops' median. Each arm trains ``round(budget_s x its iterations/s)`` iterations (a
  multiple of ``--round-to``) with its lr schedule restated at the same fractions (the step
  lr's steps at 60% and 85%, the cosine's length, validation and checkpoint at the end). The
  calibration, every arm's iterations and ``--cfg-options`` are written to the JSON before
  any training run; ``--resume`` keeps a recorded calibration and never measures another
  (one recorded before the steps were measured alone gets them and is priced again, before
  any run); its iterations are equal time on its own CPU model only, so training on another
  is a one-line error (``--other-cpu`` overrides; every run's row names its CPU);
- ``train``: every arm x seeds 0 and 1, seeds outermost (``bench.real_300w``'s runs: the
  ordinary `mim train`, metrics of the run's final validation on common);
- ``combined`` (asked for by name, after ``train``): the base with every change whose
  paired mean gain over ``base`` (base minus arm, seed by seed) exceeds the sd of those
  paired differences, chosen by that rule from the recorded runs, 2 seeds. Its iterations
  come from the same calibration: its seconds per iteration are the base's plus each chosen
  change's difference from the base's. It runs only when the rule picks two changes or more
  (one change is already an arm; none leaves the base).

The table gives each arm's NME inter-ocular per seed, mean ± sd, its paired difference from
``base``, inter-pupil NME, FR@0.1, AUC@0.08, iterations, the calibration's images/s and
whether the mean meets the goal; then the combined rule, every run and the calibration.

    python -m bench.fast_recipe_300w --300w-root data/300w --resume --parallel 2   # the study
    python -m bench.fast_recipe_300w --300w-root data/300w --only combined --resume --parallel 2
    python -m bench.fast_recipe_300w --tiny                                        # smoke run
    python -m bench.fast_recipe_300w --summarise bench/results/fast_recipe_300w.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from bench.common import (
    BenchParser,
    cpu_model,
    environment,
    machine_text,
    markdown_table,
    mean_sd,
)
from bench.equal_time import (
    arm_config,
    iterations_in,
    measure_rates,
    measure_step_costs,
    merge_options,
    schedule_options,
    shared_step_rates,
)
from bench.equal_time_study import (
    parse_study_args,
    recorded_calibration,
    selected_pending,
    speed_part,
    study_grid,
    study_parser,
)
from bench.real_300w import BATCH_AUGMENT, CACHE_2X, run_grid
from bench.table5_real_300w import STARTS

TOOL = "fast_recipe_300w"
BASE_CONFIG = "mm_configs/aan_300w_cpu_batchaug.py"
# the config of the recipe the study picks (best_arm), whose run is the shipped model
SHIPPED_CONFIG = "mm_configs/aan_300w_cpu_fast.py"
PER_SAMPLE_CONFIG = "mm_configs/aan_300w_cpu_aug.py"
FAIR_START = STARTS["fair"]
SHIPPED_ITERS = 6000  # the base config's train_cfg.max_iters (the cosine's length, restated)
CROP_PX = 128  # the crop the network sees: SoftWing's pixel thresholds in its units
LOSS = "model.head.loss.loss"
# arm: (label, config, cfg-options beyond the fair start, the config keys it changes);
# declared before any run
ARMS = {
    "base": ("base: batch augmentation, L1, step lr", BASE_CONFIG, (), ()),
    "gap": ("regressors on pooled maps (gap)", BASE_CONFIG,
            ("model.head.final_input=gap", "model.head.branch_input=gap"),
            ("model.head.final_input", "model.head.branch_input")),
    "softwing": ("SoftWing loss (thresholds in crop pixels)", BASE_CONFIG,
                 (f"{LOSS}.type=SoftWingLoss", f"{LOSS}.loss_weight=1",
                  f"{LOSS}.omega1={2 / CROP_PX}", f"{LOSS}.omega2={20 / CROP_PX}",
                  f"{LOSS}.epsilon={0.5 / CROP_PX}"), (LOSS,)),
    "cosine": ("cosine lr over the run", BASE_CONFIG,
               ("param_scheduler._delete_=True", "param_scheduler.type=CosineAnnealingLR",
                "param_scheduler.by_epoch=False", "param_scheduler.begin=0",
                f"param_scheduler.end={SHIPPED_ITERS}"), ("param_scheduler",)),
    "ema": ("EMA of the weights (MMPose's EMAHook settings)", BASE_CONFIG,
            ("default_hooks.ema.type=EMAHook", "default_hooks.ema.ema_type=ExpMomentumEMA",
             "default_hooks.ema.momentum=0.0002", "default_hooks.ema.update_buffers=True",
             "default_hooks.ema.priority=49"), ("default_hooks.ema",)),
    "per_sample": ("per-sample augmentation (aan_300w_cpu_aug.py)", PER_SAMPLE_CONFIG, (),
                   ("train_dataloader", "train_pipeline", "model.data_preprocessor",
                    "cache_size", "cache_padding", "cache_codec")),
    "cache2x": ("crop cache at 2x pixels, zoom halved (same face scale)", BASE_CONFIG,
                (*CACHE_2X, f"{BATCH_AUGMENT}.scale=(0.435,0.555)"),
                ("train_dataloader.dataset.dataset.pipeline.2.input_size",
                 "train_dataloader.dataset.dataset.pipeline.3.encoder.input_size",
                 f"{BATCH_AUGMENT}.scale")),
}
# alternative data paths: the combined arm takes at most one of them
DATA_PATHS = ("per_sample", "cache2x")
BASE = "base"
# the arms on the base's data path, whose training steps alone are measured and priced
# against the base's (shared_step_rates); the base first
STEP_ARMS = tuple(a for a in ARMS if a not in DATA_PATHS)
CHANGES = tuple(a for a in ARMS if a != BASE)
COMBINED = "combined"
SEEDS = (0, 1)
PARTS = ("speed", "train", "combined")
DEFAULT_PARTS = ("speed", "train")
GOAL, MOONSHOT = 3.8, 3.5


def arm_options(arm: str) -> list[str]:
    """An arm's ``--cfg-options`` at the shipped length: the fair start, then its change."""
    return [*FAIR_START, *ARMS[arm][2]]


def combined_arm(changes: list[str]) -> tuple[str, list[str]]:
    """The config and options of the base with ``changes`` (arms) together."""
    config = PER_SAMPLE_CONFIG if "per_sample" in changes else BASE_CONFIG
    return config, [*FAIR_START, *(o for c in changes for o in ARMS[c][2])]


def plan(rates: dict[str, float], batches: dict[str, int], seconds: float, round_to: int,
         cfgs: dict) -> dict[str, dict]:
    """Every arm's iterations in ``seconds`` at its calibrated images/s, and its options:
    its own, then its schedule restated for them (``bench.equal_time.schedule_options`` on
    the arm's config, ``cfgs[arm]``).

    Example:
        >>> from mmengine.config import Config
        >>> cfg = Config(dict(train_cfg=dict(by_epoch=False, max_iters=6000,
        ...                                  val_interval=6000),
        ...                   param_scheduler=[dict(type='MultiStepLR', by_epoch=False,
        ...                                         begin=0, end=6000,
        ...                                         milestones=[3600, 5100])]))
        >>> p = plan(dict(base=150.0), dict(base=32), 1800, 50, dict(base=cfg))
        >>> p["base"]["iterations"], p["base"]["options"][-1]
        (8450, 'param_scheduler.0.milestones=[5070,7183]')
    """
    out = {}
    for arm, rate in rates.items():
        n = iterations_in(seconds, rate, batches[arm], round_to)
        own = arm_options(arm) if arm in ARMS else []
        out[arm] = dict(iterations=n, iterations_per_s=round(rate / batches[arm], 3),
                        options=merge_options(own, schedule_options(cfgs[arm], n)))
    return out


def step_costs(root: Path, reps: int, warmup: int) -> dict:
    """The training steps of :data:`STEP_ARMS` alone, interleaved
    (:func:`bench.equal_time.measure_step_costs`), with when and where they were measured."""
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    arms = measure_step_costs({a: (ARMS[a][1], arm_options(a)) for a in STEP_ARMS}, root,
                              reps, warmup, TOOL)
    return dict(date=started, reps=reps, warmup=warmup, reference=BASE,
                environment=environment(), arms=arms)


def price(calibration: dict, steps: dict) -> dict:
    """``calibration`` with every arm's calibrated images/s (``images_per_s``), how it was
    reached (``rate_from``) and its iterations and options: the arms on the base's data
    path (:data:`STEP_ARMS`) at the pooled loop rate of the base's step plus their own
    step's measured difference (:func:`bench.equal_time.shared_step_rates`; ``steps``:
    :func:`step_costs`), the other data paths at their own loops' median."""
    cal = calibration["arms"]
    batch = cal[BASE]["batch"]
    differences = {a: steps["arms"][a]["minus_reference_s"] for a in STEP_ARMS}
    pooled, shared = shared_step_rates(
        {a: [x["images_per_s"] for x in cal[a]["runs"]] for a in STEP_ARMS}, differences,
        batch)
    cfgs = {a: arm_config(ARMS[a][1], arm_options(a)) for a in ARMS}
    rates = {a: shared.get(a, e["median_images_per_s"]) for a, e in cal.items()}
    planned = plan(rates, {a: e["batch"] for a, e in cal.items()},
                   calibration["budget_seconds"], calibration["round_to"], cfgs)
    for arm, entry in cal.items():
        entry.update(planned[arm], images_per_s=round(rates[arm], 1), rate_from=(
            f"pooled loop rounds of {', '.join(STEP_ARMS)}, step {differences[arm]:+.4f} s "
            f"from {BASE}'s" if arm in shared else "its own loop rounds' median"))
    return dict(calibration, step_costs=steps, pooled_base_step_s=round(pooled, 5))


def calibrate(root: Path, rounds: int, warmup: int, iters: int, minutes: float,
              round_to: int, step_reps: int, step_warmup: int) -> dict:
    """The ``speed`` part: every arm's loop in rounds (:func:`bench.equal_time.measure_rates`),
    the training steps alone (:func:`step_costs`), the budget and every arm's iterations
    and options (:func:`price`)."""
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    arms = measure_rates({a: (ARMS[a][1], arm_options(a)) for a in ARMS}, root, rounds, warmup,
                         iters, TOOL)
    calibration = dict(date=started, rounds=rounds, warmup=warmup, iters=iters,
                       budget_minutes=minutes, budget_seconds=60.0 * minutes, round_to=round_to,
                       omp_num_threads=os.environ.get("OMP_NUM_THREADS"),
                       environment=environment(), arms=arms)
    return price(calibration, step_costs(root, step_reps, step_warmup))


def complete_calibration(grid, parser, root: Path, step_reps: int, step_warmup: int) -> None:
    """A recorded calibration from before the steps were measured alone (no ``step_costs``;
    each arm priced at its own loops' median) gets them, measured now, and is priced again
    before any run counts; the iterations it had are kept beside it
    (``superseded_iterations``). A recorded run (trained at those iterations, not at equal
    time with the new ones) or another CPU model than the calibration's is a one-line
    error."""
    cal = grid.payload.get("calibration")
    if not cal or "step_costs" in cal:
        return
    if grid.runs:
        parser.error(f"{grid.out}: {len(grid.runs)} runs were trained at the iterations of a "
                     f"calibration without its steps measured alone; pricing it again would "
                     f"leave them at other iterations than the arms still to run")
    measured_on = (cal.get("environment") or {}).get("cpu")
    if measured_on != cpu_model():
        parser.error(f"{grid.out}: calibration.environment.cpu is {measured_on!r}, this "
                     f"machine's CPU is {cpu_model()!r}: its steps alone must be measured on "
                     f"the CPU its loops were")
    old = {a: e["iterations"] for a, e in cal["arms"].items()}
    print(f"[{TOOL}] {grid.out}: the calibration of {cal['date']} has no steps measured "
          f"alone: measuring them and pricing its arms again before any run", flush=True)
    grid.payload["calibration"] = dict(price(cal, step_costs(root, step_reps, step_warmup)),
                                       superseded_iterations=old)
    grid.write()


def paired(runs: list[dict], arm: str) -> list[float]:
    """``arm``'s NME(IO) minus ``base``'s, seed by seed (the seeds both have)."""
    base = {r["seed"]: r["nme_io"] for r in runs if r["arm"] == BASE}
    return [r["nme_io"] - base[r["seed"]] for r in sorted(runs, key=lambda r: r["seed"])
            if r["arm"] == arm and r["seed"] in base]


def combined_rule(runs: list[dict], seeds=SEEDS) -> dict | None:
    """The declared rule for the ``combined`` arm: every change whose paired mean gain over
    ``base`` (``-mean(arm - base)``, seed by seed) exceeds the sd of its paired
    differences, and of the :data:`DATA_PATHS` that pass, only the one with the larger gain.
    ``None`` until the base and every change have all their ``seeds``.

    Example:
        >>> runs = [dict(arm=a, seed=s, nme_io=v) for a, vals in dict(
        ...     base=(4.0, 4.1), gap=(3.8, 3.9), softwing=(3.9, 4.2), cosine=(4.0, 4.1),
        ...     ema=(4.1, 4.1), per_sample=(3.95, 4.05), cache2x=(3.9, 4.0)).items()
        ...     for s, v in zip((0, 1), vals)]
        >>> rule = combined_rule(runs)
        >>> rule["changes"], rule["arms"]["softwing"]["chosen"]
        (['gap', 'cache2x'], False)
        >>> rule["arms"]["per_sample"]["passed"], rule["arms"]["per_sample"]["chosen"]
        (True, False)
    """
    done = {(r["arm"], r["seed"]) for r in runs}
    if any((a, s) not in done for a in ARMS for s in seeds):
        return None
    arms = {}
    for arm in CHANGES:
        diffs = paired(runs, arm)
        gain, sd = -statistics.mean(diffs), statistics.stdev(diffs)
        arms[arm] = dict(gain=round(gain, 4), sd=round(sd, 4), passed=gain > sd,
                         chosen=gain > sd)
    paths = [a for a in DATA_PATHS if arms[a]["passed"]]
    for arm in paths:
        arms[arm]["chosen"] = arm == max(paths, key=lambda a: arms[a]["gain"])
    return dict(changes=[a for a in CHANGES if arms[a]["chosen"]], arms=arms)


def arms_on_every_seed(runs: list[dict], seeds=SEEDS) -> dict[str, dict[int, float]]:
    """``{arm: {seed: NME(IO)}}`` of the arms that have run on every one of ``seeds``."""
    by_arm: dict[str, dict[int, float]] = {}
    for r in runs:
        by_arm.setdefault(r["arm"], {})[r["seed"]] = r["nme_io"]
    return {a: v for a, v in by_arm.items() if all(s in v for s in seeds)}


def best_arm(runs: list[dict], seeds=SEEDS) -> tuple[str, float] | None:
    """The recipe this study ships (``mm_configs/aan_300w_cpu_fast.py`` and the pretrained
    model): the arm, ``combined`` included, with the lowest mean NME(IO) over every one of
    ``seeds``, among the arms that have them all (while the grid runs: the best so far);
    ``None`` while none has. Returns the arm and its mean.

    Example:
        >>> runs = [dict(arm=a, seed=s, nme_io=v) for a, s, v in (
        ...     ("base", 0, 3.8), ("base", 1, 3.9), ("gap", 0, 3.6), ("cosine", 0, 3.7),
        ...     ("cosine", 1, 3.8))]
        >>> best_arm(runs)  # gap has one seed only
        ('cosine', 3.75)
        >>> best_arm(runs[2:4]) is None  # gap and cosine seed 0 only
        True
    """
    means = {a: statistics.mean(v[s] for s in seeds)
             for a, v in arms_on_every_seed(runs, seeds).items()}
    if not means:
        return None
    arm = min(means, key=means.get)
    return arm, round(means[arm], 4)


def combined_plan(calibration: dict, changes: list[str]) -> dict:
    """The combined arm's config, iterations and options from the one calibration: seconds
    per iteration of the base plus each change's difference from the base's."""
    cal = calibration["arms"]
    base_s = 1 / cal[BASE]["iterations_per_s"]
    per_iter = base_s + sum(1 / cal[c]["iterations_per_s"] - base_s for c in changes)
    config, options = combined_arm(changes)
    batch = cal[BASE]["batch"]
    n = iterations_in(calibration["budget_seconds"], batch / per_iter, batch,
                      calibration["round_to"])
    return dict(config=config, changes=list(changes), iterations=n,
                iterations_per_s=round(1 / per_iter, 3),
                options=merge_options(options, schedule_options(arm_config(config, options),
                                                                n)))


def specs(calibration: dict, seeds=SEEDS) -> list[dict]:
    """One run spec per (arm, seed) of the ``train`` part, seeds outermost so that an
    interrupted grid has every arm's first seed; iterations and options as calibrated."""
    return [dict(part="train", arm=arm, label=ARMS[arm][0], config=ARMS[arm][1], seed=seed,
                 budget_iterations=calibration["arms"][arm]["iterations"],
                 options=list(calibration["arms"][arm]["options"]))
            for seed in seeds for arm in ARMS]


def combined_is_run(changes: list[str]) -> bool:
    """Whether the combined arm of these changes is trained: with fewer than two it would be
    one change's own arm."""
    return len(changes) > 1


def combined_specs(combined: dict, seeds=SEEDS) -> list[dict]:
    """The ``combined`` part's runs (none when the rule picked fewer than two changes)."""
    if not combined_is_run(combined["changes"]):
        return []
    return [dict(part="combined", arm=COMBINED, label="base + " + " + ".join(combined["changes"]),
                 config=combined["config"], seed=seed,
                 budget_iterations=combined["iterations"], options=list(combined["options"]))
            for seed in seeds]


def _joins(rule_arm: dict) -> str:
    if rule_arm["chosen"]:
        return "yes"
    return "no: the other data path gains more" if rule_arm["passed"] else "no"


def goal_text(mean: float | None) -> str:
    """Whether a mean NME(IO) meets the goal (and the moonshot)."""
    if mean is None:
        return ""
    return "yes, moonshot too" if mean <= MOONSHOT else "yes" if mean <= GOAL else "no"


def _step_text(step: dict | None) -> str:
    if step is None:
        return ""
    return f"{1000 * step['step_s']:.1f} ({1000 * step['minus_reference_s']:+.1f})"


def calibration_sections(cal: dict) -> list[str]:
    """The calibration's text and table: every arm's loop rounds and median, its step alone
    against the base's where measured, the images/s it was priced at and how, its
    iterations (and those of a superseded pricing) and options."""
    rounds = cal["rounds"]
    text = (f"Calibration ({cal['date'].split(' ')[0]}): each arm's `mim train` loop on the "
            f"real data, {cal['iters']} timed iterations after {cal['warmup']}, {rounds} "
            f"round{'' if rounds == 1 else 's'} (every arm once a round), median; "
            f"OMP_NUM_THREADS={cal.get('omp_num_threads') or 'unset'}.")
    steps = cal.get("step_costs")
    if steps:
        text += (f" The arms on the base's data path ({', '.join(f'`{a}`' for a in STEP_ARMS)})"
                 f" differ in their training step only: each step was measured alone "
                 f"({steps['date'].split(' ')[0]}; `model.train_step` and the hooks the arm "
                 f"adds, on one batch, the arms interleaved step by step, {steps['reps']} "
                 f"rounds after {steps['warmup']}; median of its paired differences from the "
                 f"base's step), and each is priced at the median of all their loop rounds, "
                 f"each less its arm's step difference ({1000 * cal['pooled_base_step_s']:.1f}"
                 f" ms an iteration for the base), plus its own difference. The other data "
                 f"paths are priced at their own loops' median.")
    old = cal.get("superseded_iterations")
    if old:
        text += (" It was priced first at each arm's own loop median, before any run: "
                 + ", ".join(f"`{a}` {n}" for a, n in old.items()) + " iterations then.")
    step_arms = (steps or {}).get("arms", {})
    table = markdown_table([dict(
        arm=f"`{a}`", runs=", ".join(f"{x['images_per_s']:.1f}" for x in e["runs"]),
        median=f"{e['median_images_per_s']:.1f}",
        step=_step_text(step_arms.get(a)),
        rate=f"{e.get('images_per_s', e['median_images_per_s']):.1f}",
        its=f"{e['iterations_per_s']:.3f}", iters=e["iterations"],
        options=" ".join(f"`{o}`" for o in e["options"]))
        for a, e in cal["arms"].items()], [
        ("arm", "arm"), ("runs", "loop images/s each round"), ("median", "loop median"),
        ("step", "step alone, ms (minus base's)"), ("rate", "priced images/s"),
        ("its", "iterations/s"), ("iters", "iterations in the budget"),
        ("options", "cfg-options (besides seed and data root)")])
    return [text, table]


def results_markdown(payload: dict) -> str:
    """The study's tables (what ``--summarise`` writes): one row per arm (NME per seed,
    mean ± sd, paired difference from base, goal), the combined rule, every run and the
    calibration; a part with nothing yet is left out."""
    cal = payload.get("calibration")
    runs = payload.get("runs", [])
    by_arm: dict[str, list[dict]] = {}
    for r in sorted(runs, key=lambda r: r["seed"]):
        by_arm.setdefault(r["arm"], []).append(r)
    intro = ("300W common (554 faces), trained on the 1,675 training faces present (batch 32, "
             "128 px crops, from scratch, fair start), every arm for the same training time on "
             "this machine: its iterations at its own calibrated rate. NME per image, mean "
             "over images; mean ± sd over the seeds listed; paired: the arm minus base, seed "
             f"by seed. Goal: mean NME(IO) <= {GOAL} (moonshot {MOONSHOT}).")
    if cal:
        intro += f" Budget: {cal['budget_minutes']:g} minutes of training."
    sections = [intro]
    rows = []
    for arm in [*ARMS, COMBINED]:
        arm_runs = by_arm.get(arm, [])
        planned = (cal or {}).get("arms", {}).get(arm) or (
            payload.get("combined") if arm == COMBINED else None) or {}
        if arm == COMBINED and not combined_is_run(planned.get("changes", [])):
            planned = {}
        if not arm_runs and not planned:
            continue
        io = [r["nme_io"] for r in arm_runs]
        label = ARMS[arm][0] if arm in ARMS else (
            "base + " + " + ".join(planned.get("changes", [])))
        rates = planned.get("images_per_s", planned.get("median_images_per_s"))
        rows.append(dict(
            arm=f"`{arm}`: {label}", seeds=", ".join(str(r["seed"]) for r in arm_runs),
            each=", ".join(f"{v:.2f}" for v in io), io=mean_sd(io),
            diff="" if arm == BASE else mean_sd(paired(runs, arm)),
            ip=mean_sd([r["nme_ip"] for r in arm_runs]),
            fr=mean_sd([r["fr_10"] for r in arm_runs], 1, 100),
            auc=mean_sd([r["auc_08"] for r in arm_runs], 3),
            iters=", ".join(sorted({str(r["iterations"]) for r in arm_runs}))
            or f"{planned.get('iterations', '')} (planned)",
            cal=f"{rates:.1f}" if rates else (
                f"{planned['iterations_per_s'] * 32:.1f} (sum of changes)" if planned else ""),
            goal=goal_text(statistics.mean(io) if io else None)))
    if rows:
        sections.append(markdown_table(rows, [
            ("arm", "arm"), ("seeds", "seeds"), ("each", "NME(IO) % per seed"),
            ("io", "NME inter-ocular % (mean ± sd)"), ("diff", "minus base, paired"),
            ("ip", "NME inter-pupil %"), ("fr", "FR@0.1 (%)"), ("auc", "AUC@0.08"),
            ("iters", "iterations"), ("cal", "training images/s (calibration)"),
            ("goal", f"meets <= {GOAL}")]))
    seeds = payload.get("seeds", SEEDS)
    best = best_arm(runs, seeds)
    if best is not None:
        planned = [*ARMS, *([COMBINED] if combined_is_run(
            (payload.get("combined") or {}).get("changes", [])) else [])]
        pending = [a for a in planned if a not in arms_on_every_seed(runs, seeds)]
        sections.append(
            f"Shipped (`{SHIPPED_CONFIG}` and the pretrained model): the arm with the lowest "
            f"mean NME(IO) over seeds {' and '.join(map(str, seeds))}: `{best[0]}` "
            f"({best[1]:.2f})"
            + (f"; so far: {', '.join(f'`{a}`' for a in pending)} not yet run on every seed."
               if pending else "."))
    rule = combined_rule(runs)
    if rule is not None:
        picked = ", ".join(f"`{c}`" for c in rule["changes"]) or "none"
        sections += [f"Combined arm, by the declared rule (a change joins when its paired mean "
                     f"gain over base exceeds the sd of its paired differences; of the data "
                     f"paths {' and '.join(f'`{a}`' for a in DATA_PATHS)}, only the one that "
                     f"gains more): {picked}"
                     + ("." if combined_is_run(rule["changes"]) else " (fewer than two: not run)."),
                     markdown_table([dict(arm=f"`{a}`", gain=f"{v['gain']:.3f}",
                                          sd=f"{v['sd']:.3f}",
                                          chosen=_joins(v))
                                     for a, v in rule["arms"].items()],
                                    [("arm", "change"), ("gain", "mean gain (base - arm)"),
                                     ("sd", "sd of the paired differences"),
                                     ("chosen", "joins")])]
    if runs:
        sections += ["Every run:", markdown_table([dict(
            arm=r["arm"], seed=r["seed"], iters=r["iterations"], io=f"{r['nme_io']:.2f}",
            ip=f"{r['nme_ip']:.2f}", fr=f"{100 * r['fr_10']:.1f}", auc=f"{r['auc_08']:.3f}",
            minutes=f"{r['train_minutes']:.1f}", ips=f"{r['images_per_s']:.1f}",
            concurrent=r.get("concurrent_runs", "")) for arm in [*ARMS, COMBINED]
            for r in by_arm.get(arm, [])], [
            ("arm", "arm"), ("seed", "seed"), ("iters", "iterations"),
            ("io", "NME inter-ocular (%)"), ("ip", "NME inter-pupil (%)"), ("fr", "FR@0.1 (%)"),
            ("auc", "AUC@0.08"), ("minutes", "training minutes (as run)"),
            ("ips", "training images/s (as run)"), ("concurrent", "runs at once")])]
    if cal:
        sections += calibration_sections(cal)
    sections.append(f"Command: `python -m bench.{TOOL} --300w-root DIR --resume --parallel 2`, "
                    f"then `--only combined`. {payload.get('machine', '')}.")
    return "\n\n".join(sections)


# the calibration's rounds, untimed and timed iterations. Its arms differ in cost by a few
# percent, and 3 rounds of 30 iterations (the peers study's calibration, whose arms differ
# 4-15x) measured two arms of the same step (base and cosine: only the lr schedule differs)
# further apart than the arms' real differences in a first calibration, discarded before
# any run (its file is not kept): 5 rounds of 150.
SPEED = (5, 20, 150)
# the steps alone (measure_step_costs): timed rounds, untimed rounds before them
STEPS = (60, 5)


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, BenchParser]:
    parser = study_parser(__doc__, TOOL, results_markdown, parts=PARTS,
                          default_parts=DEFAULT_PARTS, arms=ARMS,
                          every_arm="the calibration takes every arm", each="each arm",
                          tiny_unit="an arm", speed=SPEED)
    parser.add_argument("--budget-minutes", type=float, default=30.0,
                        help="training time of every arm, in minutes on this machine")
    parser.add_argument("--step-reps", type=int, default=STEPS[0],
                        help="timed rounds of the training steps alone (every arm on the "
                             "base's data path once a round)")
    parser.add_argument("--step-warmup", type=int, default=STEPS[1],
                        help="untimed rounds before them")
    args = parse_study_args(parser, argv)
    if args.tiny:
        args.budget_minutes = 0.05
        args.step_reps, args.step_warmup = 2, 1
    return args, parser


def main(argv: list[str] | None = None) -> None:
    args, parser = parse_args(argv)
    root = args.root.resolve()
    seeds = (0,) if args.tiny else SEEDS
    grid = study_grid(args, parser, results_markdown)
    recorded = grid.previous.get("calibration")
    if recorded and recorded["budget_minutes"] != args.budget_minutes:
        parser.error(f"{args.out} holds a calibration for a budget of "
                     f"{recorded['budget_minutes']:g} minutes; resume with --budget-minutes "
                     f"{recorded['budget_minutes']:g} or write to another --out")
    grid.declare(benchmark=TOOL, machine=machine_text(), batch=32,
                 arms={a: dict(label=lab, config=c, options=arm_options(a), changes=list(k))
                       for a, (lab, c, _, k) in ARMS.items()},
                 seeds=list(seeds), parts=list(PARTS), goal=GOAL, moonshot=MOONSHOT,
                 protocol=__doc__.split("\n\n", 1)[1].split("\n\n    python")[0])
    if "speed" in args.only:
        speed_part(grid, lambda: calibrate(root, args.speed_rounds, args.speed_warmup,
                                           args.speed_iters, args.budget_minutes,
                                           args.round_to, args.step_reps, args.step_warmup))
    complete_calibration(grid, parser, root, args.step_reps, args.step_warmup)
    training = [p for p in ("train", "combined") if p in args.only]
    calibration = recorded_calibration(grid, parser, args.other_cpu) if training else None
    if "train" in training:
        todo = selected_pending(grid, specs(calibration, seeds), arms=args.arms,
                                seeds=args.seeds)
        run_grid(grid, todo, root, args)
    if "combined" in training:
        rule = combined_rule(grid.runs, seeds)
        if rule is None:
            parser.error(f"{args.out}: the combined arm is chosen from every arm's runs "
                         f"(seeds {', '.join(map(str, seeds))}); run --only train first")
        chosen = grid.payload.get("combined")
        if chosen is None or chosen["changes"] != rule["changes"]:
            chosen = grid.payload["combined"] = combined_plan(calibration, rule["changes"])
            grid.write()
        print(f"[{TOOL}] combined: {', '.join(rule['changes']) or 'no change'} by the rule",
              flush=True)
        todo = selected_pending(grid, combined_specs(chosen, seeds), seeds=args.seeds)
        run_grid(grid, todo, root, args)
    print(results_markdown(grid.payload))


if __name__ == "__main__":
    main()
