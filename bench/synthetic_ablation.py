"""Equal-budget accuracy benchmark on synthetic faces: AAN, its Table 5 ablations and
MMPose's plain ResNet regression baseline.

Every model trains on the same synthetic training set for the same number of iterations
(same batch, optimiser and schedule as mm_configs/aan_synthetic.py) and is tested on the
same held-out synthetic set; each is repeated for several seeds (model init and sample
order). Prints a markdown table and writes JSON.

    .venv/bin/python bench/synthetic_ablation.py                # the reported run
    .venv/bin/python bench/synthetic_ablation.py --tiny         # smoke run (CI)
"""

from __future__ import annotations

import argparse
import copy
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, environment, markdown_table, write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "mm_configs" / "aan_synthetic.py"
VARIANTS = {
    "aan": "AAN (attention + embedding)",
    "no_embedding": "w/o embedding",
    "no_attention": "w/o attention",
    "no_both": "w/o both",
    "resnet": "MMPose ResNet regression",
}
PAPER_ORDER = ["aan", "no_embedding", "no_attention", "no_both"]


def variant_config(name: str, base, resnet_depth: int):
    cfg = copy.deepcopy(base)
    if name in ("no_attention", "no_both"):
        cfg.model.backbone.attention = False
    if name in ("no_embedding", "no_both"):
        cfg.model.head.embedding_dim = None
    if name == "resnet":
        width = 512 if resnet_depth < 50 else 2048
        cfg.model.backbone = dict(type="ResNet", depth=resnet_depth)
        cfg.model.neck = dict(type="GlobalAveragePooling")
        cfg.model.head = dict(type="RegressionHead", in_channels=width, num_joints=68,
                              loss=copy.deepcopy(base.model.head.loss.loss),
                              decoder=copy.deepcopy(base.model.head.decoder))
    return cfg


def complexity(model, size: int) -> tuple[float, float]:
    """(inference parameters in M, GFLOPs at 1 x 3 x size x size; 1 multiply-add = 1 FLOP,
    mmengine's convention). Intermediate branches are training-only and not counted."""
    from mmengine.analysis import get_model_complexity_info

    class Inference(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            feats = self.m.extract_feat(x)
            return self.m.head.forward(feats)

    net = Inference(model).eval()
    info = get_model_complexity_info(net, inputs=(torch.randn(1, 3, size, size),),
                                     show_table=False, show_arch=False)
    params = sum(p.numel() for n, p in model.named_parameters()
                 if ".branches." not in n and not n.startswith("data_preprocessor"))
    return params / 1e6, info["flops"] / 1e9


def run_one(name: str, seed: int, args, base) -> dict:
    from mmengine.runner import Runner

    cfg = variant_config(name, base, args.resnet_depth)
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = tempfile.mkdtemp(prefix=f"aan_bench_{name}_{seed}_")
    cfg.train_cfg.max_iters = args.iters
    cfg.param_scheduler[0].milestones = [int(args.iters * 0.75), int(args.iters * 0.9)]
    cfg.param_scheduler[0].end = args.iters
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h["type"] != "TimeBudgetHook"]
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=-1)
    cfg.default_hooks.logger.interval = max(args.iters // 5, 1)
    cfg.train_dataloader.batch_size = args.batch
    cfg.train_dataloader.dataset.num_samples = args.train_samples
    cfg.test_dataloader.dataset.num_samples = args.test_samples
    cfg.test_evaluator.out_dir = cfg.work_dir
    if args.tiny:
        cfg.train_dataloader.num_workers = 0
        cfg.train_dataloader.persistent_workers = False
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    seconds = time.perf_counter() - start
    metrics = runner.test()
    params, gflops = complexity(runner.model, cfg.codec.input_size[0])
    row = dict(variant=name, seed=seed, iters=args.iters, batch=args.batch,
               NME=metrics["NME"], AUC_0_1=metrics["AUC@0.1"], FR_0_1=metrics["FR@0.1"],
               params_M=params, GFLOPs=gflops, train_images_per_s=args.iters * args.batch / seconds,
               train_seconds=seconds)
    print(f"[bench] {name} seed {seed}: NME {row['NME'] * 100:.2f}%  "
          f"{row['train_images_per_s']:.1f} img/s", flush=True)
    return row


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    for name, label in VARIANTS.items():
        runs = [r for r in rows if r["variant"] == name]
        if not runs:
            continue

        def stat(key, scale=1.0, digits=2, runs=runs):
            vals = [r[key] * scale for r in runs]
            mean = statistics.fmean(vals)
            spread = statistics.stdev(vals) if len(vals) > 1 else 0.0
            return mean, f"{mean:.{digits}f} ± {spread:.{digits}f}"

        nme, nme_s = stat("NME", 100)
        _, auc_s = stat("AUC_0_1", 1, 3)
        _, fr_s = stat("FR_0_1", 100, 1)
        _, ips_s = stat("train_images_per_s", 1, 1)
        out.append(dict(variant=name, label=label, nme_mean=nme, NME=nme_s, AUC=auc_s,
                        FR=fr_s, params=f"{runs[0]['params_M']:.2f}",
                        gflops=f"{runs[0]['GFLOPs']:.3f}", ips=ips_s, runs=len(runs),
                        seeds=[r["seed"] for r in runs],
                        nme_per_seed=[round(r["NME"] * 100, 3) for r in runs]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=400)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--resnet-depth", type=int, default=18, choices=[18, 34, 50])
    parser.add_argument("--train-samples", type=int, default=20000)
    parser.add_argument("--test-samples", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "synthetic_ablation.json")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke run: 2 iterations, tiny sets, one seed (numbers mean nothing)")
    args = parser.parse_args()
    if args.tiny:
        args.iters, args.batch, args.seeds = 2, 4, args.seeds[:1]
        args.train_samples, args.test_samples = 16, 8
        if args.out == RESULTS / "synthetic_ablation.json":
            args.out = Path(tempfile.mkdtemp()) / "synthetic_ablation_tiny.json"
    torch.set_num_threads(args.threads)
    logging.getLogger("mmengine").setLevel(logging.WARNING)

    from mmengine.config import Config

    import aan_components  # noqa: F401

    base = Config.fromfile(str(CONFIG))
    rows = [run_one(name, seed, args, base) for seed in args.seeds for name in args.variants]
    summary = summarise(rows)
    table = markdown_table(summary, [("label", "model"), ("NME", "NME % (mean ± sd)"),
                                     ("AUC", "AUC@0.1"), ("FR", "FR@0.1 %"),
                                     ("params", "params (M)"), ("gflops", "GFLOPs"),
                                     ("ips", "train img/s"), ("runs", "seeds")])
    order = [s["variant"] for s in sorted(summary, key=lambda s: s["nme_mean"])
             if s["variant"] in PAPER_ORDER]
    holds = order == [v for v in PAPER_ORDER if v in order]
    print(f"\nEqual budget: {args.iters} iterations x batch {args.batch}, "
          f"{args.train_samples} training faces, {args.test_samples} test faces, "
          f"seeds {args.seeds}\n")
    print(table)
    print(f"\nPaper's order (AAN < w/o NE < w/o attention < w/o both) "
          f"{'holds' if holds else 'does not hold'} here: measured order {order}")
    write_json(args.out, dict(benchmark="synthetic_ablation", args={
        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        environment=environment(), runs=rows, summary=summary, measured_order=order,
        paper_order_holds=holds, table=table))


if __name__ == "__main__":
    main()
