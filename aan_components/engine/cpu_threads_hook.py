"""``CPUThreadsHook``: split a CPU's cores between the model's compute and the data loader."""

from __future__ import annotations

import os

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS

__all__ = ["CPUThreadsHook", "compute_threads"]


def compute_threads(cores: int, loader_workers: int) -> int:
    """Threads for the model when ``loader_workers`` processes prepare data on ``cores``
    cores: one core per worker, the rest (at least one) for the model.

    Example:
        >>> compute_threads(2, 1), compute_threads(2, 0), compute_threads(16, 4)
        (1, 2, 12)
    """
    return max(1, cores - loader_workers)


@HOOKS.register_module()
class CPUThreadsHook(Hook):
    """Sets the number of threads the model computes with when it trains on the CPU.

    PyTorch's CPU kernels run their threads in lock-step: when a loader worker takes one of
    their cores, every thread waits for the slowest, and a 2-core machine then trains slower
    with 2 compute threads than with 1 (``bench/cpu_train_speed.py``). With ``'auto'`` the
    model gets the cores the training loader's workers leave (:func:`compute_threads`).

    Nothing changes when the model is on a GPU, or when ``OMP_NUM_THREADS`` is set in the
    environment (the user's own choice, e.g. for two runs side by side).

    Args:
        threads: ``'auto'`` or a number of threads.
    """

    priority = "VERY_HIGH"

    def __init__(self, threads: int | str = "auto") -> None:
        if threads != "auto" and not (isinstance(threads, int) and threads >= 1):
            raise ValueError(f"CPUThreadsHook.threads must be 'auto' or an int >= 1, got "
                             f"{threads!r}")
        self.threads = threads

    def before_run(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        param = next(iter(model.parameters()), None)
        if (param is not None and param.device.type != "cpu") or "OMP_NUM_THREADS" in os.environ:
            return
        threads = self.threads
        if threads == "auto":
            loader = runner.cfg.get("train_dataloader") or {}
            workers = loader.get("num_workers", 0) if isinstance(loader, dict) else 0
            threads = compute_threads(len(os.sched_getaffinity(0)), workers)
        torch.set_num_threads(threads)
        runner.logger.info(f"CPUThreadsHook: the model computes with {threads} thread(s)")
