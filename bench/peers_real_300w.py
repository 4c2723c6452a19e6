"""AAN against MMPose's face models at equal CPU time: AAN's recommended CPU recipe and five
of MMPose's face models, each trained on the 300W training faces a user has for the same
training time on this machine, 2 seeds each, tested on the common subset (554 faces).

Arms: AAN is ``mm_configs/aan_300w_cpu_aug.py`` as shipped (its ``--cfg-options`` are the
seed and the data root, nothing else); the peers are the shipped
``mm_configs/baselines/`` configs (HRNetv2-w18 heatmaps, ResNet-50 regression with RLE,
ResNet-50 regression with SoftWing, RTMPose-m and RTMPose-s on SimCC labels), MMPose's own
models with AAN's crop, batch, data, metric and CPU switch. RTMPose-s is there as the
smaller model a CPU user would pick: RTMPose-m trains far slower than AAN on a 2-core CPU,
so its equal-time runs are short (the calibration below gives every arm's rate).

The study runs on the full-mmcv stack (``bash scripts/setup_full_mmcv.sh``): the RTMPose
arms' model needs mmcv's compiled ops (mmdet's CSPNeXt) and their training pipeline
albumentations<2, which the default stack (mmcv-lite) lacks. There, an RTMPose arm asked for
(every arm is, by default) is a one-line error; ``--arms`` without them runs the others,
the calibration and inference then taking every arm but RTMPose's.

Equal time, made by iterations: a wall clock on a shared, noisy machine is not repeatable,
so the training time is fixed once, by a speed calibration, and each run then trains a
fixed number of iterations. Parts (``--only``):

- ``speed``: the calibration. Training images/s of every arm's real `mim train` loop on the
  real data, as shipped (``bench.cpu_train_speed``'s loop: the config's Runner, loader and
  CPU switch, no validation or checkpoints; the first ``--speed-warmup`` iterations
  untimed), every arm once per round, all arms in one run, median of the rounds. The budget
  is AAN's declared iterations (its ``train_cfg.max_iters``, 6,000) at AAN's iterations/s;
  each peer gets the budget times its own iterations/s, rounded to a multiple of
  ``--round-to`` (50). The calibration, the budget in seconds and every arm's iterations
  and ``--cfg-options`` are written to the JSON before any training run; ``--resume`` keeps
  a recorded calibration and never measures another (a new one needs a new ``--out``).
  Its iterations are equal time on its own CPU model only, so training on another is a
  one-line error (``--other-cpu`` overrides; every run's row names its CPU).
- ``train``: every arm x seeds 0 and 1, seeds outermost, each the ordinary
  `mim train mmpose <config>` as a subprocess (``bench.real_300w``'s runs). A peer's
  ``--cfg-options`` set its iterations and restate its own schedule for them: the lr steps
  and the warm-up's end at the same fractions of training (MMPose's 500-iteration warm-up is
  1/12 of the peers' shipped 6,000 iterations; kept at 500 it would fill most of a short
  equal-time run), and the validation and checkpoint intervals (tied to the run's length in
  the configs) set to the new length.
  Each run's metrics are those of its final validation on common.
- ``twice`` (optional, asked for by name): each peer at twice its budget, seed 0, for a peer
  that clearly needs more time to be fair.
- ``inference``: parameters that run at test time, batch-1 ms per face and batch-32
  images/s of each arm's final model (the seed 0 run's last checkpoint) at its own input
  size, eager fp32 with channels-last weights and input, the network's tensor output on one
  view (no decoding; the peers are tested with MMPose's flip test, two views a face, which
  doubles their per-face cost), all arms in one run on ``--threads`` threads.

The table gives each arm's mean ± sd over its seeds of NME inter-ocular and inter-pupil,
FR@0.1 and AUC@0.08, the peer's NME over AAN's, iterations, training images/s (the
calibration's and each run's as it ran), the budget, parameters and inference speed; then
every run, and the calibration.

    PYTHONPATH=$PWD .venv-fullmmcv/bin/python -m bench.peers_real_300w \
        --300w-root data/300w --resume --parallel 2                     # the study
    PYTHONPATH=$PWD .venv-fullmmcv/bin/python -m bench.peers_real_300w \
        --300w-root data/300w --only twice --resume                     # optional
    PYTHONPATH=$PWD .venv-fullmmcv/bin/python -m bench.peers_real_300w \
        --300w-root data/300w --only twice --arms hrnetv2-w18 --resume
    PYTHONPATH=$PWD .venv-fullmmcv/bin/python -m bench.peers_real_300w --tiny   # smoke run
    python -m bench.peers_real_300w --tiny --arms aan hrnetv2-w18 resnet50-rle \
        resnet50-softwing                       # smoke run on the default stack
    python -m bench.peers_real_300w --summarise bench/results/peers_real_300w.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from bench.common import (
    REPO,
    BenchParser,
    environment,
    inference_params,
    machine_text,
    markdown_table,
    mean_sd,
)
from bench.equal_time import arm_config, iterations_in, measure_rates, schedule_options
from bench.equal_time_study import (
    parse_study_args,
    recorded_calibration,
    selected_pending,
    speed_part,
    study_grid,
    study_parser,
)
from bench.real_300w import final_checkpoint, loss_course, run_dir, run_grid

TOOL = "peers_real_300w"
AAN = "aan"
# arm: (model, shipped config); declared before the runs
ARMS = {
    AAN: ("AAN, CPU recipe (aan_300w_cpu_aug.py as shipped)", "mm_configs/aan_300w_cpu_aug.py"),
    "hrnetv2-w18": ("MMPose HRNetv2-w18, heatmaps",
                    "mm_configs/baselines/hrnetv2-w18_300w_cpu.py"),
    "resnet50-rle": ("MMPose ResNet-50 regression, RLE",
                     "mm_configs/baselines/resnet50-rle_300w_cpu.py"),
    "resnet50-softwing": ("MMPose ResNet-50 regression, SoftWing loss",
                          "mm_configs/baselines/resnet50-softwing_300w_cpu.py"),
    "rtmpose-m": ("MMPose RTMPose-m, SimCC", "mm_configs/baselines/rtmpose-m_300w_cpu.py"),
    "rtmpose-s": ("MMPose RTMPose-s, SimCC", "mm_configs/baselines/rtmpose-s_300w_cpu.py"),
}
PEERS = tuple(a for a in ARMS if a != AAN)
# the arms that need the full-mmcv stack: mmdet's CSPNeXt (mmcv's compiled ops) and the
# Albumentation step (albumentations<2)
FULL_STACK_ARMS = ("rtmpose-m", "rtmpose-s")
FULL_STACK_COMMAND = "PYTHONPATH=$PWD .venv-fullmmcv/bin/python -m bench.peers_real_300w"
SEEDS = (0, 1)
TWICE_SEEDS = (0,)
PARTS = ("speed", "train", "twice", "inference")
DEFAULT_PARTS = ("speed", "train", "inference")
TWICE = "_twice"


def load_config(arm: str):
    """An arm's shipped config."""
    return arm_config(ARMS[arm][1])


def full_stack_missing() -> list[str]:
    """What this Python lacks that the RTMPose arms need (nothing on the full-mmcv stack);
    albumentations is looked up, not imported (its import checks online for updates)."""
    from importlib.metadata import PackageNotFoundError, version

    from aan_components.compat import mmcv_has_compiled_ops

    missing = [] if mmcv_has_compiled_ops() else ["mmcv's compiled ops"]
    try:
        installed = version("albumentations")
    except PackageNotFoundError:
        installed = None
    if installed is None or int(installed.split(".")[0]) >= 2:
        missing.append("albumentations<2" + (f" (not {installed})" if installed else ""))
    return missing


def stack_arms(args: argparse.Namespace, parser: BenchParser,
               missing: list[str]) -> dict[str, tuple[str, str]]:
    """The arms this stack runs (``missing``: :func:`full_stack_missing`): every arm on the
    full-mmcv stack; elsewhere every arm but RTMPose's, and an RTMPose arm in ``--arms`` a
    one-line error that says what to run instead."""
    if not missing:
        return dict(ARMS)
    asked = [a for a in args.arms if a in FULL_STACK_ARMS]
    if asked:
        others = " ".join(a for a in args.arms if a not in FULL_STACK_ARMS) or " ".join(
            a for a in ARMS if a not in FULL_STACK_ARMS)
        parser.error(f"--arms {', '.join(asked)}: RTMPose needs the full-mmcv stack (this "
                     f"Python lacks {' and '.join(missing)}): run {FULL_STACK_COMMAND} ... "
                     f"(bash scripts/setup_full_mmcv.sh makes .venv-fullmmcv), or --arms "
                     f"{others} here")
    return {a: v for a, v in ARMS.items() if a not in FULL_STACK_ARMS}


def budget(rates: dict[str, float], batches: dict[str, int], budget_iters: int,
           round_to: int) -> dict:
    """The equal-time budget from the calibration: ``budget_iters`` of AAN at its
    iterations/s (images/s over its batch) are ``seconds``; each peer gets ``seconds`` at its
    own iterations/s, rounded to a multiple of ``round_to`` (at least ``round_to``).

    Example:
        >>> b = budget(dict(aan=100.0, peer=20.0), dict(aan=32, peer=32), 6000, 50)
        >>> b["seconds"], b["iterations"]
        (1920.0, {'aan': 6000, 'peer': 1200})
    """
    seconds = budget_iters / (rates[AAN] / batches[AAN])
    iterations = {arm: budget_iters if arm == AAN else
                  iterations_in(seconds, rate, batches[arm], round_to)
                  for arm, rate in rates.items()}
    return dict(seconds=round(seconds, 1), iterations=iterations)


def run_options(arm: str, iters: int, cfg) -> list[str]:
    """An arm's ``--cfg-options`` for ``iters`` iterations: none for AAN at its declared
    length (the recipe as shipped), else the schedule restated (:func:`schedule_options`)."""
    if iters == cfg.train_cfg.max_iters and arm == AAN:
        return []
    return schedule_options(cfg, iters)


def specs(calibration: dict, seeds=SEEDS, twice_seeds=TWICE_SEEDS) -> list[dict]:
    """One run spec per (arm, seed) of the ``train`` part, seeds outermost so that an
    interrupted grid has every arm's first seed, then the ``twice`` part (each peer at twice
    its iterations). Iterations and options are the calibration's, as recorded."""
    out = []
    calibrated = [a for a in ARMS if a in calibration["arms"]]
    peers = [a for a in calibrated if a != AAN]
    for part, part_seeds, arms in (("train", seeds, calibrated), ("twice", twice_seeds, peers)):
        for seed in part_seeds:
            for arm in arms:
                planned = calibration["arms"][arm]
                twice = part == "twice"
                out.append(dict(
                    part=part, arm=arm + (TWICE if twice else ""), model=ARMS[arm][0],
                    label=ARMS[arm][0] + (", twice the budget" if twice else ""),
                    config=ARMS[arm][1], seed=seed,
                    budget_iterations=planned["iterations"] * (2 if twice else 1),
                    options=list(planned["twice_options" if twice else "options"])))
    return out


def calibrate(root: Path, rounds: int, warmup: int, iters: int, budget_iters: int,
              round_to: int, study: dict[str, tuple[str, str]] = ARMS) -> dict:
    """The ``speed`` part: every arm's of ``study`` (the arms this stack runs) `mim train`
    loop (``bench.cpu_train_speed``'s ``switch`` arm: the config as shipped) in rounds, the
    median, the budget and every arm's iterations and options."""
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    cfgs = {arm: load_config(arm) for arm in study}
    arms = measure_rates({arm: (config, ()) for arm, (_, config) in study.items()}, root,
                         rounds, warmup, iters, TOOL)
    rates = {arm: e["median_images_per_s"] for arm, e in arms.items()}
    plan = budget(rates, {a: e["batch"] for a, e in arms.items()}, budget_iters, round_to)
    for arm, entry in arms.items():
        n = plan["iterations"][arm]
        entry.update(iterations_per_s=round(rates[arm] / entry["batch"], 3), iterations=n,
                     options=run_options(arm, n, cfgs[arm]))
        if arm != AAN:
            entry["twice_options"] = run_options(arm, 2 * n, cfgs[arm])
    return dict(date=started, rounds=rounds, warmup=warmup, iters=iters,
                budget_iters=budget_iters, round_to=round_to,
                budget_seconds=plan["seconds"], omp_num_threads=os.environ.get("OMP_NUM_THREADS"),
                environment=environment(), arms=arms)


def measure_inference(runs_dir: Path, threads: int, batch: int, reps: int,
                      latency_reps: int, study: dict[str, tuple[str, str]] = ARMS) -> dict:
    """The ``inference`` part: every arm's of ``study`` final model (the seed 0 run's last
    checkpoint;
    initial weights where the run is missing, which the row says), eager fp32 with
    channels-last weights and input, at its own input size: test-time parameters, batch-1
    ms, images/s at ``batch``."""
    import torch
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    import aan_components.plugin  # noqa: F401
    from bench.cpu_speed import build, latency_ms, throughput

    init_default_scope("mmpose")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows = []
    try:
        for arm, (model_name, config) in study.items():
            cfg = load_config(arm)
            width, height = cfg.codec.input_size
            model = build(str(REPO / config), width)
            checkpoint = final_checkpoint(run_dir(runs_dir, arm, 0))
            if checkpoint is not None:
                load_checkpoint(model, str(checkpoint), map_location="cpu", logger="silent")
            model = model.eval().to(memory_format=torch.channels_last)
            x = (torch.rand(batch, 3, height, width) * 255).contiguous(
                memory_format=torch.channels_last)

            def fn(inputs, model=model):
                return model(inputs, None, mode="tensor")

            ips = throughput(fn, x, reps)
            ms = latency_ms(fn, x, latency_reps)
            params = inference_params(model, lambda f=fn, one=x[:1]: f(one))
            rows.append(dict(arm=arm, model=model_name, size=[width, height],
                             params_m=round(params / 1e6, 2), latency_ms=round(ms, 2),
                             images_per_s=round(ips, 1),
                             flip_test=bool((cfg.model.get("test_cfg") or {}).get("flip_test")),
                             weights=str(checkpoint) if checkpoint else "initial (no run)"))
            print(f"[{TOOL}] inference {arm}: {params / 1e6:.2f} M params, batch-1 {ms:.1f} "
                  f"ms, batch-{batch} {ips:.1f} images/s", flush=True)
    finally:
        torch.set_num_threads(before)
    return dict(date=time.strftime("%Y-%m-%d %H:%M:%S"), threads=threads, batch=batch,
                reps=reps, latency_reps=latency_reps,
                how="eager fp32, channels-last weights and input, the network's tensor "
                    "output on one view (no decoding, no flip test)", rows=rows)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.mean(values) if values else None


def results_markdown(payload: dict) -> str:
    """The study's tables (what ``--summarise`` writes): one row per arm (mean ± sd over its
    seeds, NME over AAN's, the budget, the calibration's and the runs' images/s, inference),
    every run, and the calibration; each part that has nothing yet is left out."""
    cal = payload.get("calibration")
    runs = payload.get("runs", [])
    inference = {r["arm"]: r for r in (payload.get("inference") or {}).get("rows", [])}
    by_arm: dict[str, list[dict]] = {}
    for r in sorted(runs, key=lambda r: (r["part"] != "train", r["seed"])):
        by_arm.setdefault(r["arm"], []).append(r)
    aan_nme = _mean([r["nme_io"] for r in by_arm.get(AAN, [])])
    sections = [
        "300W common (554 faces), trained on the 1,675 training faces present (batch 32, "
        "128 px crops, from scratch), every arm for the same training time on this machine: "
        "AAN's declared iterations at AAN's calibrated iterations/s, each peer's iterations "
        "at its own (one calibration, all arms in one run). NME per image, mean over images; "
        "mean ± sd over the seeds listed."]
    if cal:
        minutes = cal["budget_seconds"] / 60
        sections[0] += (f" Budget: {cal['budget_iters']} AAN iterations = "
                        f"{minutes:.1f} minutes at the calibration's rates.")
    order = [a for a in ARMS] + [a + TWICE for a in PEERS]
    rows = []
    for arm in order:
        base = arm.removesuffix(TWICE)
        arm_runs = by_arm.get(arm, [])
        inf = inference.get(base, {})
        planned = (cal or {}).get("arms", {}).get(base, {})
        if not arm_runs and not planned:
            continue
        twice = arm.endswith(TWICE)
        if twice and not arm_runs:
            continue
        io = [r["nme_io"] for r in arm_runs]
        ratio = (f"{_mean(io) / aan_nme:.2f}x" if io and aan_nme and arm != AAN else "")
        rows.append(dict(
            model=ARMS[base][0] + (", twice the budget" if twice else ""),
            seeds=", ".join(str(r["seed"]) for r in arm_runs),
            io=mean_sd(io), ip=mean_sd([r["nme_ip"] for r in arm_runs]),
            fr=mean_sd([r["fr_10"] for r in arm_runs], 1, 100),
            auc=mean_sd([r["auc_08"] for r in arm_runs], 3), ratio=ratio,
            iters=", ".join(sorted({str(r["iterations"]) for r in arm_runs}))
            or str(planned.get("iterations", "")) + " (planned)" * bool(planned),
            cal=f"{planned['median_images_per_s']:.1f}" if planned else "",
            ips=mean_sd([r["images_per_s"] for r in arm_runs], 1),
            budget=f"{(2 if twice else 1) * cal['budget_seconds'] / 60:.1f}" if cal else "",
            params=f"{inf['params_m']:.2f}" if inf else "",
            ms=f"{inf['latency_ms']:.1f}" if inf else "",
            ips32=f"{inf['images_per_s']:.1f}" if inf else "",
            flip="yes" if inf.get("flip_test") else ("no" if inf else "")))
    if rows:
        batch = (payload.get("inference") or {}).get("batch", 32)
        sections.append(markdown_table(rows, [
            ("model", "model"), ("seeds", "seeds"), ("io", "NME inter-ocular (%)"),
            ("ip", "NME inter-pupil (%)"), ("fr", "FR@0.1 (%)"), ("auc", "AUC@0.08"),
            ("ratio", "NME(IO) / AAN's"), ("iters", "iterations"),
            ("cal", "training images/s (calibration)"), ("ips", "training images/s (runs)"),
            ("budget", "budget (minutes)"), ("params", "params (M)"),
            ("ms", "inference batch-1 ms"), ("ips32", f"inference images/s (batch {batch})"),
            ("flip", "tested with flip")]))
    if runs:
        sections += ["Every run:", markdown_table([dict(
            model=r["label"], seed=r["seed"], iters=r["iterations"], io=f"{r['nme_io']:.2f}",
            ip=f"{r['nme_ip']:.2f}", fr=f"{100 * r['fr_10']:.1f}", auc=f"{r['auc_08']:.3f}",
            minutes=f"{r['train_minutes']:.1f}", ips=f"{r['images_per_s']:.1f}",
            loss=loss_course(r), concurrent=r.get("concurrent_runs", ""))
            for arm in order
            for r in by_arm.get(arm, [])], [
            ("model", "model"), ("seed", "seed"), ("iters", "iterations"),
            ("io", "NME inter-ocular (%)"), ("ip", "NME inter-pupil (%)"), ("fr", "FR@0.1 (%)"),
            ("auc", "AUC@0.08"), ("minutes", "training minutes"),
            ("ips", "training images/s"), ("loss", "training loss: first log → last"),
            ("concurrent", "runs at once")])]
    if cal:
        sections += [
            f"Calibration ({cal['date'].split(' ')[0]}): each arm's `mim train` loop as "
            f"shipped on the real data, {cal['iters']} timed iterations after "
            f"{cal['warmup']}, {_plural(cal['rounds'], 'round')} (every arm once a round), "
            f"median; "
            f"OMP_NUM_THREADS={cal.get('omp_num_threads') or 'unset'}.",
            markdown_table([dict(
                arm=ARMS[a][0], runs=", ".join(f"{x['images_per_s']:.1f}" for x in e["runs"]),
                median=f"{e['median_images_per_s']:.1f}", its=f"{e['iterations_per_s']:.3f}",
                iters=e["iterations"], options=" ".join(f"`{o}`" for o in e["options"])
                or "none (as shipped)") for a, e in cal["arms"].items()], [
                ("arm", "model"), ("runs", "images/s each round"), ("median", "median"),
                ("its", "iterations/s"), ("iters", "iterations at the budget"),
                ("options", "cfg-options (besides seed and data root)")])]
    inf = payload.get("inference")
    if inf:
        sections.append(f"Inference ({inf['date'].split(' ')[0]}): {inf['how']}, "
                        f"{_plural(inf['threads'], 'thread')}, every arm in one run; "
                        f"parameters that run "
                        f"at test time.")
    sections.append(f"Command: `python -m bench.{TOOL} --300w-root DIR --resume --parallel 2` "
                    f"(`--only twice` for the optional rows). {payload.get('machine', '')}.")
    return "\n\n".join(sections)


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, BenchParser]:
    parser = study_parser(__doc__, TOOL, results_markdown, parts=PARTS,
                          default_parts=DEFAULT_PARTS, arms=ARMS,
                          every_arm="speed and inference take every arm this stack runs",
                          each="each peer",
                          tiny_unit="a part")
    parser.add_argument("--budget-iters", type=int, default=None,
                        help="AAN iterations that make the budget (default: the recipe's "
                             "declared train_cfg.max_iters; another number restates AAN's "
                             "schedule too: a test setting)")
    parser.add_argument("--threads", type=int, default=2, help="inference threads")
    parser.add_argument("--batch", type=int, default=32, help="inference batch")
    parser.add_argument("--reps", type=int, default=3, help="inference batches, best of")
    parser.add_argument("--latency-reps", type=int, default=20)
    args = parse_study_args(parser, argv)
    if args.tiny:
        args.budget_iters = 4
        args.batch, args.reps, args.latency_reps = 2, 1, 2
    return args, parser


def main(argv: list[str] | None = None) -> None:
    args, parser = parse_args(argv)
    study = stack_arms(args, parser, full_stack_missing())
    root = args.root.resolve()
    declared_iters = load_config(AAN).train_cfg.max_iters
    budget_iters = args.budget_iters or declared_iters
    seeds, twice_seeds = ((0,), (0,)) if args.tiny else (SEEDS, TWICE_SEEDS)
    grid = study_grid(args, parser, results_markdown)
    recorded = grid.previous.get("calibration")
    if recorded and args.budget_iters and recorded["budget_iters"] != args.budget_iters:
        parser.error(f"{args.out} holds a calibration for a budget of "
                     f"{recorded['budget_iters']} AAN iterations; resume without "
                     f"--budget-iters or write to another --out")
    grid.declare(benchmark=TOOL, machine=machine_text(), batch=32,
                 arms={a: dict(model=m, config=c) for a, (m, c) in study.items()},
                 aan_declared_iters=declared_iters, seeds=list(seeds),
                 twice_seeds=list(twice_seeds), parts=list(PARTS),
                 protocol=__doc__.split("\n\n", 1)[1].split("\n\n    ")[0])
    if "speed" in args.only:
        speed_part(grid, lambda: calibrate(root, args.speed_rounds, args.speed_warmup,
                                           args.speed_iters, budget_iters, args.round_to,
                                           study),
                   kept=lambda cal: f" (budget {cal['budget_seconds'] / 60:.1f} minutes)")
    training = [p for p in ("train", "twice") if p in args.only]
    if training:
        calibration = recorded_calibration(grid, parser, args.other_cpu)
        absent = [a for a in args.arms if a not in calibration["arms"]]
        if absent:
            parser.error(f"{args.out}: its calibration has no {', '.join(absent)} (measured "
                         f"without them); calibrate into another --out to train them, or "
                         f"--arms without them")
        todo = selected_pending(
            grid, [s for s in specs(calibration, seeds, twice_seeds) if s["part"] in training],
            arms=args.arms, seeds=args.seeds, arm_of=lambda s: s["arm"].removesuffix(TWICE))
        run_grid(grid, todo, root, args)
    if "inference" in args.only:
        if args.resume and grid.payload.get("inference"):
            print(f"[{TOOL}] {args.out} has the inference run of "
                  f"{grid.payload['inference']['date']}: kept", flush=True)
        else:
            grid.payload["inference"] = measure_inference(
                args.runs_dir, args.threads, args.batch, args.reps, args.latency_reps, study)
            grid.write()
    print(results_markdown(grid.payload))


if __name__ == "__main__":
    main()
