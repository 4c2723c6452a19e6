"""The shipped model's card command, run again: how long it trains here, and how close the
model it makes comes to the shipped one.

The model card (docs/pretrained_model.md) gives one command, ``RECIPE_COMMAND`` of
:mod:`bench.pretrained_model`. This tool runs it from the repository root as a user would,
with nothing else of its own on the machine, and records

1. the time: the command's wall clock (start-up, training, final test) and the training time
   mmengine logs, with the machine's 1-minute load average sampled through the run (the
   run's own threads account for about their number; more means something else ran too);
2. the model: its final test on 300W common (as the run logs it), and its weights made into
   the shipped file's form (``pretrained_model.inference_state``: the test-time network in
   the shipped dtype) and measured as the shipped file was (``pretrained_model.evaluate``);
3. the difference from the shipped file: NME points, and tensor by tensor, how many are
   bitwise equal and the largest absolute difference.

A run the tool is killed in cannot be timed by resuming it: the next call trains again from
the first iteration (mmengine starts a new log dir inside the work dir). ``--skip-train``
reads a finished run instead of training (its command is checked against the run's config).

    python -m bench.reproduce_pretrained --300w-root data/300w   # trains: 30-40 min, 2 cores
    python -m bench.reproduce_pretrained --summarise bench/results/reproduce_pretrained.json
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import torch

from .common import (
    REPO,
    ROOT_HELP,
    BenchParser,
    command_line,
    environment,
    markdown_table,
    write_json,
)
from .pretrained_model import (
    NAME,
    PACKAGE_DIR,
    RECIPE_COMMAND,
    check_command,
    evaluate,
    inference_state,
    machine_description,
    training_checkpoint,
)
from .real_300w import data_root_options, mim_executable

SHIPPED_RESULTS = REPO / "bench" / "results" / "pretrained_model.json"
LOAD_EVERY_S = 30.0  # how often the load average is sampled while the command runs
_ITER = re.compile(r"Iter\(train\) \[\s*(\d+)/(\d+)\]")


def work_dir_of(command: str) -> Path:
    """The ``--work-dir`` of a `mim train` command, relative to the repository root.

    Example:
        >>> work_dir_of("mim train mmpose c.py --work-dir work_dirs/x --cfg-options a=1")
        PosixPath('work_dirs/x')
    """
    words = shlex.split(command)
    if "--work-dir" not in words:
        raise ValueError(f"{command!r}: no --work-dir")
    return Path(words[words.index("--work-dir") + 1])


def run_command(command: str, root: Path) -> list[str]:
    """``command`` as it runs here: `mim` from this Python's environment, and, where the
    data is not at the config's own ``data/300w``, ``--cfg-options`` that point every
    dataset at ``root`` (where the run ran, which :func:`check_command` does not compare)."""
    words = shlex.split(command)
    if words[0] == "mim":
        words[0] = mim_executable()
    if root.resolve() != (REPO / "data" / "300w").resolve():
        config = REPO / words[words.index("mmpose") + 1]
        if "--cfg-options" not in words:
            words.append("--cfg-options")
        words += data_root_options(config, root.resolve())
    return words


def last_iteration(log: Path, offset: int = 0) -> tuple[int, int] | None:
    """``(iteration, of)`` of the last ``Iter(train) [i/n]`` line mmengine wrote to ``log``
    past byte ``offset`` (in its last 64 kB), or ``None`` before the first.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     log = Path(d) / "train.log"
        ...     _ = log.write_text("Iter(train) [ 100/12100] lr: 1e-3\\n"
        ...                        "Iter(train) [ 200/12100] lr: 1e-3\\n")
        ...     last_iteration(log)
        (200, 12100)
    """
    if not log.is_file():
        return None
    with open(log, "rb") as f:
        f.seek(max(offset, log.stat().st_size - 65536))
        found = _ITER.findall(f.read().decode("utf-8", "replace"))
    return (int(found[-1][0]), int(found[-1][1])) if found else None


def train(words: list[str], work_dir: Path, progress: bool = True,
          threads: int | None = None) -> dict:
    """Run the training command from the repository root (its output to
    ``work_dir/train.log``), with a progress bar over its logged iterations; its wall
    seconds and the 1-minute load averages sampled meanwhile. ``threads``: the command's
    OMP_NUM_THREADS (``None``: this process's environment). Killed (SIGTERM) or interrupted,
    it stops the training before it exits."""
    from tqdm import tqdm

    work_dir.mkdir(parents=True, exist_ok=True)
    log_path = work_dir / "train.log"
    with open(log_path, "a") as log:
        log.write(f"\n# bench.reproduce_pretrained: {shlex.join(words)}\n")
    start, loads = time.time(), []
    offset = log_path.stat().st_size
    with open(log_path, "a") as log:
        env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
        proc = subprocess.Popen(words, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(LOAD_EVERY_S):
            loads.append(round(os.getloadavg()[0], 2))

    def stop_training(signum, frame) -> None:  # a killed tool leaves no training behind
        raise KeyboardInterrupt(f"signal {signum}")

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    bar = tqdm(desc="reproduce_pretrained", unit="it", disable=not progress)
    on_term = signal.signal(signal.SIGTERM, stop_training)
    try:
        while proc.poll() is None:
            time.sleep(2)
            seen = last_iteration(log_path, offset)
            if seen:
                bar.total = seen[1]
                bar.update(seen[0] - bar.n)
    finally:
        signal.signal(signal.SIGTERM, on_term)
        stop.set()
        bar.close()
        if proc.poll() is None:
            proc.terminate()
            proc.wait()
    wall = time.time() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(words)} failed ({proc.returncode}); see {log_path}")
    return dict(wall_minutes=round(wall / 60, 1), load_average=loads, cpus=os.cpu_count())


def compare_states(mine: dict, shipped: dict) -> dict:
    """Floating-point tensor by tensor (counters such as BN's ``num_batches_tracked`` are
    left out): how many of ``shipped``'s ``mine`` has bitwise equal, the largest absolute
    difference over all, and the median over tensors of each one's largest difference
    relative to its largest value (each tensor compared in float32).

    Example:
        >>> a = {"w": torch.zeros(3), "b": torch.ones(2), "n": torch.tensor(5)}
        >>> result = compare_states(a, {"w": torch.zeros(3), "b": torch.tensor([1.0, 1.5]),
        ...                             "n": torch.tensor(5)})
        >>> result["tensors"], result["bitwise_equal"], result["max_abs_difference"]
        (2, 1, 0.5)
        >>> result["median_relative_difference"]  # 0 for w, 0.5 / 1.5 for b
        0.167
    """
    if mine.keys() != shipped.keys():
        raise ValueError(f"the tensors differ: {sorted(mine.keys() ^ shipped.keys())[:5]}")
    equal, largest, relative = 0, 0.0, []
    for key, ref in shipped.items():
        a, b = mine[key], ref
        if a.shape != b.shape or a.dtype != b.dtype:
            raise ValueError(f"{key}: {tuple(a.shape)} {a.dtype} against the shipped "
                             f"{tuple(b.shape)} {b.dtype}")
        if not b.is_floating_point():
            continue
        equal += bool(torch.equal(a, b))
        if b.numel():
            diff = (a.float() - b.float()).abs().max().item()
            largest = max(largest, diff)
            relative.append(diff / max(b.float().abs().max().item(), 1e-12))
    return dict(tensors=len(relative), bitwise_equal=equal, max_abs_difference=largest,
                median_relative_difference=round(statistics.median(relative), 3)
                if relative else 0.0)


def measure(work_dir: Path, root: Path, command: str, package_dir: Path) -> dict:
    """The finished run in ``work_dir`` in the shipped file's form: its NME on 300W common
    as the shipped file was measured, and its difference from the shipped file."""
    from mmengine.config import Config

    from aan_components.compat import safe_torch_load
    from aan_components.inference import load_pose_model

    from .real_300w import read_run

    manifest = json.loads((package_dir / "models.json").read_text())["models"][NAME]
    config_file = package_dir / manifest["config"]
    shipped_path = package_dir / manifest["checkpoint"]
    (run_config,) = sorted(work_dir.glob("*.py"))
    check_command(command, Config.fromfile(str(run_config)))
    run = read_run(work_dir)
    ckpt = torch.load(training_checkpoint(work_dir), map_location="cpu", weights_only=False)
    shipped = safe_torch_load(str(shipped_path), map_location="cpu")
    model = load_pose_model(config_file)
    dtype = getattr(torch, manifest["dtype"])
    state = inference_state(ckpt["state_dict"], model, dtype)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{NAME}.pth"
        torch.save(dict(shipped, state_dict=state), path)
        test = evaluate(config_file, path, root)
    return dict(run=dict(iterations=run["iterations"], train_minutes=run["train_minutes"],
                         images_per_s=run["images_per_s"],
                         final_validation=dict(nme_io=run["nme_io"], nme_ip=run["nme_ip"])),
                test=dict(test, dtype=manifest["dtype"]),
                weights=compare_states(state, shipped["state_dict"]))


def refuse_finished(work_dir: Path) -> None:
    """Training into ``work_dir`` would overwrite the finished run it holds: refused."""
    if (work_dir / "last_checkpoint").is_file():
        raise FileExistsError(f"{work_dir}: holds a finished run; --skip-train reads it, or "
                              f"remove the folder to train again")


def reproduce(root: Path, command: str, out: Path, skip_train: bool = False,
              package_dir: Path = PACKAGE_DIR, shipped_results: Path = SHIPPED_RESULTS,
              progress: bool = True, threads: int | None = None) -> dict:
    shipped = json.loads(shipped_results.read_text())
    work_dir = REPO / work_dir_of(command)
    words = run_command(command, root)
    if skip_train:
        timing = None
    else:
        refuse_finished(work_dir)
        if work_dir.is_dir():
            print(f"[reproduce_pretrained] {work_dir}: an unfinished earlier attempt; "
                  f"training again from the first iteration", flush=True)
        omp = str(threads) if threads else os.environ.get("OMP_NUM_THREADS")
        timing = dict(train(words, work_dir, progress, threads),
                      torch_threads=int(omp) if omp else torch.get_num_threads(),
                      omp_num_threads=omp)
    measured = measure(work_dir, root, command, package_dir)
    shipped_test = shipped["test"]["measured"][shipped["dtype"]]
    payload = dict(
        benchmark="reproduce_pretrained", name=NAME, recipe_command=command,
        ran=shlex.join(words), timing=timing, **measured,
        shipped=dict(sha256=shipped["sha256"], dtype=shipped["dtype"],
                     nme_io=shipped_test["nme_io"], nme_ip=shipped_test["nme_ip"],
                     run=dict(iterations=shipped["run"]["iterations"],
                              train_minutes=shipped["run"]["train_minutes"],
                              final_nme_io=shipped["run"]["final_validation"]["nme_io"]),
                     train_command=shipped["train_command"]),
        nme_io_minus_shipped=round(measured["test"]["nme_io"] - shipped_test["nme_io"], 4),
        cpu=machine_description(), environment=environment(),
        work_dir=str(work_dir_of(command)),
        command=command_line("reproduce_pretrained", {
            "300w_root": "data/300w", "skip_train": skip_train, "threads": threads,
            **({} if command == RECIPE_COMMAND else {"command": command})}))
    write_json(out, payload, "reproduce_pretrained", results_markdown)
    return payload


def results_markdown(payload: dict) -> str:
    """The card's "Reproduced" block: time and model of the card's command run again, beside
    the shipped file's."""
    t, s, w = payload["timing"], payload["shipped"], payload["weights"]
    mine = payload["test"]
    label = ("the card's command, run again" if t
             else f"the finished run in `{payload['work_dir']}`")
    rows = [dict(model=label, io=f"{mine['nme_io']:.2f}",
                 ip=f"{mine['nme_ip']:.2f}",
                 own=f"{payload['run']['final_validation']['nme_io']:.2f}",
                 iters=f"{payload['run']['iterations']:,}",
                 minutes=f"{payload['run']['train_minutes']}",
                 wall=f"{t['wall_minutes']}" if t else "not timed"),
            dict(model="the shipped file", io=f"{s['nme_io']:.2f}", ip=f"{s['nme_ip']:.2f}",
                 own=f"{s['run']['final_nme_io']:.2f}", iters=f"{s['run']['iterations']:,}",
                 minutes=f"{s['run']['train_minutes']}", wall="")]
    table = markdown_table(rows, [
        ("model", "model"), ("io", f"NME inter-ocular (%), {mine['dtype']}"),
        ("ip", f"NME inter-pupil (%), {mine['dtype']}"),
        ("own", "NME(IO) of the run's own final test"), ("iters", "iterations"),
        ("minutes", "training minutes (logged)"), ("wall", "command's wall minutes")])
    lines = [f"`{payload['recipe_command']}`, run again on {payload['cpu']} (torch "
             f"{payload['environment']['torch']}), then measured as the shipped file was "
             f"(300W common, {mine['faces']} faces, ground-truth boxes):", table,
             f"NME(IO) minus the shipped file's: {payload['nme_io_minus_shipped']:+.4f}. "
             f"Weights in the shipped form: {w['bitwise_equal']} of {w['tensors']} "
             f"floating-point tensors bitwise equal to the shipped file's; a tensor's largest "
             f"difference is {w['median_relative_difference']:.3g} of its largest value "
             "(median over the tensors)."]
    if t:
        loads = t["load_average"]
        threads = t["omp_num_threads"] or f"unset ({t['torch_threads']} torch threads)"
        load = (f"median {statistics.median(loads):.2f}, max {max(loads):.2f}" if loads
                else "not sampled (the run was shorter)")
        lines.append(
            f"OMP_NUM_THREADS {threads}. The machine's 1-minute load average, every "
            f"{LOAD_EVERY_S:.0f} s through the run: {load} on {t['cpus']} CPUs (the run's own "
            f"threads account for about {t['torch_threads']}; more is other work). The shipped "
            "file's run trained beside another run, one thread each, by the command the card "
            "gives after this one (it resolves to the same config).")
    lines.append(f"Made by `{payload['command']}`.")
    return "\n\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = BenchParser(__doc__, "reproduce_pretrained", results_markdown,
                         root=f"{ROOT_HELP} (where `aan convert 300w` wrote it)",
                         root_required=True)
    parser.add_argument("--command", default=RECIPE_COMMAND,
                        help="the command to run again (default: the model card's)")
    parser.add_argument("--skip-train", action="store_true",
                        help="read the finished run in the command's work dir, no training")
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP_NUM_THREADS for the training command (default: as set here)")
    parser.add_argument("--package-dir", type=Path, default=PACKAGE_DIR)
    args = parser.parse_args(argv)
    ann = args.root / "annotations" / "face_landmarks_300w_common.json"
    if not ann.is_file():
        parser.error(f"--300w-root {args.root}: no {ann.relative_to(args.root)} "
                     f"(make it with `aan convert 300w RAW {args.root}`)")
    try:  # user errors found before anything runs: one line, exit 2
        work_dir = REPO / work_dir_of(args.command)
        if not args.skip_train:
            refuse_finished(work_dir)
    except (ValueError, FileExistsError) as err:
        parser.error(f"--command: {err}")
    reproduce(args.root, args.command, args.out, args.skip_train, args.package_dir,
              threads=args.threads)


if __name__ == "__main__":
    main()
