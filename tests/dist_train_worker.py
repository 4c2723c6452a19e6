"""Worker of tests/test_distributed.py: train the synthetic config a few iterations, alone or
as one rank of ``torchrun --nproc_per_node N`` (gloo, CPU), and write what it saw.

    python tests/dist_train_worker.py OUT_DIR none [GLOBAL_BATCH]
    torchrun --nproc_per_node 2 tests/dist_train_worker.py OUT_DIR pytorch [GLOBAL_BATCH]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    out, launcher = Path(sys.argv[1]), sys.argv[2]
    global_batch = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    torch.set_num_threads(1)

    from mmengine.config import Config
    from mmengine.runner import Runner

    import aan_components.plugin  # noqa: F401

    cfg = Config.fromfile(str(REPO / "mm_configs" / "aan_synthetic.py"))
    cfg.merge_from_dict({
        "train_cfg.max_iters": 3, "train_cfg.val_interval": 100,
        "train_dataloader.batch_size": global_batch // world,
        "train_dataloader.num_workers": 0, "train_dataloader.persistent_workers": False,
        "train_dataloader.sampler.shuffle": False,  # rank r takes samples r, r + N, ...
        "train_dataloader.dataset.num_samples": 64,
        "default_hooks.logger.interval": 1, "default_hooks.checkpoint.interval": 100,
        "randomness": dict(seed=0, deterministic=True),
        "env_cfg.dist_cfg": dict(backend="gloo"),
        # Globally pooled regressor inputs: the 1-process vs 2-rank comparison differs only
        # by BatchNorm's per-rank batch statistics, and a flattened head (the config's
        # default) passes that difference on at every map position: measured
        # 2.1% at iteration 1 with it, 0.24% pooled. Pooled keeps the stated tolerances a
        # check of the distributed mechanics, not of BN noise.
        "model.head.final_input": "gap", "model.head.branch_input": "gap",
        "model.head.feature_sizes": None,
    })
    # fp32 steps: the config's CPU switch (bf16 autocast) rounds each rank's activations
    # differently from the single process, and that rounding, not the distributed
    # mechanics, pushed iteration 3 past the stated 10% (measured 10.3% in CI).
    cfg.optim_wrapper = dict(type="OptimWrapper", optimizer=cfg.optim_wrapper.optimizer)
    cfg.optim_wrapper.optimizer.pop("fused", None)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.custom_hooks = [dict(type="FiniteLossHook")]
    cfg.launcher = launcher
    cfg.work_dir = str(out / "work")
    runner = Runner.from_cfg(cfg)
    model = runner.model.module if hasattr(runner.model, "module") else runner.model
    runner.train()
    losses = runner.message_hub.get_scalar("train/loss").data[0].tolist()
    if world > 1:
        gathered = [None] * world
        torch.distributed.all_gather_object(gathered, losses)
        losses = [sum(v) / world for v in zip(*gathered, strict=True)]
    record = dict(rank=rank, world=world, mean_loss_per_iter=losses)
    torch.save({k: v.detach().clone() for k, v in model.named_parameters()},
               out / f"params_rank{rank}.pt")
    (out / f"rank{rank}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main()
