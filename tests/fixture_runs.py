"""Config overrides that point an MMPose config at the real 300W fixture, for short CPU runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def fixture_overrides(dataset_dir: Path, ann_file: str, iters: int = 2,
                      batch_size: int = 2, img_prefix: str = "") -> dict[str, Any]:
    """``--cfg-options`` / ``Config.merge_from_dict`` keys for a tiny CPU run on one fixture."""
    opts: dict[str, Any] = {
        "train_cfg.max_iters": iters,
        "train_cfg.val_interval": iters,
        "default_hooks.checkpoint.interval": iters,
        "default_hooks.logger.interval": 1,
        "train_dataloader.batch_size": batch_size,
        "val_dataloader.batch_size": batch_size,
    }
    for split in ("train", "val", "test"):
        key = f"{split}_dataloader"
        opts.update({
            f"{key}.dataset.data_root": str(dataset_dir),
            f"{key}.dataset.ann_file": ann_file,
            f"{key}.dataset.data_prefix.img": img_prefix,
            f"{key}.num_workers": 0,
            f"{key}.persistent_workers": False,
        })
    return opts


def as_cli(opts: dict[str, Any]) -> list[str]:
    """The same overrides as ``--cfg-options`` arguments."""
    return ["--cfg-options", *(f"{k}={v}" for k, v in opts.items())]
