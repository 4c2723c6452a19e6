"""The product path on one GPU: ``mim train`` / ``mim test`` / ``aan predict`` as a user runs
them, on a 300W-layout dataset of synthetic faces, timed next to ``bench.gpu_train``'s
pure-PyTorch cached rate in the same run.

Steps (each a subprocess, its log kept under the work folder):

1. render a raw 300W layout (``afw``, ``helen/{trainset,testset}``, ``lfpw/...``, ``ibug``:
   jpg + 1-based ``.pts``; 3,148 train and 689 test faces by default) and convert it with
   ``aan convert 300w``, as for the real data;
2. ``mim train mmpose mm_configs/aan_300w_gpu.py`` (the GPU switch: bf16 AMP, fused Adam,
   channels-last, crops cached on the GPU) for ``--iters`` iterations, then
   ``mm_configs/aan_300w.py`` without the switch for ``--plain-iters``;
3. ``mim test`` of the trained checkpoint, ``aan predict`` on the ``ibug`` images;
4. ``python -m bench.gpu_train`` (cached crops on the GPU, on-the-fly synthetic faces,
   compiled);
5. torch.compile's graph breaks on this torch, for the training forward.

Images/s of a ``mim train`` run come from mmengine's per-iteration ``time`` (data + step) in
``vis_data/scalars.json``, leaving out the first fifth of the run (warm-up, cudnn autotune).
Run it with ``bash bench/gpu_product_path.sh`` on the GPU machine; ``--tiny`` runs every step
on the CPU in about a minute (the tests do; AMP is then off, the cache in host memory).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np
import torch

from bench.common import (
    RESULTS,
    BenchParser,
    command_line,
    environment,
    json_args,
    machine_line,
    markdown_table,
    write_json,
)

REPO = Path(__file__).resolve().parents[1]
SCHEDULE_ITERS, SCHEDULE_BATCH = 50_000, 64
TRAIN_FOLDERS = ("afw", "helen/trainset", "lfpw/trainset")
COMMON_FOLDERS = ("helen/testset", "lfpw/testset")
# CPU stand-in for the GPU switch (AmpOptimWrapper needs CUDA): everything else unchanged.
CPU_SWITCH = """_base_ = [{base!r}]
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-3))
train_dataloader = dict(dataset=dict(device='cpu', num_workers=0))
"""


def _write_face(job: tuple[int, int, int, str]) -> None:
    from aan_core.data.synthetic_faces import render_synthetic_face

    seed, index, size, stem = job
    face = render_synthetic_face(seed, index, size)
    cv2.imwrite(stem + ".jpg", face.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    points = "\n".join(f"{x + 1:.3f} {y + 1:.3f}" for x, y in face.keypoints)  # 1-based
    Path(stem + ".pts").write_text(f"version: 1\nn_points: 68\n{{\n{points}\n}}\n")


def write_raw_300w(raw: Path, n_train: int, n_test: int, size: int, workers: int) -> None:
    """Synthetic faces in iBUG's raw 300W layout; test faces split common : challenging as
    554 : 135."""
    n_challenging = max(1, round(n_test * 135 / 689))
    jobs = []
    for i in range(n_train):
        jobs.append((0, i, size, str(raw / TRAIN_FOLDERS[i % 3] / f"train_{i:05d}")))
    for i in range(n_test):
        folder = "ibug" if i < n_challenging else COMMON_FOLDERS[i % 2]
        jobs.append((1, i, size, str(raw / folder / f"test_{i:05d}")))
    for folder in (*TRAIN_FOLDERS, *COMMON_FOLDERS, "ibug"):
        (raw / folder).mkdir(parents=True, exist_ok=True)
    if workers > 1:
        with Pool(workers) as pool:
            pool.map(_write_face, jobs, chunksize=16)
    else:
        for job in jobs:
            _write_face(job)


def run(name: str, cmd: list[str], log_dir: Path, cwd: Path | None = None) -> tuple[float, str]:
    """Run one step; its output goes to ``log_dir/name.log``. Exits on failure."""
    log = log_dir / f"{name}.log"
    print(f"[product] {name}: {' '.join(cmd[:6])} ...", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"}, cwd=cwd)
    wall = time.perf_counter() - start
    log.write_text(proc.stdout)
    if proc.returncode != 0:
        print(proc.stdout[-4000:], file=sys.stderr)
        raise SystemExit(f"[product] {name} failed (exit {proc.returncode}); log: {log}")
    return wall, proc.stdout


def data_overrides(data: Path, cached: bool, workers: int | None) -> list[str]:
    """``--cfg-options`` pointing train / val / test at ``data`` (the config's file names)."""
    train = "train_dataloader.dataset.dataset" if cached else "train_dataloader.dataset"
    opts = [f"{train}.data_root={data}/"]
    for split in ("val", "test"):
        opts.append(f"{split}_dataloader.dataset.data_root={data}/")
        if workers is not None:
            opts += [f"{split}_dataloader.num_workers={workers}",
                     f"{split}_dataloader.persistent_workers={workers > 0}"]
    if workers is not None and not cached:
        opts += [f"train_dataloader.num_workers={workers}",
                 f"train_dataloader.persistent_workers={workers > 0}"]
    return opts


def train_rate(work: Path, batch: int, iters: int) -> dict:
    """Images/s from mmengine's logged iteration times after the first fifth of the run."""
    logs = sorted(work.glob("*/vis_data/scalars.json"))
    rows = [json.loads(line) for log in logs for line in log.read_text().splitlines()]
    times = [(r["step"], r["time"]) for r in rows if "time" in r and "loss" in r]
    late = [t for step, t in times if step > iters // 5] or [t for _, t in times]
    if not late:
        raise SystemExit(f"[product] no iteration times logged under {work}")
    mean = float(np.mean(late))
    return dict(images_per_s=batch / mean, iter_s=mean, logged_windows=len(late),
                final_loss=[r["loss"] for r in rows if "loss" in r][-1])


def count_graph_breaks(device: torch.device, size: int) -> dict:
    """torch._dynamo.explain on gpu_train.py's training forward (no code generation)."""
    from aan_core import AANLandmarkModel

    torch._dynamo.reset()
    model = AANLandmarkModel(final_input="flatten", branch_input="flatten", input_size=size)
    model = model.to(device).to(memory_format=torch.channels_last)
    x = torch.randn(2, 3, size, size, device=device).contiguous(
        memory_format=torch.channels_last)
    target = torch.rand(2, 68, 2, device=device)
    with torch.autocast(device.type, dtype=torch.bfloat16):
        explained = torch._dynamo.explain(model)(x, target)
    return dict(graph_breaks=explained.graph_break_count, graphs=explained.graph_count,
                reasons=[str(r.reason)[:300] for r in explained.break_reasons])


def build_parser() -> BenchParser:
    parser = BenchParser(__doc__, "gpu_product_path", results_markdown,
                         tiny="every step on the CPU, tiny")
    parser.add_argument("--iters", type=int, default=300, help="mim train with the switch")
    parser.add_argument("--plain-iters", type=int, default=100, help="mim train without it")
    parser.add_argument("--batch", type=int, default=SCHEDULE_BATCH)
    parser.add_argument("--train-faces", type=int, default=3148)
    parser.add_argument("--test-faces", type=int, default=689)
    parser.add_argument("--image-size", type=int, default=256, help="rendered image side")
    parser.add_argument("--gpu-train-steps", type=int, default=200)
    parser.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1))
    parser.add_argument("--no-compile", action="store_true",
                        help="skip gpu_train.py's torch.compile measurement")
    parser.add_argument("--work", type=Path, help="work folder (default: a new temp folder)")
    return parser


def set_tiny(args: argparse.Namespace) -> None:
    """``--tiny``: every step on the CPU, a few iterations on a few faces."""
    args.iters, args.plain_iters, args.batch, args.gpu_train_steps = 5, 5, 2, 2
    args.train_faces, args.test_faces, args.image_size, args.workers = 9, 4, 96, 0
    args.no_compile = True
    if args.out == RESULTS / "gpu_product_path.json":
        args.out = Path(tempfile.mkdtemp()) / "gpu_product_path_tiny.json"


def schedule_options(args: argparse.Namespace, iters: int) -> list[str]:
    return [f"train_cfg.max_iters={iters}", f"train_cfg.val_interval={iters}",
            f"default_hooks.checkpoint.interval={iters}", "default_hooks.logger.interval=10",
            f"train_dataloader.batch_size={args.batch}", "randomness.seed=0"]


def product_steps(args: argparse.Namespace, work: Path, logs: Path, cuda: bool,
                  steps: dict[str, float]) -> dict:
    """Render and convert a 300W-like dataset, `mim train` it with and without the switch,
    `mim test`, `aan predict`: each step timed into ``steps``; the runs' rates and results."""
    py, device = sys.executable, "cuda" if cuda else "cpu"
    t = time.perf_counter()
    raw, data = work / "raw300w", work / "data300w"
    write_raw_300w(raw, args.train_faces, args.test_faces, args.image_size, args.workers)
    steps["render_dataset_s"] = time.perf_counter() - t
    steps["convert_s"], _ = run("convert", [py, "-m", "aan_components.cli", "convert", "300w",
                                            str(raw), str(data)], logs)
    switch_cfg = REPO / "mm_configs" / "aan_300w_gpu.py"
    if not cuda:
        switch_cfg = work / "aan_300w_gpu_cpu.py"
        switch_cfg.write_text(CPU_SWITCH.format(base=str(REPO / "mm_configs" /
                                                      "aan_300w_gpu.py")))
    workers = None if cuda else 0
    switch_work = work / "train_switch"
    steps["train_switch_s"], _ = run("train_switch", [
        py, "-m", "mim", "train", "mmpose", str(switch_cfg), "--work-dir", str(switch_work),
        "--cfg-options", *schedule_options(args, args.iters),
        *data_overrides(data, True, workers)], logs)
    plain_work = work / "train_plain"
    steps["train_plain_s"], _ = run("train_plain", [
        py, "-m", "mim", "train", "mmpose", str(REPO / "mm_configs" / "aan_300w.py"),
        "--work-dir", str(plain_work), "--cfg-options", *schedule_options(args, args.plain_iters),
        *data_overrides(data, False, workers)], logs)
    ckpt = switch_work / f"iter_{args.iters}.pth"
    steps["test_s"], out = run("test", [
        py, "-m", "mim", "test", "mmpose", str(switch_cfg), "--checkpoint", str(ckpt),
        "--work-dir", str(work / "test"), "--cfg-options",
        *data_overrides(data, True, workers)], logs)
    nme = re.findall(r"(?<![\w/])NME: ([0-9.]+)", out)  # inter-ocular, not inter_pupil/NME
    predict_out = work / "predict"
    steps["predict_s"], _ = run("predict", [
        py, "-m", "aan_components.cli", "predict", str(switch_cfg), str(ckpt), str(raw / "ibug"),
        "--out", str(predict_out), "--device", device, "--no-draw", "--whole-image"], logs)
    predicted = json.loads((predict_out / "landmarks.json").read_text())
    return dict(switch=train_rate(switch_work, args.batch, args.iters),
                plain=train_rate(plain_work, args.batch, args.plain_iters),
                nme=float(nme[-1]) if nme else None, predicted=len(predicted["images"]))


def gpu_train_step(args: argparse.Namespace, work: Path, logs: Path,
                   steps: dict[str, float]) -> dict:
    """``bench.gpu_train`` as a subprocess (timed into ``steps``); its results file."""
    bench_json = work / "gpu_train.json"
    bench_cmd = [sys.executable, "-m", "bench.gpu_train", "--out", str(bench_json)]
    bench_cmd += ["--tiny"] if args.tiny else ["--steps", str(args.gpu_train_steps),
                                               "--batch", str(args.batch)]
    bench_cmd += [] if args.no_compile else ["--compile"]
    steps["gpu_train_s"], _ = run("gpu_train", bench_cmd, logs, cwd=REPO)
    if args.tiny:  # gpu_train --tiny writes to its own temp folder
        bench_json = Path(re.findall(r"\[bench\] wrote (\S+\.json)",
                                     (logs / "gpu_train.log").read_text())[-1])
    return json.loads(bench_json.read_text())


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.tiny:
        set_tiny(args)
    cuda = torch.cuda.is_available() and not args.tiny
    device = torch.device("cuda" if cuda else "cpu")
    work = args.work or Path(tempfile.mkdtemp(prefix="aan_product_"))
    work.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    name = torch.cuda.get_device_name(device) if cuda else "cpu"
    print(f"[product] device {name}, torch {torch.__version__}, work folder {work}", flush=True)
    steps: dict[str, float] = {}
    product = product_steps(args, work, logs, cuda, steps)
    bench = gpu_train_step(args, work, logs, steps)
    graph = count_graph_breaks(device, 64 if args.tiny else 256)
    cached = next(r["images_per_s"] for r in bench["runs"]
                  if r["data"] == "cached" and not r["compiled"])
    paths = {"mim train, GPU switch (aan_300w_gpu.py)": product["switch"]["images_per_s"],
             "mim train, no switch (aan_300w.py)": product["plain"]["images_per_s"]}
    paths.update({f"gpu_train.py {r['data']}{' + compile' if r['compiled'] else ''}":
                  r["images_per_s"] for r in bench["runs"]})
    payload = dict(
        benchmark="gpu_product_path", device=name, torch=torch.__version__,
        cuda=torch.version.cuda, environment=environment(), args=json_args(args),
        images_per_s=paths,
        projected_schedule_min={k: SCHEDULE_ITERS * SCHEDULE_BATCH / v / 60
                                for k, v in paths.items()},
        schedule=f"{SCHEDULE_ITERS} x {SCHEDULE_BATCH}", switch_run=product["switch"],
        plain_run=product["plain"], test_nme=product["nme"],
        predicted_images=product["predicted"], step_seconds=steps, compile_graph=graph,
        gpu_train=bench["runs"],
        goal="mim train with the switch >= 80% of gpu_train.py's cached rate; "
             "50k x 64 in <= 10 min")
    payload["table"] = path_table(payload, cached)
    print(f"\n{name}, torch {torch.__version__}, batch {args.batch}\n\n{payload['table']}\n")
    nme = "?" if product["nme"] is None else product["nme"]
    print(f"[product] mim test NME {nme} after {args.iters} iterations; "
          f"aan predict: {product['predicted']} images; graph breaks {graph['graph_breaks']}")
    write_json(args.out, payload, "gpu_product_path", results_markdown)


def path_table(payload: dict, cached: float) -> str:
    """Images/s of every path, its share of gpu_train's cached rate, the projected schedule."""
    return markdown_table(
        [dict(path=k, ips=f"{v:.0f}", of=f"{100 * v / cached:.0f}%",
              sched=f"{payload['projected_schedule_min'][k]:.1f}")
         for k, v in payload["images_per_s"].items()],
        [("path", "path"), ("ips", "images/s"), ("of", "of gpu_train cached"),
         ("sched", f"{SCHEDULE_ITERS // 1000}k x {SCHEDULE_BATCH} (min)")])


def results_markdown(payload: dict) -> str:
    """The tables of a results file, from its rates."""
    cached = next(r["images_per_s"] for r in payload["gpu_train"]
                  if r["data"] == "cached" and not r["compiled"])
    graph = payload["compile_graph"]
    nme = payload["test_nme"]
    return "\n\n".join([
        f"{payload['device']}, torch {payload['torch']}, batch {payload['args']['batch']}; "
        f"`mim test` NME {'-' if nme is None else f'{nme:.2f}'} after "
        f"{payload['args']['iters']} iterations; `aan predict`: {payload['predicted_images']} "
        f"images; torch.compile graph breaks: {graph['graph_breaks']}.",
        path_table(payload, cached),
        f"Command: `{command_line('gpu_product_path', payload['args'], skip=('work',))}`",
        machine_line(payload)])


if __name__ == "__main__":
    main()
