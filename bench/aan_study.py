"""Table 5 on trial: AAN's mechanisms (attention, cosine embedding, intermediate branches)
at an equal budget, for several regressor inputs, several seeds per cell.

Pure PyTorch + aan_core (the ``AANTrainer`` network of ``bench/gpu_train.py``, with its
ablation switches). Every cell trains from scratch on the same cached synthetic crops with
the same schedule: Adam lr 1e-3, weight decay 1e-3, lr x0.1 at 50% and 80% of the run, L2
at the EuclideanLoss scale (on every prediction, final and branches), batches drawn at
random from the cache (seeded). It is tested on held-out crops: NME (%) normalised by the
outer-eye-corner distance, over all 68 points, mean over faces.

Crops are rendered once by DataLoader workers, stored in ``--cache-dir`` (uint8, reused by
later runs) and held in memory on the training device (the GPU when there is one).

The grid is ``--heads`` x ``--variants`` x ``--seeds``. A head names the regressor input
of the final head and of the branches (``gap``, ``flatten``, ``grid<S>``; ``A/B`` for a
final input A and branch input B). JSON ``--out`` is rewritten after every run;
``--resume`` keeps the runs measured with the same protocol and runs only the missing
cells, so the grid can be completed over several invocations.

    python bench/aan_study.py --device cuda              # GPU setting (README)
    python bench/aan_study.py --preset cpu --resume      # reduced CPU grid (README)
    python bench/aan_study.py --tiny                     # smoke run (CI)
    python bench/aan_study.py --summarise bench/results/aan_study.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, environment, markdown_table, write_json  # noqa: E402
from gpu_train import AANTrainer, SyntheticCrops, _worker_init, preprocess  # noqa: E402

from aan_core.coordinate_regressor import regressor_input_cells  # noqa: E402
from aan_core.face_metrics import inter_ocular, per_image_nme  # noqa: E402

# name: (label, AANTrainer options). Table 5's four cells first.
VARIANTS: dict[str, tuple[str, dict]] = {
    "aan": ("AAN (attention + embedding + branches)", {}),
    "no_attention": ("w/o attention", dict(attention=False)),
    "no_embedding": ("w/o embedding", dict(embedding_dim=None)),
    "no_both": ("w/o both", dict(attention=False, embedding_dim=None)),
    "aan_no_branches": ("AAN w/o branches", dict(branches=False)),
    "no_attention_no_branches": ("w/o attention, w/o branches",
                                 dict(attention=False, branches=False)),
    "aan_four_pools": ("AAN, four poolings (stem stride 2)", dict(stem_stride=2)),
    "aan_no_relu": ("AAN, sigmoid without ReLU (map in (0, 1))", dict(attention_relu=False)),
    "aan_deep_branches": ("AAN, branch weights 0.25/0.5/0.75/1",
                          dict(branch_weights=(0.25, 0.5, 0.75, 1.0))),
}
TABLE5 = ["aan", "no_embedding", "no_attention", "no_both"]
PAPER_TABLE5_AFLW = {"aan": 1.73, "no_embedding": 1.78, "no_attention": 2.06, "no_both": 2.10}
# The settings that define a comparable run; --resume refuses a file measured otherwise.
PROTOCOL = ("size", "width", "iters", "batch", "lr", "weight_decay", "train_crops",
            "test_crops", "amp")
PRESETS = {
    # One H100/H200: full width (aan_300w.py), 128 px, bf16. Sized so that its grid (39
    # runs) stays within 8 min (README, "Table 5 on synthetic faces": an estimate, not yet
    # measured on a GPU; --resume completes it if not).
    "gpu": dict(size=128, width=1.0, iters=1000, batch=64, train_crops=16384,
                test_crops=1024, threads=None),
    # This shared 2-core CPU: half width, 128 px, fp32, one thread (measured 6x faster than
    # two threads while other jobs share the cores); what README's table reports. Batch 8:
    # measured 2026-11-28, one run of 800 x 16 took > 7 min at the CPU share a niced job
    # gets here, too long for 24+ runs in the ~70 min available.
    "cpu": dict(size=128, width=0.5, iters=800, batch=8, train_crops=4096, test_crops=512,
                threads=1),
    # Smoke run: numbers mean nothing.
    "tiny": dict(size=64, width=0.125, iters=3, batch=2, train_crops=8, test_crops=4,
                 threads=1),
}
# The declared grid of a preset, in priority order (an interrupted grid keeps the first
# groups complete): (heads, variants) groups, each run for every seed.
_CORE = [(["gap", "flatten"], TABLE5),
         (["gap", "flatten"], ["aan_no_branches", "no_attention_no_branches"]),
         (["flatten"], ["aan_four_pools"])]
GRIDS = {"gpu": _CORE, "cpu": _CORE, "tiny": [(["gap", "flatten"], list(VARIANTS))]}
LEFT_EYE, RIGHT_EYE = 36, 45  # outer eye corners (iBUG 68-point layout)


def parse_head(head: str) -> tuple[str, str]:
    """``'gap'`` -> (gap, gap); ``'grid2/gap'`` -> final grid2, branches gap."""
    final, _, branch = head.partition("/")
    branch = branch or final
    for mode in (final, branch):
        regressor_input_cells(mode, (1, 1))  # raises on an unknown name
    return final, branch


def render_crops(size: int, count: int, seed: int, workers: int, cache_dir: Path):
    """(uint8 (N, 3, S, S) RGB crops, float (N, 68, 2) points in [0, 1]), rendered once by
    ``workers`` processes and kept as ``.npz`` in ``cache_dir``."""
    path = cache_dir / f"synthetic_{size}px_{count}_seed{seed}.npz"
    if path.is_file():
        data = np.load(path)
        return torch.from_numpy(data["crops"]), torch.from_numpy(data["points"])
    loader = torch.utils.data.DataLoader(
        SyntheticCrops(size, length=count, seed=seed), batch_size=64, num_workers=workers,
        worker_init_fn=_worker_init if workers else None)
    crops, points = zip(*loader, strict=True)
    crops, points = torch.cat(crops), torch.cat(points)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, crops=crops.numpy(), points=points.numpy())
    os.replace(tmp, path)
    return crops, points


def build(variant: str, head: str, width: float, size: int) -> AANTrainer:
    final, branch = parse_head(head)
    stages = tuple(max(4, int(round(c * width / 4)) * 4) for c in (128, 256, 512, 1024))
    return AANTrainer(stem=max(4, int(round(64 * width))), stages=stages,
                      final_input=final, branch_input=branch, size=size,
                      **VARIANTS[variant][1])


def train_and_test(variant: str, head: str, seed: int, data, args, device) -> dict:
    """Train one cell for ``args.iters`` iterations, test it on the held-out crops."""
    train_x, train_y, test_x, test_y = data
    torch.manual_seed(seed)
    model = build(variant, head, args.width, args.size).to(device)
    channels_last = True  # measured faster on the GPU and (10%) on this CPU
    model = model.to(memory_format=torch.channels_last)
    optim = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(
        optim, [int(args.iters * 0.5), int(args.iters * 0.8)], gamma=0.1)
    g = torch.Generator(device=device).manual_seed(seed)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    model.train()
    sync()
    start = time.perf_counter()
    loss = torch.zeros(())
    for _ in range(args.iters):
        idx = torch.randint(len(train_x), (args.batch,), device=device, generator=g)
        x = preprocess(train_x[idx], device, channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp):
            loss = model(x, train_y[idx])
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        sched.step()
    sync()
    seconds = time.perf_counter() - start
    model.eval()
    preds = []
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp):
        for i in range(0, len(test_x), 256):
            preds.append(model.predict(preprocess(test_x[i:i + 256], device,
                                                  channels_last)).float().cpu())
    pred, gt = torch.cat(preds).numpy(), test_y.cpu().numpy()
    nme = per_image_nme(pred, gt, np.ones(gt.shape[:2]), inter_ocular(gt, LEFT_EYE, RIGHT_EYE))
    params = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("branches"))
    row = dict(variant=variant, head=head, seed=seed, nme_pct=float(np.nanmean(nme) * 100),
               final_loss=float(loss.detach()), finite=math.isfinite(float(loss.detach())),
               train_seconds=seconds, train_images_per_s=args.iters * args.batch / seconds,
               inference_params_M=params / 1e6)
    print(f"[study] {head:>10} {variant:<26} seed {seed}: NME {row['nme_pct']:.2f}%  "
          f"({seconds:.0f} s, {row['train_images_per_s']:.0f} img/s)", flush=True)
    return row


def summarise(rows: list[dict]) -> list[dict]:
    """Mean ± sd of NME over seeds for every (head, variant) cell, in grid order."""
    out = []
    heads = list(dict.fromkeys(r["head"] for r in rows))
    for head in heads:
        for variant, (label, _) in VARIANTS.items():
            runs = [r for r in rows if r["head"] == head and r["variant"] == variant]
            if not runs:
                continue
            vals = [r["nme_pct"] for r in runs]
            mean = statistics.fmean(vals)
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            out.append(dict(head=head, variant=variant, label=label, nme_mean=mean, nme_sd=sd,
                            NME=f"{mean:.2f} ± {sd:.2f}", seeds=[r["seed"] for r in runs],
                            per_seed=", ".join(f"{v:.2f}" for v in vals),
                            paper=PAPER_TABLE5_AFLW.get(variant, "")))
    return out


COLUMNS = [("head", "regressor input"), ("label", "variant"), ("NME", "NME % (mean ± sd)"),
           ("per_seed", "per seed"), ("paper", "paper Table 5, AFLW")]


def report(payload: dict, out: Path) -> None:
    rows = payload["runs"]
    summary = summarise(rows)
    table = markdown_table(summary, COLUMNS)
    verdicts = {}
    for head in dict.fromkeys(r["head"] for r in rows):
        means = {s["variant"]: s["nme_mean"] for s in summary if s["head"] == head}
        if all(v in means for v in TABLE5):
            order = sorted(TABLE5, key=means.get)
            verdicts[head] = dict(measured_order=order, paper_order_holds=order == TABLE5,
                                  attention_helps=means["aan"] < means["no_attention"],
                                  embedding_helps=means["aan"] < means["no_embedding"])
    p = payload["protocol"]
    print(f"\nEqual budget: {p['iters']} iterations x {p['batch']}, {p['size']} px, width "
          f"x{p['width']}, {p['train_crops']} training / {p['test_crops']} test crops, "
          f"device {payload['device']}\n")
    print(table)
    for head, v in verdicts.items():
        print(f"[study] {head}: measured order {v['measured_order']}; paper's order "
              f"{'holds' if v['paper_order_holds'] else 'does not hold'}")
    write_json(out, {**payload, "summary": summary, "verdicts": verdicts, "table": table})


def merge(paths: list[Path], out: Path) -> None:
    """Join the runs of several results files (same protocol; a cell measured twice keeps
    its first run) and report them as one."""
    payloads = [json.loads(p.read_text()) for p in paths]
    first = payloads[0]
    for path, other in zip(paths[1:], payloads[1:], strict=True):
        differ = [k for k in PROTOCOL if other["protocol"].get(k) != first["protocol"].get(k)]
        if differ:
            sys.exit(f"--merge: {path} was measured with another protocol than {paths[0]} "
                     f"({', '.join(differ)})")
    rows, seen = [], set()
    for payload in payloads:
        for row in payload["runs"]:
            if (key := (row["variant"], row["head"], row["seed"])) not in seen:
                seen.add(key)
                rows.append(row)
    protocol = {**first["protocol"], "grid": [g for p in payloads for g in p["protocol"]["grid"]],
                "merged_from": [str(p) for p in paths]}
    report({**first, "protocol": protocol, "runs": rows,
            "partial": any(p.get("partial") for p in payloads)}, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--preset", choices=list(PRESETS), default=None,
                        help="budget and scale (default: gpu with --device cuda, else cpu)")
    parser.add_argument("--tiny", action="store_true", help="smoke run (numbers mean nothing)")
    parser.add_argument("--heads", nargs="+", default=None,
                        help="alone: run only these heads of the preset's declared grid (one "
                             "process per head, each with its own --out, then --merge); with "
                             "--variants: the grid heads x variants")
    parser.add_argument("--variants", nargs="+", default=None, choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    for key in ("size", "iters", "batch", "train_crops", "test_crops", "threads"):
        parser.add_argument(f"--{key.replace('_', '-')}", type=int, default=None)
    parser.add_argument("--width", type=float, default=None, help="channel width factor")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-3)
    parser.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1))
    parser.add_argument("--cache-dir", type=Path,
                        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                        / "aan_study")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--resume", action="store_true",
                        help="keep the finished runs in --out and run only the missing cells")
    parser.add_argument("--summarise", type=Path, default=None, metavar="JSON",
                        help="no training: print the table of a results file")
    parser.add_argument("--merge", type=Path, nargs="+", default=None, metavar="JSON",
                        help="no training: join the runs of results files measured with the "
                             "same protocol into --out and print the table")
    args = parser.parse_args()
    if args.summarise is not None:
        report(json.loads(args.summarise.read_text()), args.summarise)
        return
    if args.merge is not None:
        merge(args.merge, args.out or RESULTS / "aan_study.json")
        return
    preset = "tiny" if args.tiny else args.preset or ("gpu" if args.device == "cuda" else "cpu")
    for key, value in PRESETS[preset].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.tiny:
        args.seeds, args.workers = args.seeds[:1], 0
        args.cache_dir = Path(tempfile.mkdtemp())
    if args.out is None:
        args.out = (Path(tempfile.mkdtemp()) / "aan_study_tiny.json" if args.tiny
                    else RESULTS / "aan_study.json")
    if args.variants is None:
        grid = [([h for h in heads if args.heads is None or h in args.heads], variants)
                for heads, variants in GRIDS[preset]]
        grid = [(heads, variants) for heads, variants in grid if heads]
    else:
        grid = [(args.heads or ["gap"], args.variants or TABLE5)]
    for head in {h for heads, _ in grid for h in heads}:
        try:
            parse_head(head)
        except ValueError as err:
            parser.error(f"--heads {head}: {err}")
    device = torch.device(args.device)
    args.amp = device.type == "cuda"
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    protocol = {k: getattr(args, k) for k in PROTOCOL}
    protocol.update(preset=preset, seeds=args.seeds, grid=grid,
                    schedule="Adam, lr x0.1 at 50% and 80% of the iterations",
                    loss="L2 at the EuclideanLoss scale, final + every branch (weights 1)",
                    metric="NME % over 68 points / outer-eye-corner distance, mean over faces",
                    data="synthetic faces (aan_core.synthetic_faces), train seed 1, test "
                         "seed 2, rendered once and cached")
    rows: list[dict] = []
    if args.resume and args.out.is_file():
        old = json.loads(args.out.read_text())
        differ = [k for k in PROTOCOL if old.get("protocol", {}).get(k) != protocol[k]]
        if differ:
            sys.exit(f"--resume: {args.out} was measured with another protocol ("
                     + ", ".join(f"{k}={old['protocol'].get(k)} vs {protocol[k]}"
                                 for k in differ) + "); use the same options or another --out")
        rows = old["runs"]
        print(f"[study] resuming: {len(rows)} finished runs from {args.out}", flush=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    t0 = time.perf_counter()
    train = render_crops(args.size, args.train_crops, 1, args.workers, args.cache_dir)
    test = render_crops(args.size, args.test_crops, 2, args.workers, args.cache_dir)
    data = tuple(t.to(device) for t in (*train, *test))
    print(f"[study] {args.train_crops} + {args.test_crops} crops of {args.size} px ready in "
          f"{time.perf_counter() - t0:.1f} s on {name}", flush=True)
    done = {(r["variant"], r["head"], r["seed"]) for r in rows}
    # group by group, seed-major within a group: an interrupted grid has its first groups
    # complete and every cell of a group at the same number of seeds
    plan = [(v, h, s) for heads, variants in grid for s in args.seeds for h in heads
            for v in variants]
    payload = dict(benchmark="aan_study", device=name, protocol=protocol,
                   environment=environment(), runs=rows)
    for variant, head, seed in plan:
        if (variant, head, seed) in done:
            continue
        rows.append(train_and_test(variant, head, seed, data, args, device))
        write_json(args.out, {**payload, "partial": True})
    report({**payload, "partial": False}, args.out)


if __name__ == "__main__":
    main()
