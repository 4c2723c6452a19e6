"""Train and test one config with a fixed iteration budget; shared by the bench scripts."""

from __future__ import annotations

import statistics
import tempfile
import time

import torch


def complexity(model, size: int) -> tuple[float, float]:
    """(inference parameters in M, GFLOPs at 1 x 3 x size x size; 1 multiply-add = 1 FLOP,
    mmengine's convention). Intermediate branches are training-only and not counted."""
    from mmengine.analysis import get_model_complexity_info

    class Inference(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m.head.forward(self.m.extract_feat(x))

    info = get_model_complexity_info(Inference(model).eval(),
                                     inputs=(torch.randn(1, 3, size, size),),
                                     show_table=False, show_arch=False)
    params = sum(p.numel() for n, p in model.named_parameters()
                 if ".branches." not in n and not n.startswith("data_preprocessor"))
    return params / 1e6, info["flops"] / 1e9


def train_and_test(cfg, name: str, seed: int, args) -> dict:
    """Train ``cfg`` for ``args.iters`` iterations of ``args.batch`` at the config's constant
    learning rate, test it, measure it.

    ``args`` carries iters, batch, train_samples, test_samples and tiny (a smoke run).
    """
    from mmengine.runner import Runner

    cfg.randomness = dict(seed=seed)
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
    cfg.work_dir = tempfile.mkdtemp(prefix=f"aan_bench_{safe}_{seed}_")
    cfg.train_cfg.max_iters = args.iters
    # A constant learning rate: with short budgets, the paper's steps scaled to the budget
    # fall before learning has taken off (measured: AAN at the mean shape after 200
    # iterations with steps at 150 and 180).
    cfg.param_scheduler = [dict(type="ConstantLR", factor=1.0, by_epoch=False, begin=0,
                                end=args.iters)]
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.custom_hooks = [h for h in cfg.get("custom_hooks", []) if h["type"] != "TimeBudgetHook"]
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=-1)
    cfg.default_hooks.logger.interval = max(args.iters // 5, 1)
    cfg.train_dataloader.batch_size = args.batch
    if "num_samples" in cfg.train_dataloader.dataset:
        cfg.train_dataloader.dataset.num_samples = args.train_samples
        cfg.test_dataloader.dataset.num_samples = args.test_samples
    if cfg.test_evaluator.get("type") == "FaceAlignmentMetric":
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
               NME=metrics["NME"], AUC_0_1=metrics.get("AUC@0.1"), FR_0_1=metrics.get("FR@0.1"),
               params_M=params, GFLOPs=gflops,
               train_images_per_s=args.iters * args.batch / seconds, train_seconds=seconds)
    print(f"[bench] {name} seed {seed}: NME {row['NME'] * 100:.2f}%  "
          f"{row['train_images_per_s']:.1f} img/s", flush=True)
    return row


def summarise(rows: list[dict], labels: dict[str, str]) -> list[dict]:
    """Mean ± standard deviation over seeds, per variant, in ``labels`` order."""
    out = []
    for name, label in labels.items():
        runs = [r for r in rows if r["variant"] == name]
        if not runs:
            continue

        def stat(key, scale=1.0, digits=2, runs=runs):
            vals = [r[key] * scale for r in runs if r[key] is not None]
            if not vals:
                return float("nan"), "n/a"
            mean = statistics.fmean(vals)
            spread = statistics.stdev(vals) if len(vals) > 1 else 0.0
            return mean, f"{mean:.{digits}f} ± {spread:.{digits}f}"

        nme, nme_s = stat("NME", 100)
        out.append(dict(variant=name, label=label, nme_mean=nme, NME=nme_s,
                        AUC=stat("AUC_0_1", 1, 3)[1], FR=stat("FR_0_1", 100, 1)[1],
                        params=f"{runs[0]['params_M']:.2f}", gflops=f"{runs[0]['GFLOPs']:.3f}",
                        ips=stat("train_images_per_s", 1, 1)[1], runs=len(runs),
                        seeds=[r["seed"] for r in runs],
                        nme_per_seed=[round(r["NME"] * 100, 3) for r in runs]))
    return out


TABLE_COLUMNS = [("label", "model"), ("NME", "NME % (mean ± sd)"), ("AUC", "AUC@0.1"),
                 ("FR", "FR@0.1 %"), ("params", "params (M)"), ("gflops", "GFLOPs"),
                 ("ips", "train img/s"), ("runs", "seeds")]
