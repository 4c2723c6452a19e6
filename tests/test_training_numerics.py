"""Training's numerics: a NaN loss stops training at its iteration, and the same seed gives
the same losses."""

from __future__ import annotations

import pytest
from conftest import REPO
from fixture_runs import fixture_train_config
from mmengine.config import Config
from mmengine.runner import Runner


@pytest.mark.slow  # trains with mmengine's Runner
def test_nan_loss_stops_training_at_its_iteration(fixtures_dir, tmp_path):
    import torch
    from mmengine.hooks import Hook

    from aan_components.engine import NonFiniteLossError

    class Poison(Hook):
        def before_train_iter(self, runner, batch_idx, data_batch=None):
            if runner.iter == 2:  # the third iteration
                with torch.no_grad():
                    runner.model.head.regressor.fc.weight.fill_(float("nan"))

    cfg = fixture_train_config(fixtures_dir, tmp_path, iters=5)
    cfg.default_hooks.checkpoint.interval = 1
    runner = Runner.from_cfg(cfg)
    runner.register_hook(Poison())
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss at iteration 3 .*loss="):
        runner.train()
    work = tmp_path / "work"
    assert (work / "iter_2.pth").is_file() and not (work / "iter_3.pth").exists()


@pytest.mark.slow  # trains with mmengine's Runner
def test_same_seed_same_losses_on_cpu(tmp_path):
    """Two runs of the synthetic config with the same seed log identical losses."""

    def losses(run):
        cfg = Config.fromfile(str(REPO / "mm_configs" / "aan_synthetic.py"))
        cfg.merge_from_dict({
            "train_cfg.max_iters": 4, "train_cfg.val_interval": 100,
            "train_dataloader.batch_size": 4, "train_dataloader.num_workers": 0,
            "train_dataloader.persistent_workers": False,
            "train_dataloader.dataset.num_samples": 64,
            "default_hooks.logger.interval": 1, "default_hooks.checkpoint.interval": 100,
            "randomness": dict(seed=123, deterministic=True),
        })
        cfg.custom_hooks = [dict(type="FiniteLossHook")]
        cfg.work_dir = str(tmp_path / run)
        runner = Runner.from_cfg(cfg)
        runner.train()
        return runner.message_hub.get_scalar("train/loss").data[0].tolist()

    first, second = losses("a"), losses("b")
    assert len(first) == 4 and first == second
