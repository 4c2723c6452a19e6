"""Table 5 on trial: AAN's mechanisms (attention, cosine embedding, intermediate branches)
at an equal budget, for several regressor inputs, several seeds per cell.

Pure PyTorch + aan_core (``aan_core.AANLandmarkModel``, the network of the MMPose configs,
with its ablation switches). Every cell trains from scratch on the same cached synthetic crops with
the same schedule: Adam lr 1e-3, weight decay 1e-3, lr x0.1 at 50% and 80% of the run, L2
at the EuclideanLoss scale (on every prediction, final and branches), batches drawn at
random from the cache (seeded). It is tested on held-out crops: NME (%) normalised by the
outer-eye-corner distance, over all 68 points, mean over faces.

Arithmetic: bf16 autocast with the regressors (and so the coordinates and the loss) in fp32,
on a GPU and on a CPU with native bf16 (the CPU switch's rule); fp32 on other CPUs (a note
says so) or with ``--fp32``. The committed CPU grids (``bench/results/aan_study.json``,
``backbone_study*.json``) ran in fp32: resume them with ``--fp32`` (``--resume`` refuses to mix
arithmetic in one grid).

Crops are rendered once by DataLoader workers, stored in ``--cache-dir`` (uint8, reused by
later runs) and held in memory on the training device (the GPU when there is one).

The grid is ``--heads`` x ``--variants`` x ``--seeds``. A head names the regressor input
of the final head and of the branches (``gap``, ``flatten``, ``grid<S>``; ``A/B`` for a
final input A and branch input B). JSON ``--out`` is rewritten after every run;
``--resume`` keeps the runs measured with the same protocol and runs only the missing
cells, so the grid can be completed over several invocations.

    python -m bench.aan_study --device cuda              # GPU setting (docs/studies.md)
    python -m bench.aan_study --preset cpu --resume      # reduced CPU grid (docs/studies.md)
    python -m bench.aan_study --tiny                     # smoke run (CI)
    python -m bench.aan_study --summarise bench/results/aan_study.json   # -> aan_study.md

``--init`` adds how the runs start and are regularised as one more grid dimension (every
row records its ``init``; a row without one is a ``paper`` run): ``paper`` (the default:
output layers N(0, 0.01) with bias 0.5, embedding bandwidth sqrt(C / cells), Adam with
coupled L2 decay, loss weights summed) and ``fair`` (every regressor starts at the training
set's mean shape with output weights 0, the embedding's bandwidth is the median pairwise
distance of the first batch's inputs, AdamW with the same ``--weight-decay`` decoupled,
loss weights divided by their total); ``mean_shape``, ``median_sigma``, ``adamw`` and
``normalised_loss`` switch on one part of ``fair`` each.

    python -m bench.aan_study --variants aan no_attention --init paper fair

With ``--backbones`` (or a ``*_backbones`` preset) the grid is timm backbones x attention
on/off (``--attention``) x head (``--heads aan linear``, see ``bench/timm_trainer.py``) x
seeds, on the same crops with the same schedule, loss and metric; each run also records
params, GFLOPs (``bench.common.gflops``, batch 1, multiply-add = 2 FLOPs) and train /
inference images/s measured in the same process. Results go to
``bench/results/backbone_study.json``; all backbones train from scratch unless
``--pretrained`` (timm's weights from the local cache or hub). Attention sits inside the
backbone by default (``--placement in_stage``: each stage's gated map feeds the next, as in
AAN); ``--placement outputs_only`` gates only the maps the heads read (the committed
backbone grids were run so).

    python -m bench.aan_study --preset cpu_backbones --resume          # docs/studies.md
    python -m bench.aan_study --device cuda --backbones --resume       # GPU grid
    python -m bench.aan_study --tiny --backbones                       # smoke run (CI)
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

from aan_core import (
    DEFAULT_STAGE_CHANNELS,
    DEFAULT_STEM_CHANNELS,
    EMBEDDING_DIM,
    AANLandmarkModel,
)
from aan_core.evaluation.face_metrics import inter_ocular, per_image_nme
from aan_core.evaluation.paper_results import TABLE5 as TABLE5_NME
from aan_core.evaluation.paper_results import TABLE5_LABELS
from aan_core.network.coordinate_regressor import regressor_input_cells
from aan_core.utils.cpu_bf16 import cpu_supports_bf16
from aan_core.utils.fp32_modules import run_in_fp32
from bench.common import (
    RESULTS,
    BenchParser,
    cpu_model,
    environment,
    gflops,
    inference_params,
    markdown_table,
    seed_stats,
    write_json,
)
from bench.gpu_train import SyntheticCrops, _worker_init, preprocess
from bench.grid import DeclaredGrid
from bench.timm_trainer import BRANCH_INPUT, FINAL_INPUT, HEADS, TimmLandmarkTrainer

# name: (label, AANLandmarkModel options). Table 5's four cells first.
VARIANTS: dict[str, tuple[str, dict]] = {  # Table 5's labelled as the paper does
    "aan": ("AAN (attention + embedding + branches)", {}),
    "no_attention": (TABLE5_LABELS["no_attention"], dict(attention=False)),
    "no_embedding": (TABLE5_LABELS["no_embedding"], dict(embedding_dim=None)),
    "no_both": (TABLE5_LABELS["no_both"], dict(attention=False, embedding_dim=None)),
    "aan_no_branches": ("AAN w/o branches", dict(branches=False)),
    "no_attention_no_branches": ("w/o attention, w/o branches",
                                 dict(attention=False, branches=False)),
    "aan_four_pools": ("AAN, four poolings (stem stride 2)", dict(stem_stride=2)),
    "aan_no_relu": ("AAN, sigmoid without ReLU (map in (0, 1))", dict(attention="aan-norelu")),
    "aan_deep_branches": ("AAN, branch weights 0.25/0.5/0.75/1",
                          dict(stage_weights=(0.25, 0.5, 0.75, 1.0))),
}
TABLE5 = sorted(TABLE5_NME["aflw"], key=TABLE5_NME["aflw"].get)  # the paper's order, best first
# How a run starts and is regularised (--init, one grid dimension): name -> (label, model
# options, optimiser). 'paper' is what the first grids ran (the committed results record it
# in every row); 'fair' starts every variant equal; the others
# switch on one part of 'fair' each, to tell the parts apart.
INITS: dict[str, tuple[str, dict, str]] = {
    "paper": ("output weights N(0, 0.01) and bias 0.5, embedding sigma sqrt(C / cells), Adam "
              "with coupled L2 weight decay, loss weights summed (final and each branch 1)",
              {}, "adam"),
    "fair": ("every regressor at the training mean shape (output weights 0), embedding sigma "
             "by the median heuristic on the first batch, AdamW (decoupled weight decay), "
             "loss weights divided by their total",
             dict(output_init="mean_shape", embedding_sigma="median",
                  normalise_weights=True), "adamw"),
    "mean_shape": ("'paper' but every regressor at the training mean shape (output weights 0)",
                   dict(output_init="mean_shape"), "adam"),
    "median_sigma": ("'paper' but embedding sigma by the median heuristic on the first batch",
                     dict(embedding_sigma="median"), "adam"),
    "adamw": ("'paper' but AdamW (decoupled weight decay)", {}, "adamw"),
    "normalised_loss": ("'paper' but loss weights divided by their total",
                        dict(normalise_weights=True), "adam"),
}
OPTIMISERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
# The settings that define a comparable run; --resume refuses a file measured otherwise.
AMP = "bf16 autocast, regressors and loss in fp32"  # the protocol's 'amp' (False: fp32)
PROTOCOL = ("size", "width", "iters", "batch", "lr", "weight_decay", "train_crops",
            "test_crops", "amp")
BACKBONE_PROTOCOL = (*PROTOCOL, "kind", "pretrained")
PRESETS = {
    # One H100/H200: full width (aan_300w.py), 128 px, bf16. Sized so that its grid (39
    # runs) stays within 8 min (docs/studies.md, "Table 5 on synthetic faces": an estimate, not yet
    # measured on a GPU; --resume completes it if not).
    "gpu": dict(size=128, width=1.0, iters=1000, batch=64, train_crops=16384,
                test_crops=1024, threads=None, seeds=[0, 1, 2]),
    # This shared 2-core CPU: half width, 128 px, fp32, one thread (measured 6x faster than
    # two threads while other jobs share the cores); what docs/studies.md's table reports. Batch 8:
    # measured 2026-11-28, one run of 800 x 16 took > 7 min at the CPU share a niced job
    # gets here, too long for 24+ runs in the ~70 min available.
    "cpu": dict(size=128, width=0.5, iters=800, batch=8, train_crops=4096, test_crops=512,
                threads=1, seeds=[0, 1, 2]),
    # Backbone grid on one GPU: the gpu preset's budget and data, timm backbones at full
    # size (docs/studies.md, "Attention on timm backbones"; not yet run).
    "gpu_backbones": dict(size=128, width=None, iters=1000, batch=64, train_crops=16384,
                          test_crops=1024, threads=None, seeds=[0, 1]),
    # Backbone grid on this shared 2-core CPU: the cpu preset's data (the same cached 4,096
    # + 512 crops), batch and schedule, fewer iterations (200, not 800). Sized 2026-11-28:
    # a timing probe gave 0.15-0.45 s per training step (batch 8, one thread, the four
    # backbones with the AAN head), but the first grid run at 300 iterations (resnet18)
    # took 236 s + 16 s of testing at the CPU share a niced job got, which would have put
    # the 32 runs past the ~95 min available; 200 iterations bring them to ~70 min.
    "cpu_backbones": dict(size=128, width=None, iters=200, batch=8, train_crops=4096,
                          test_crops=512, threads=1, seeds=[0, 1]),
    # Smoke run: numbers mean nothing.
    "tiny": dict(size=64, width=0.125, iters=3, batch=2, train_crops=8, test_crops=4,
                 threads=1, seeds=[0]),
}
# The declared grid of a preset, in priority order (an interrupted grid keeps the first
# groups complete): (heads, variants) groups, each run for every seed.
_CORE = [(["gap", "flatten"], TABLE5),
         (["gap", "flatten"], ["aan_no_branches", "no_attention_no_branches"]),
         (["flatten"], ["aan_four_pools"])]
GRIDS = {"gpu": _CORE, "cpu": _CORE, "tiny": [(["gap", "flatten"], list(VARIANTS))]}
# The declared backbone grids (x attention on/off x heads aan, linear x seeds).
BACKBONES = {"gpu_backbones": ["resnet50", "convnext_tiny", "efficientnet_b0",
                               "swin_tiny_patch4_window7_224"],
             "cpu_backbones": ["resnet18", "convnext_atto", "efficientnet_b0", "regnetx_002"],
             "tiny": ["regnetx_002", "convnext_atto"]}
ATTENTION = {"on": True, "off": False}
PLACEMENTS = {"in_stage": "F = (1 + M) H after each feature stage inside the backbone: the "
                          "next stage reads the gated map (AAN's attention)",
              "outputs_only": "the backbone runs unchanged; only the maps the heads read are "
                              "gated (every backbone run before --placement)"}
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


def build(variant: str, head: str, width: float, size: int,
          init: str = "paper") -> AANLandmarkModel:
    final, branch = parse_head(head)
    stages = tuple(max(4, int(round(c * width / 4)) * 4) for c in DEFAULT_STAGE_CHANNELS)
    return AANLandmarkModel(stem_channels=max(4, int(round(DEFAULT_STEM_CHANNELS * width))),
                            stage_channels=stages, final_input=final, branch_input=branch,
                            input_size=size, **VARIANTS[variant][1], **INITS[init][1])


def cell_key(row: dict) -> tuple:
    """What identifies a run: (backbone, attention, placement, head, init, seed) in a
    backbone grid, (variant, head, init, seed) in a variant grid."""
    if "backbone" in row:
        return (row["backbone"], row["attention"], row["placement"], row["head"],
                row["init"], row["seed"])
    return row["variant"], row["head"], row["init"], row["seed"]


def count_gflops(model: torch.nn.Module, size: int, device) -> float:
    """GFLOPs of one ``predict`` at batch 1 (:func:`bench.common.gflops`: a multiply-add
    counted as 2 FLOPs)."""
    return gflops(model.predict, torch.zeros(1, 3, size, size, device=device))


def mean_shape_nme(train_points: torch.Tensor, test_points: torch.Tensor) -> float:
    """NME (%) of predicting the training set's mean shape for every test face: the level
    a regressor that ignores its image reaches (same metric as the runs).

    Shape:
        - train_points: :math:`(N, K, 2)`, test_points: :math:`(M, K, 2)`
    """
    gt = test_points.cpu().numpy()
    pred = np.broadcast_to(train_points.float().mean(0).cpu().numpy(), gt.shape)
    nme = per_image_nme(pred, gt, np.ones(gt.shape[:2]), inter_ocular(gt, LEFT_EYE, RIGHT_EYE))
    return float(np.nanmean(nme) * 100)


def machine(device: torch.device) -> dict:
    """What ran the study: the GPU's name, or the CPU's model and logical CPU count."""
    if device.type == "cuda":
        return dict(kind="gpu", name=torch.cuda.get_device_name(device))
    return dict(kind="cpu", name=cpu_model(), logical_cpus=os.cpu_count(),
                load_average_at_start=os.getloadavg() if hasattr(os, "getloadavg") else None)


def train_and_test(cell: dict, seed: int, data, args, device) -> dict:
    """Train one cell for ``args.iters`` iterations, test it on the held-out crops.

    ``cell``: ``{variant, head, init}`` (AAN's network) or ``{backbone, attention, head,
    init}`` (a timm backbone, :class:`TimmLandmarkTrainer`). A ``'mean_shape'`` start is the
    whole training set's mean shape."""
    train_x, train_y, test_x, test_y = data
    torch.manual_seed(seed)
    _, options, optimiser = INITS[cell["init"]]
    if "backbone" in cell:
        model = TimmLandmarkTrainer(cell["backbone"], cell["head"], cell["attention"],
                                    args.size, pretrained=args.pretrained,
                                    placement=cell["placement"] or "in_stage", **options)
    else:
        model = build(cell["variant"], cell["head"], args.width, args.size, cell["init"])
    model.start_at_mean_shape(train_y)  # regressors with output_init='mean_shape' only
    if args.amp:  # coordinates and loss keep fp32 precision (the CPU switch's rule)
        for regressor in model.regressors:
            run_in_fp32(regressor)
    channels_last = True  # measured faster on the GPU and (10%) on this CPU
    model = model.to(device).to(memory_format=torch.channels_last)
    optim = OPTIMISERS[optimiser](model.parameters(), lr=args.lr,
                                  weight_decay=args.weight_decay)
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
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bool(args.amp)):
            loss = model(x, train_y[idx])
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        sched.step()
    sync()
    seconds = time.perf_counter() - start
    model.eval()
    preds = []
    sync()
    infer_start = time.perf_counter()
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16,
                                         enabled=bool(args.amp)):
        for i in range(0, len(test_x), 256):
            preds.append(model.predict(preprocess(test_x[i:i + 256], device,
                                                  channels_last)).float().cpu())
    sync()
    infer_seconds = time.perf_counter() - infer_start
    pred, gt = torch.cat(preds).numpy(), test_y.cpu().numpy()
    nme = per_image_nme(pred, gt, np.ones(gt.shape[:2]), inter_ocular(gt, LEFT_EYE, RIGHT_EYE))
    params = inference_params(model, lambda: model.predict(preprocess(test_x[:1], device,
                                                                      channels_last)))
    nme_pct = float(np.nanmean(nme) * 100)
    common = dict(seed=seed, nme_pct=nme_pct, final_loss=float(loss.detach()),
                  finite=math.isfinite(float(loss.detach())), train_seconds=seconds)
    if "backbone" not in cell:
        row = dict(variant=cell["variant"], head=cell["head"], init=cell["init"], **common,
                   train_images_per_s=args.iters * args.batch / seconds,
                   inference_params_M=params / 1e6)
        print(f"[study] {cell['head']:>10} {cell['variant']:<26} {cell['init']:<6} seed "
              f"{seed}: NME {nme_pct:.2f}%  ({seconds:.0f} s, "
              f"{row['train_images_per_s']:.0f} img/s)", flush=True)
        return row
    row = dict(backbone=cell["backbone"], attention=cell["attention"],
               placement=cell["placement"], head=cell["head"], init=cell["init"], **common,
               params=params, gflops=count_gflops(model, args.size, device),
               train_ips=args.iters * args.batch / seconds,
               infer_ips=len(test_x) / infer_seconds, infer_seconds=infer_seconds,
               feature_maps=[list(s) for s in model.feature_sizes],
               final_input=FINAL_INPUT[cell["head"]],
               branch_input=BRANCH_INPUT if model.branches else None,
               pretrained=args.pretrained)
    print(f"[study] {cell['backbone']:>14} attention "
          f"{PLACEMENT_LABELS[cell['placement']]:<12} {cell['head']:<6} {cell['init']:<6} "
          f"seed {seed}: NME {nme_pct:.2f}%  ({seconds:.0f} s, "
          f"{row['train_ips']:.1f} train / {row['infer_ips']:.0f} inference img/s, "
          f"{params / 1e6:.2f} M, {row['gflops']:.3f} GFLOPs)", flush=True)
    return row


def summarise(rows: list[dict]) -> list[dict]:
    """Mean ± sd of NME over seeds for every (head, init, variant) cell, in grid order (the
    ``init`` field only in files that record it)."""
    out = []
    with_init = shows_init(rows)
    heads = list(dict.fromkeys(r["head"] for r in rows))
    inits = list(dict.fromkeys(r["init"] for r in rows))
    for head in heads:
        for init in inits:
            for variant, (label, _) in VARIANTS.items():
                runs = [r for r in rows if r["head"] == head and r["variant"] == variant
                        and r["init"] == init]
                if not runs:
                    continue
                cell = dict(head=head, variant=variant, label=label)
                if with_init:
                    cell["init"] = init
                out.append(dict(**cell, **seed_stats(runs),
                                paper=TABLE5_NME["aflw"].get(variant, "")))
    return out


COLUMNS = [("head", "regressor input"), ("label", "variant"), ("NME", "NME % (mean ± sd)"),
           ("per_seed", "per seed"), ("paper", "paper Table 5, AFLW")]
INIT_COLUMN = ("init", "start (--init)")


def shows_init(rows: list[dict]) -> bool:
    """Whether a file's tables name each run's start: only where a run starts otherwise
    than ``paper`` (a grid of ``paper`` runs alone reads as the first grids did)."""
    return any(r["init"] != "paper" for r in rows)


def shows_placement(rows: list[dict]) -> bool:
    """Whether a backbone file's tables name where attention sits: only where a run gates
    otherwise than ``outputs_only`` (attention then reads ``on`` / ``off``, as in the first
    grids, whose protocol records the placement)."""
    return any(r["placement"] not in (None, "outputs_only") for r in rows)


PLACEMENT_LABELS = {"in_stage": "in-stage", "outputs_only": "outputs only", None: "off"}


def summarise_backbones(rows: list[dict]) -> list[dict]:
    """Mean ± sd over seeds for every (backbone, head, init, attention placement) cell, in
    run order, with its params, GFLOPs and the mean train / inference images/s of its runs.
    The init and placement are named only where the file varies them (:func:`shows_init`,
    :func:`shows_placement`)."""
    out = []
    with_init, with_placement = shows_init(rows), shows_placement(rows)
    backbones = list(dict.fromkeys(r["backbone"] for r in rows))
    heads = list(dict.fromkeys(r["head"] for r in rows))
    inits = list(dict.fromkeys(r["init"] for r in rows))
    order = list(PLACEMENT_LABELS)

    def cell_of(r: dict) -> tuple:
        return r["backbone"], r["head"], r["init"], r["placement"]

    cells = sorted(set(cell_of(r) for r in rows),
                   key=lambda c: (backbones.index(c[0]), heads.index(c[1]), inits.index(c[2]),
                                  order.index(c[3])))
    for backbone, head, init, placement in cells:
        runs = [r for r in rows if cell_of(r) == (backbone, head, init, placement)]
        train_ips = statistics.fmean(r["train_ips"] for r in runs)
        infer_ips = statistics.fmean(r["infer_ips"] for r in runs)
        attention = placement is not None
        cell = dict(backbone=backbone, head=head, attention=attention)
        if with_init:
            cell["init"] = init
        if with_placement:
            cell["placement"] = placement
        label = PLACEMENT_LABELS[placement] if with_placement else "on" if attention else "off"
        out.append(dict(**cell, attention_label=label, **seed_stats(runs),
                        params_M=runs[0]["params"] / 1e6, gflops=runs[0]["gflops"],
                        train_ips=train_ips, infer_ips=infer_ips,
                        params_label=f"{runs[0]['params'] / 1e6:.3f}",
                        gflops_label=f"{runs[0]['gflops']:.3f}",
                        train_label=f"{train_ips:.1f}", infer_label=f"{infer_ips:.0f}"))
    return out


def backbone_verdicts(summary: list[dict]) -> list[dict]:
    """Attention on minus off, for every (backbone, head, init) with both cells (each
    attention placement on its own): the NME difference, next to the seed spread (sum of
    the two sds). ``helps`` / ``hurts`` only when the difference exceeds that spread, else
    ``within seed spread``; no verdict from a cell with one seed (no spread to compare
    with)."""
    def group(s: dict) -> tuple:
        return s["backbone"], s["head"], s.get("init", "paper")

    offs = {group(s): s for s in summary if not s["attention"]}
    out = []
    for on in summary:
        off = offs.get(group(on))
        if not on["attention"] or off is None:
            continue
        delta = on["nme_mean"] - off["nme_mean"]
        spread = on["nme_sd"] + off["nme_sd"]
        verdict = ("no verdict (one seed)" if min(len(on["seeds"]), len(off["seeds"])) < 2
                   else "within seed spread" if abs(delta) <= spread
                   else "helps" if delta < 0 else "hurts")
        cell = dict(backbone=on["backbone"], head=on["head"])
        cell.update({k: on[k] for k in ("init", "placement") if k in on})
        out.append(dict(**cell, attention_delta_nme=delta, seed_spread=spread,
                        attention=verdict, delta_label=f"{delta:+.2f}",
                        spread_label=f"{spread:.2f}"))
    return out


BACKBONE_COLUMNS = [("backbone", "backbone"), ("head", "head"),
                    ("attention_label", "attention"), ("NME", "NME % (mean ± sd)"),
                    ("per_seed", "per seed"), ("params_label", "params (M)"),
                    ("gflops_label", "GFLOPs"), ("train_label", "train img/s"),
                    ("infer_label", "inference img/s")]
VERDICT_COLUMNS = [("backbone", "backbone"), ("head", "head"),
                   ("delta_label", "attention on - off (NME %)"),
                   ("spread_label", "seed spread (sd on + sd off)"),
                   ("attention", "attention")]


def with_columns(columns: list, rows: list[dict], extra: list[tuple[str, str]]) -> list:
    """``columns`` with each ``extra`` (key, header) inserted after the second column,
    where any row has that key (a summary names its cells' init or placement only where
    its file varies them)."""
    present = [c for c in extra if any(c[0] in r for r in rows)]
    return [*columns[:2], *present, *columns[2:]]


def backbone_columns(summary: list[dict]) -> list:
    return with_columns(BACKBONE_COLUMNS, summary, [INIT_COLUMN])


def verdict_columns(verdicts: list[dict]) -> list:
    return with_columns(VERDICT_COLUMNS, verdicts,
                        [INIT_COLUMN, ("placement", "attention placement")])


def declared_cells(payload: dict) -> set[tuple]:
    """Every run the file's protocol declares: its grid x its inits (x placements) x its
    seeds, as :func:`cell_key`."""
    p = payload["protocol"]
    inits = list(p["inits"])
    if p.get("kind") == "backbones":
        return {(b, ATTENTION[a], pl if ATTENTION[a] else None, h, i, s)
                for g in p["grid"] for b in g["backbones"] for a in g["attention"]
                for pl in g["placements"] for h in g["heads"]
                for i in g["inits"] for s in p["seeds"]}
    return {(v, h, i, s) for heads, variants in p["grid"] for h in heads for v in variants
            for i in inits for s in p["seeds"]}


def missing_cells(payload: dict) -> list[tuple]:
    """The declared runs the file does not hold (none: the grid is complete)."""
    present = {cell_key(r) for r in payload["runs"]}
    return sorted(declared_cells(payload) - present, key=str)


def variant_verdicts(summary: list[dict]) -> dict:
    """Per regressor input (and start, where runs record one) with all four Table 5 cells:
    the measured order and whether attention and the embedding help (lower mean NME than
    without)."""
    verdicts = {}
    for head, init in dict.fromkeys((s["head"], s.get("init")) for s in summary):
        means = {s["variant"]: s["nme_mean"] for s in summary
                 if (s["head"], s.get("init")) == (head, init)}
        if all(v in means for v in TABLE5):
            order = sorted(TABLE5, key=means.get)
            key = head if init is None else f"{head}, init {init}"
            verdicts[key] = dict(measured_order=order, paper_order_holds=order == TABLE5,
                                 attention_helps=means["aan"] < means["no_attention"],
                                 embedding_helps=means["aan"] < means["no_embedding"])
    return verdicts


def results_markdown(payload: dict) -> str:
    """The tables of a results file (variant or backbone grid), from its runs."""
    from bench.common import machine_line

    p = payload["protocol"]
    missing = missing_cells(payload)
    lines = []
    if p.get("kind") == "backbones":
        summary = summarise_backbones(payload["runs"])
        lines.append(
            f"Equal budget: {p['iters']} iterations x {p['batch']}, {p['size']} px, "
            f"{p['train_crops']} training / {p['test_crops']} test crops, "
            f"{'pretrained' if p['pretrained'] else 'from scratch'}, seeds "
            f"{', '.join(map(str, p['seeds']))}, device {payload['device']}."
            + (f" Predicting the training mean shape for every test face scores "
               f"{payload['mean_shape_nme_pct']:.2f}% NME with this metric."
               if "mean_shape_nme_pct" in payload else ""))
        lines.append(markdown_table(summary, backbone_columns(summary)))
        lines.append("Attention on minus off, against the seeds' spread (`helps` / `hurts` "
                     "only where the difference exceeds sd(on) + sd(off)):")
        verdicts = backbone_verdicts(summary)
        lines.append(markdown_table(verdicts, verdict_columns(verdicts)))
    else:
        summary = summarise(payload["runs"])
        lines.append(
            f"Equal budget: {p['iters']} iterations x {p['batch']}, {p['size']} px, width "
            f"x{p['width']}, {p['train_crops']} training / {p['test_crops']} test crops, seeds "
            f"{', '.join(map(str, p['seeds']))}, device {payload['device']}.")
        lines.append(markdown_table(summary, with_columns(COLUMNS, summary, [INIT_COLUMN])))
        for head, v in variant_verdicts(summary).items():
            lines.append(f"- `{head}`: measured order {', '.join(v['measured_order'])}; the "
                         f"paper's order (aan, no_embedding, no_attention, no_both) "
                         f"{'holds' if v['paper_order_holds'] else 'does not hold'}; attention "
                         f"{'helps' if v['attention_helps'] else 'does not help'}, the embedding "
                         f"{'helps' if v['embedding_helps'] else 'does not help'}.")
    if missing:
        lines.append(f"Incomplete: {len(missing)} declared runs are missing "
                     f"({'; '.join(' '.join(map(str, c)) for c in missing[:8])}"
                     f"{' ...' if len(missing) > 8 else ''}).")
    lines.append(machine_line(payload))
    return "\n\n".join(lines)


def derived_fields(payload: dict) -> dict:
    """What a results file holds beside its runs, computed from them: ``partial`` (true
    while a declared run is missing), the summary, the verdicts and the tables."""
    if payload["protocol"].get("kind") == "backbones":
        summary = summarise_backbones(payload["runs"])
        verdicts = backbone_verdicts(summary)
        extra = dict(summary=summary, verdicts=verdicts,
                     table=markdown_table(summary, backbone_columns(summary)),
                     reading=markdown_table(verdicts, verdict_columns(verdicts)))
    else:
        summary = summarise(payload["runs"])
        extra = dict(summary=summary, verdicts=variant_verdicts(summary),
                     table=markdown_table(summary, with_columns(COLUMNS, summary,
                                                                [INIT_COLUMN])))
    return dict(partial=bool(missing_cells(payload)), **extra)


def report(payload: dict, out: Path) -> None:
    """Summarise a results file: its tables printed, its JSON rewritten with the summary
    (:func:`derived_fields`) and its ``.md`` generated."""
    payload = {**payload, **derived_fields(payload)}
    print("\n" + results_markdown(payload))
    write_json(out, payload, "aan_study", results_markdown)


def merge(paths: list[Path], out: Path) -> None:
    """Join the runs of several results files (same protocol; a cell measured twice keeps
    its first run) and report them as one."""
    payloads = [json.loads(p.read_text()) for p in paths]
    first = payloads[0]
    keys = BACKBONE_PROTOCOL if first["protocol"].get("kind") == "backbones" else PROTOCOL
    for path, other in zip(paths[1:], payloads[1:], strict=True):
        differ = [k for k in keys if other["protocol"].get(k) != first["protocol"].get(k)]
        if differ:
            sys.exit(f"--merge: {path} was measured with another protocol than {paths[0]} "
                     f"({', '.join(differ)})")
    rows, seen = [], set()
    for payload in payloads:
        for row in payload["runs"]:
            if (key := cell_key(row)) not in seen:
                seen.add(key)
                rows.append(row)
    protocol = {**first["protocol"], "grid": [g for p in payloads for g in p["protocol"]["grid"]],
                "merged_from": [str(p) for p in paths]}
    report({**first, "protocol": protocol, "runs": rows}, out)


def build_parser() -> BenchParser:
    """The study's command line (the module docstring shows its uses): ``--out`` by default
    chosen by the grid (:func:`apply_preset`); ``--summarise`` also rewrites the JSON's
    summary (:func:`derived_fields`)."""
    parser = BenchParser(__doc__, "aan_study", results_markdown, out=None,
                         tiny="smoke run (numbers mean nothing)", derived=derived_fields)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--fp32", action="store_true",
                        help="train and test in fp32 (default: bf16 autocast with the "
                             "regressors in fp32 on a GPU or a CPU with native bf16); the "
                             "committed CPU grids ran in fp32")
    parser.add_argument("--preset", choices=list(PRESETS), default=None,
                        help="budget and scale (default: gpu with --device cuda, else cpu; "
                             "gpu_backbones / cpu_backbones with --backbones)")
    parser.add_argument("--backbones", nargs="*", default=None, metavar="TIMM_NAME",
                        help="a grid of timm backbones x --attention x --heads (aan, linear); "
                             "no names: the preset's declared backbones")
    parser.add_argument("--attention", nargs="+", default=None, choices=list(ATTENTION),
                        help="backbone grid: attention on, off or both (default both)")
    parser.add_argument("--placement", nargs="+", default=None, choices=list(PLACEMENTS),
                        help="backbone grid: where attention sits: in_stage (inside the "
                             "backbone: the next stage reads the gated map; the default) "
                             "and/or outputs_only (only the maps the heads read are gated)")
    parser.add_argument("--init", nargs="+", default=["paper"], choices=list(INITS),
                        help="how runs start and are regularised, a grid dimension: paper "
                             "(the default: every run before this option) and/or fair "
                             "(every variant starts equal: regressors at the training mean "
                             "shape, median-heuristic embedding bandwidth, AdamW, normalised "
                             "loss weights); mean_shape, median_sigma, adamw, normalised_loss "
                             "switch on one part of fair each")
    parser.add_argument("--pretrained", action="store_true",
                        help="backbone grid: start from timm's weights (local cache or hub) "
                             "instead of from scratch")
    parser.add_argument("--heads", nargs="+", default=None,
                        help="alone: run only these heads of the preset's declared grid (one "
                             "process per head, each with its own --out, then --merge); with "
                             "--variants: the grid heads x variants; with --backbones: aan "
                             "and/or linear")
    parser.add_argument("--variants", nargs="+", default=None, choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="default: the preset's seeds")
    for key in ("size", "iters", "batch", "train_crops", "test_crops", "threads"):
        parser.add_argument(f"--{key.replace('_', '-')}", type=int, default=None)
    parser.add_argument("--width", type=float, default=None, help="channel width factor")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-3)
    parser.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1))
    parser.add_argument("--cache-dir", type=Path,
                        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                        / "aan_study")
    parser.add_argument("--resume", action="store_true",
                        help="keep the finished runs in --out and run only the missing cells")
    parser.add_argument("--merge", type=Path, nargs="+", default=None, metavar="JSON",
                        help="no training: join the runs of results files measured with the "
                             "same protocol into --out and print the table")
    return parser


def apply_preset(args: argparse.Namespace) -> str:
    """Fill the options left unset from the preset (``--preset``, else the device's, with
    ``_backbones`` for a backbone grid) and choose ``--out``; returns the preset's name."""
    if args.tiny:
        preset = "tiny"
    else:
        preset = args.preset or ("gpu" if args.device == "cuda" else "cpu") + (
            "_backbones" if is_backbone_grid(args) else "")
    for key, value in PRESETS[preset].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.tiny:
        args.seeds, args.workers = args.seeds[:1], 0
        args.cache_dir = Path(tempfile.mkdtemp())
    name = "backbone_study" if is_backbone_grid(args) else "aan_study"
    if args.out is None:
        args.out = (Path(tempfile.mkdtemp()) / f"{name}_tiny.json" if args.tiny
                    else RESULTS / f"{name}.json")
    return preset


def is_backbone_grid(args: argparse.Namespace) -> bool:
    return args.backbones is not None or (args.preset or "").endswith("_backbones")


def backbone_plan(args: argparse.Namespace, parser: argparse.ArgumentParser,
                  preset: str) -> tuple[list, list[dict]]:
    """A backbone grid's declaration and its runs (seed-major), from the options."""
    if args.variants is not None:
        parser.error("--variants is for AAN's own network; a --backbones grid varies "
                     "--attention and --heads")
    backbones = args.backbones or BACKBONES.get(preset) or BACKBONES["cpu_backbones"]
    heads = args.heads or list(HEADS)
    for head in heads:
        if head not in HEADS:
            parser.error(f"--heads {head}: a backbone grid's heads are {', '.join(HEADS)}")
    attention = args.attention or list(ATTENTION)
    placements = args.placement or ["in_stage"]
    grid = [dict(backbones=backbones, attention=attention, heads=heads, inits=args.init,
                 placements=placements)]
    plan = [dict(backbone=b, attention=ATTENTION[a], placement=pl, head=h, init=i, seed=s)
            for s in args.seeds for b in backbones for i in args.init for a in attention
            for pl in (placements if ATTENTION[a] else [None]) for h in heads]
    return grid, plan


def variant_plan(args: argparse.Namespace, parser: argparse.ArgumentParser,
                 preset: str) -> tuple[list, list[dict]]:
    """A variant grid's declaration and its runs: group by group, seed-major within a
    group, so that an interrupted grid has its first groups complete and every cell of a
    group at the same number of seeds."""
    if args.attention is not None or args.pretrained or args.placement is not None:
        parser.error("--attention, --placement and --pretrained are for a --backbones grid")
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
    plan = [dict(variant=v, head=h, init=i, seed=s) for heads, variants in grid
            for s in args.seeds for i in args.init for h in heads for v in variants]
    return grid, plan


def set_arithmetic(args: argparse.Namespace, device: torch.device) -> None:
    """bf16 autocast where the CPU switch's rule allows it (``args.amp`` records which),
    the thread count, and the GPU's fast paths."""
    bf16 = not args.fp32 and (device.type == "cuda" or cpu_supports_bf16())
    if not (args.fp32 or bf16):
        print("[study] this CPU has no native bf16: training in fp32", flush=True)
    args.amp = AMP if bf16 else False  # as the protocol records it
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True


def protocol_of(args: argparse.Namespace, preset: str, grid: list) -> dict:
    """The settings that define the grid's runs, as its results file records them."""
    protocol = {k: getattr(args, k) for k in PROTOCOL}
    if is_backbone_grid(args):
        protocol.update(kind="backbones", pretrained=args.pretrained,
                        placements={k: PLACEMENTS[k] for k in grid[0]["placements"]},
                        heads={"aan": f"cosine embedding {EMBEDDING_DIM} + linear on the "
                                      f"{FINAL_INPUT['aan']}ed last map; a linear branch on "
                                      f"every feature_info map ({BRANCH_INPUT}), training "
                                      f"only",
                               "linear": "global average pooling of the last map + one linear "
                                         "layer"})
    protocol.update(preset=preset, seeds=args.seeds, grid=grid,
                    inits={i: INITS[i][0] for i in args.init},
                    schedule="Adam (AdamW where the run's init says so), lr x0.1 at 50% and "
                             "80% of the iterations",
                    loss="L2 at the EuclideanLoss scale, final + every branch (weights 1, "
                         "divided by their total where the run's init says so)",
                    metric="NME % over 68 points / outer-eye-corner distance, mean over faces",
                    data="synthetic faces (aan_core.data.synthetic_faces), train seed 1, test "
                         "seed 2, rendered once and cached")
    return protocol


def open_grid(args: argparse.Namespace, protocol: dict) -> DeclaredGrid:
    """The results file as a :class:`bench.grid.DeclaredGrid`; ``--resume`` refuses a file
    measured with another protocol (naming ``--fp32`` where that is the difference)."""
    grid = DeclaredGrid(args.out, "aan_study", results_markdown, key=cell_key,
                        resume=args.resume, derived=derived_fields)
    old = grid.previous
    keys = BACKBONE_PROTOCOL if is_backbone_grid(args) else PROTOCOL
    differ = [k for k in keys if old and old["protocol"].get(k) != protocol[k]]
    if differ:
        sys.exit(f"--resume: {args.out} was measured with another protocol ("
                 + ", ".join(f"{k}={old['protocol'].get(k)} vs {protocol[k]}" for k in differ)
                 + "); use the same options or another --out"
                 + (" (that grid ran in fp32: add --fp32)"
                    if "amp" in differ and old["protocol"].get("amp") is False else ""))
    if old:
        print(f"[study] resuming: {len(grid.runs)} finished runs from {args.out}", flush=True)
    return grid


def load_crops(args: argparse.Namespace, device: torch.device) -> tuple[torch.Tensor, ...]:
    """(train crops, train points, test crops, test points) on ``device``."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    t0 = time.perf_counter()
    train = render_crops(args.size, args.train_crops, 1, args.workers, args.cache_dir)
    test = render_crops(args.size, args.test_crops, 2, args.workers, args.cache_dir)
    data = tuple(t.to(device) for t in (*train, *test))
    print(f"[study] {args.train_crops} + {args.test_crops} crops of {args.size} px ready in "
          f"{time.perf_counter() - t0:.1f} s on {name}", flush=True)
    return data


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.merge is not None:
        kind = json.loads(args.merge[0].read_text())["protocol"].get("kind")
        merge(args.merge, args.out or RESULTS / ("backbone_study.json" if kind == "backbones"
                                                 else "aan_study.json"))
        return
    preset = apply_preset(args)
    plan_grid = backbone_plan if is_backbone_grid(args) else variant_plan
    declared, plan = plan_grid(args, parser, preset)
    device = torch.device(args.device)
    set_arithmetic(args, device)
    protocol = protocol_of(args, preset, declared)
    grid = open_grid(args, protocol)
    data = load_crops(args, device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    declaration = dict(benchmark="backbone_study" if is_backbone_grid(args) else "aan_study",
                       device=name, protocol=protocol, environment=environment())
    if is_backbone_grid(args):
        declaration.update(machine=machine(device),
                           mean_shape_nme_pct=mean_shape_nme(data[1], data[3]))
    if grid.previous:  # the first invocation's machine facts stay; each resumption's are added
        resumed = {k: declaration.pop(k) for k in ("environment", "machine") if k in declaration}
        declaration["resumed"] = [*grid.previous.get("resumed", []), resumed]
    grid.declare(**declaration)

    def train(spec: dict) -> dict:
        cell = {k: v for k, v in spec.items() if k != "seed"}
        return train_and_test(cell, spec["seed"], data, args, device)

    grid.run(grid.pending(plan), train)
    print("\n" + results_markdown(grid.payload))


if __name__ == "__main__":
    main()
