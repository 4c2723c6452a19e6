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


def fixture_train_config(fixtures_dir: Path, tmp_path: Path, data_dir: Path | None = None,
                         iters: int = 2):
    """``mm_configs/aan_300w.py`` set for a tiny CPU run on the 300W fixture (or on a copy of
    it, ``data_dir``), its work dir ``tmp_path / 'work'``."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(Path(__file__).resolve().parents[1] / "mm_configs" / "aan_300w.py"))
    cfg.merge_from_dict(fixture_overrides(data_dir or fixtures_dir / "300w", "test_300w.json",
                                          iters=iters))
    cfg.work_dir = str(tmp_path / "work")
    return cfg
