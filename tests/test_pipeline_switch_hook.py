"""``IterPipelineSwitchHook``: RTMPose's second augmentation stage in an iteration-based run,
switched in the loader's persistent worker at the iteration asked for."""

from __future__ import annotations

import gc

import pytest
from conftest import REPO
from fixture_runs import fixture_overrides
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from aan_components.engine import IterPipelineSwitchHook


class FlipsSeen(Hook):
    """Each iteration's batch: whether each face in it was flipped (``RandomFlip`` with
    ``prob=1.0`` is the second pipeline's mark; the first has no flip)."""

    def __init__(self) -> None:
        self.flips: dict[int, list[bool]] = {}

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.flips[runner.iter] = [bool(s.metainfo.get("flip", False))
                                   for s in data_batch["data_samples"]]
        gc.collect()  # what the loader dropped at the switch is gone, as in a long run


def _train(fixtures_dir, tmp_path, switch_iter: int, iters: int = 5,
           workers: int = 1) -> dict[int, list[bool]]:
    cfg = Config.fromfile(str(REPO / "mm_configs" / "aan_300w.py"))
    cfg.merge_from_dict(fixture_overrides(fixtures_dir / "300w", "test_300w.json", iters=iters))
    # one persistent worker, as the CPU peers' loader: it holds its own copy of the pipeline
    cfg.train_dataloader.update(num_workers=workers, persistent_workers=workers > 0,
                                sampler=dict(type="InfiniteSampler", shuffle=True))
    first = cfg.train_dataloader.dataset.pipeline
    second = [*first[:2], dict(type="RandomFlip", prob=1.0, direction="horizontal"), *first[2:]]
    cfg.custom_hooks = [*cfg.get("custom_hooks", []),
                        dict(type="IterPipelineSwitchHook", switch_iter=switch_iter,
                             switch_pipeline=second)]
    cfg.work_dir = str(tmp_path)
    cfg.default_hooks.checkpoint = None
    runner = Runner.from_cfg(cfg)
    seen = FlipsSeen()
    runner.register_hook(seen)
    runner.train()
    return seen.flips


@pytest.mark.parametrize("workers", [1, 0])
def test_the_worker_trains_on_the_second_pipeline_from_the_switch_iteration(fixtures_dir,
                                                                            tmp_path, workers):
    """Iterations 0-2 on the first pipeline, 3 and 4 on the second, in the persistent
    worker (or the training process, without workers), the sampler going on. Wrong input
    caught: the pipeline set in the training process only (the worker keeps the first), a
    switch one iteration late, the infinite sampler closed with the dropped iterator (no
    batch after the switch)."""
    flips = _train(fixtures_dir, tmp_path, switch_iter=3, workers=workers)
    assert flips == {0: [False, False], 1: [False, False], 2: [False, False],
                     3: [True, True], 4: [True, True]}


def test_a_run_starting_at_or_past_the_switch_trains_on_the_second_pipeline(fixtures_dir,
                                                                            tmp_path):
    """``switch_iter=0`` (and a run resumed past the switch): the switch is made before the
    first batch is drawn."""
    flips = _train(fixtures_dir, tmp_path, switch_iter=0, iters=2)
    assert flips == {0: [True, True], 1: [True, True]}


def test_a_negative_switch_iteration_is_refused():
    with pytest.raises(ValueError, match="switch_iter must be >= 0"):
        IterPipelineSwitchHook(-1, [])
