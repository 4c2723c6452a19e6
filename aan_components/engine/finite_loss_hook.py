"""``FiniteLossHook``: stop training at the first NaN/inf loss, naming the iteration."""

from __future__ import annotations

import math

from mmengine.hooks import Hook
from mmpose.registry import HOOKS


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss (the message names the iteration)."""


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise :class:`NonFiniteLossError` as soon as a logged loss is NaN or infinite.

    A diverged run otherwise keeps going (MMPose logs ``nan`` and saves NaN checkpoints
    until the end). This hook runs before ``CheckpointHook``, so no checkpoint of the
    diverged weights is written; the last one saved stays the one to resume from. The
    message names the iteration, every non-finite loss term and the last checkpoint.

    Args:
        interval: Check every ``interval`` iterations (each check reads the loss values,
            one device synchronisation on GPU).
    """

    priority = "ABOVE_NORMAL"  # before CheckpointHook (VERY_LOW) and LoggerHook (BELOW_NORMAL)

    def __init__(self, interval: int = 1) -> None:
        if interval < 1:
            raise ValueError(f"FiniteLossHook.interval must be >= 1, got {interval}")
        self.interval = interval

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not outputs or not self.every_n_train_iters(runner, self.interval):
            return
        values = {k: float(v) for k, v in outputs.items() if "loss" in k}
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if not bad:
            return
        last = runner.message_hub.get_info("last_ckpt")
        hint = f"resume from {last}" if last else "no checkpoint was saved yet"
        terms = ", ".join(f"{k}={v}" for k, v in bad.items())
        raise NonFiniteLossError(
            f"non-finite loss at iteration {runner.iter + 1} (epoch {runner.epoch}): {terms}. "
            f"Training stopped before saving these weights; {hint}. Usual causes: a learning "
            f"rate too high for this loss scale, or a bad annotation (run `aan check CONFIG`)")
