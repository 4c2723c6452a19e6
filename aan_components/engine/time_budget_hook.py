"""``TimeBudgetHook``: end training after a wall-clock budget, as if max_iters were reached."""

from __future__ import annotations

import time

from mmengine.hooks import Hook
from mmpose.registry import HOOKS


@HOOKS.register_module()
class TimeBudgetHook(Hook):
    """Stop an iteration-based run once ``max_seconds`` of training have passed.

    The iteration in progress becomes the last one: the loop's ``max_iters`` is lowered to
    it, so the final validation and checkpoint (``CheckpointHook(save_last=True)``) run as at
    a normal end. Time spent in validation counts too.

    Args:
        max_seconds: Training budget in seconds (``None`` or <= 0: no limit).
    """

    priority = "HIGH"  # before CheckpointHook decides whether this is the last iteration

    def __init__(self, max_seconds: float | None) -> None:
        self.max_seconds = max_seconds
        self._start: float | None = None
        self.stopped_at: int | None = None

    def before_train(self, runner) -> None:
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if not self.max_seconds or self.max_seconds <= 0 or self.stopped_at is not None:
            return
        elapsed = time.perf_counter() - self._start
        if elapsed >= self.max_seconds and runner.iter + 1 < runner.train_loop.max_iters:
            self.stopped_at = runner.iter + 1
            runner.train_loop._max_iters = self.stopped_at
            runner.logger.info(
                f"TimeBudgetHook: {elapsed:.0f} s of training reached the budget of "
                f"{self.max_seconds:.0f} s; iteration {self.stopped_at} is the last")
