"""AAN training throughput on one GPU (or the CPU, --tiny): bf16 autocast + channels-last,
data loading included, from two data paths, and the projected time of the 300W schedule at
batch 64: to the paper's last lr step (40,000 iterations; the paper does not say where it
stops) and to the end of aan_300w.py's schedule (max_iters 50,000), both reported.

- ``synthetic``: faces rendered on the fly by DataLoader workers (numpy + OpenCV), copied to
  the GPU each step (pinned memory, non-blocking) - the loader can be the bottleneck;
- ``cached``: crops prepared once and kept on the GPU as uint8 (the paper uses no
  augmentation, so a 300W crop never changes); each step indexes a random batch there - no
  loader, no host-to-device copy;
- ``pool_augmented``: the same crops as a pool of synthetic faces, each drawn batch warped
  and recoloured on the GPU with exact landmarks (aan_core.data.face_augmentation, kornia; the
  run is left out when kornia is not installed).

Pure PyTorch + aan_core (no MMPose): the model is the aan_300w.py network
(``aan_core.AANLandmarkModel`` with flattened regressor inputs: stem 64, stages 128-1024, one
bottleneck + attention per stage, cosine embedding 256, a branch per stage, L2 at the
EuclideanLoss scale), trained with Adam lr 1e-3 wd 1e-3. Needs only torch, torchvision, numpy
and OpenCV (no MMPose).

    python3 -m bench.gpu_train --compile     # on the GPU machine (docs/gpu_training.md)
    python3 -m bench.gpu_train --tiny        # smoke run on the CPU (CI)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from aan_core import AANLandmarkModel
from aan_core.data.synthetic_faces import render_synthetic_face
from bench.common import BenchParser, command_line, json_args, machine_line, write_json

REPO = Path(__file__).resolve().parents[1]

PAPER_BATCH = 64
# iterations: the paper's last lr step (40k, a lower bound) and aan_300w.py's max_iters (50k)
SCHEDULES = {"40k": 40_000, "50k": 50_000}
MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)


class SyntheticCrops(torch.utils.data.Dataset):
    """Synthetic faces rendered at the crop size: (uint8 CHW image, (K, 2) in [0, 1])."""

    def __init__(self, size: int, length: int = 10 ** 7, seed: int = 0) -> None:
        self.size, self.length, self.seed = size, length, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        face = render_synthetic_face(self.seed, i, self.size)
        image = torch.from_numpy(np.ascontiguousarray(face.image[:, :, ::-1])).permute(2, 0, 1)
        return image, torch.from_numpy(face.keypoints / self.size).float()


def _worker_init(_: int) -> None:
    import cv2

    cv2.setNumThreads(1)  # one renderer per worker process: no thread oversubscription
    torch.set_num_threads(1)


def preprocess(images: torch.Tensor, device, channels_last: bool) -> torch.Tensor:
    x = (images.to(device, non_blocking=True).float() - MEAN.to(device)) / STD.to(device)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def run_training(model, optim, batches, steps: int, warmup: int, device, amp: bool,
                 channels_last: bool) -> tuple[float, float]:
    """(images/s, final loss) over ``steps`` timed steps after ``warmup`` steps."""
    dtype = torch.bfloat16
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    loss = torch.zeros(())
    start = None
    seen = 0
    for i, (images, target) in enumerate(batches):
        if i == warmup:
            sync()
            start = time.perf_counter()
            seen = 0
        x = preprocess(images, device, channels_last)
        target = target.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=dtype, enabled=amp):
            loss = model(x, target)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        seen += len(x)
        if i + 1 == warmup + steps:
            break
    sync()
    return seen / (time.perf_counter() - start), float(loss)


def cached_batches(crops: torch.Tensor, targets: torch.Tensor, batch: int, seed: int = 0):
    g = torch.Generator(device=crops.device).manual_seed(seed)
    while True:
        idx = torch.randint(len(crops), (batch,), device=crops.device, generator=g)
        yield crops[idx], targets[idx]


def augmented_batches(crops: torch.Tensor, targets: torch.Tensor, batch: int, seed: int = 0):
    """Cached crops, each draw a new random variant (aan_core.data.face_augmentation, on the
    crops' device): the pool path of mm_configs/aan_synthetic_pool.py."""
    from aan_core.data.face_augmentation import RandomFaceAugmentation

    augment = RandomFaceAugmentation().to(crops.device)
    size = torch.tensor(crops.shape[-1:-3:-1], device=crops.device, dtype=torch.float32)
    for images, points in cached_batches(crops, targets, batch, seed):
        images, points, _ = augment(images.float() / 255, points * size)
        yield images * 255, points / size


def results_markdown(payload: dict) -> str:
    """The table of a results file, from its runs."""

    a = payload["args"]
    lines = ["| data | compiled | images/s | 300W 40k iterations (min) | 300W 50k (min) |",
             "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r['data']} | {r['compiled']} | {r['images_per_s']:.0f} | "
              f"{r['projected_300w_40k_min']:.1f} | {r['projected_300w_50k_min']:.1f} |"
              for r in payload["runs"]]
    return "\n\n".join([
        f"Batch {a['batch']}, {a['size']} px, {'fp32' if a['no_amp'] else 'bf16 autocast'}, "
        f"channels-last, torch {payload['torch']}; projected times at batch {PAPER_BATCH}.",
        "\n".join(lines), f"Command: `{command_line('gpu_train', a)}`",
        machine_line(payload)])


def build_parser() -> BenchParser:
    parser = BenchParser(__doc__, "gpu_train", results_markdown, tiny=True)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=PAPER_BATCH)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=200, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--cache", type=int, default=4096, help="crops prepared once")
    parser.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1))
    parser.add_argument("--no-amp", action="store_true", help="fp32 instead of bf16 autocast")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    return parser


def fresh_model(args: argparse.Namespace, device: torch.device, compiled: bool):
    """aan_300w.py's network and its Adam, channels-last on ``device`` (compiled or not)."""
    model = AANLandmarkModel(final_input="flatten", branch_input="flatten",
                             input_size=args.size)
    model = model.to(device).to(memory_format=torch.channels_last)
    optim = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-3,
                             fused=device.type == "cuda")
    return (torch.compile(model) if compiled else model), optim


def cache_crops(args: argparse.Namespace, device: torch.device):
    """``args.cache`` synthetic crops and their targets on ``device``, and the seconds taken."""
    t0 = time.perf_counter()
    cache = SyntheticCrops(args.size, seed=1)
    items = [cache[i] for i in range(args.cache)]
    crops = torch.stack([im for im, _ in items]).to(device)
    targets = torch.stack([t for _, t in items]).to(device)
    cache_s = time.perf_counter() - t0
    print(f"[gpu_train] cached {args.cache} crops in {cache_s:.1f} s "
          f"({crops.numel() / 2 ** 20:.0f} MiB uint8 on {device.type})", flush=True)
    return crops, targets, cache_s


def data_variants(args: argparse.Namespace) -> list[tuple[str, bool]]:
    """(data source, compiled) of every measurement."""
    variants = [("cached", False), ("synthetic", False)]
    try:
        import kornia  # noqa: F401

        variants.append(("pool_augmented", False))
    except ImportError:
        print("[gpu_train] kornia is not installed: no pool_augmented run", flush=True)
    if args.compile:
        variants.append(("cached", True))
    return variants


def measure(args, device: torch.device, amp: bool, data: str, compiled: bool, crops,
            targets) -> dict:
    """Train ``args.steps`` timed steps on one data source: images/s and the 300W
    schedules' projected minutes."""
    model, optim = fresh_model(args, device, compiled)
    if data == "cached":
        batches = cached_batches(crops, targets, args.batch)
    elif data == "pool_augmented":
        batches = augmented_batches(crops, targets, args.batch)
    else:
        batches = iter(torch.utils.data.DataLoader(
            SyntheticCrops(args.size), batch_size=args.batch, shuffle=False,
            num_workers=args.workers, pin_memory=device.type == "cuda",
            persistent_workers=args.workers > 0, worker_init_fn=_worker_init,
            prefetch_factor=4 if args.workers > 0 else None))
    t = time.perf_counter()
    ips, loss = run_training(model, optim, batches, args.steps, args.warmup, device, amp,
                             channels_last=True)
    projected = {k: iters * PAPER_BATCH / ips / 60 for k, iters in SCHEDULES.items()}
    print(f"[gpu_train] {data}{' + compile' if compiled else ''}: {ips:.0f} images/s; "
          f"300W schedule x {PAPER_BATCH}: "
          + ", ".join(f"{k} iterations in {v:.1f} min" for k, v in projected.items()),
          flush=True)
    return dict(data=data, compiled=compiled, images_per_s=ips, final_loss=loss,
                wall_s=time.perf_counter() - t,
                **{f"projected_300w_{k}_min": v for k, v in projected.items()})


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.tiny:
        args.device, args.batch, args.size, args.steps, args.warmup = "cpu", 2, 64, 2, 1
        args.cache, args.workers, args.compile = 8, 0, False
        args.out = Path(tempfile.mkdtemp()) / "gpu_train_tiny.json"
    device = torch.device(args.device)
    amp = not args.no_amp
    torch.manual_seed(0)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"[gpu_train] device {name}, batch {args.batch}, {args.size} px, "
          f"{'bf16 autocast' if amp else 'fp32'}, channels-last", flush=True)
    crops, targets, cache_s = cache_crops(args, device)
    results = [measure(args, device, amp, data, compiled, crops, targets)
               for data, compiled in data_variants(args)]
    if device.type == "cuda":
        print(f"[gpu_train] peak GPU memory {torch.cuda.max_memory_allocated() / 2 ** 30:.1f} "
              f"GiB", flush=True)
    payload = dict(benchmark="gpu_train", device=name, args=json_args(args),
        torch=torch.__version__, cache_seconds=cache_s, runs=results,
        goal="300W schedule <= 10 min on one H100")
    payload["table"] = results_markdown(payload).split("\n\n")[1]
    print("\n" + payload["table"])

    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, payload, "gpu_train", results_markdown)


if __name__ == "__main__":
    main()
