"""``IterPipelineSwitchHook``: switch the training pipeline at an iteration, with the
loader's persistent workers restarted on it."""

from __future__ import annotations

from mmengine.dataset import Compose
from mmengine.hooks import Hook
from mmpose.registry import HOOKS


@HOOKS.register_module()
class IterPipelineSwitchHook(Hook):
    """From iteration ``switch_iter`` (0-based) on, train on ``switch_pipeline``.

    mmdet's ``PipelineSwitchHook`` (RTMPose's second, milder augmentation stage) switches at
    an epoch, which an iteration-based run never starts. This one switches after the
    iteration before ``switch_iter``, or at the start of training when it starts (or
    resumes) at or past it. A worker holds its own copy of the dataset, so setting the
    pipeline in the training process alone would change nothing in a persistent worker: the
    loader's iterator is dropped and made again (its workers start with the new pipeline;
    the sampler's order goes on where it was, the batches the old workers had prefetched
    are dropped). The old iterator's sampler iterator is kept until the hook goes: an
    infinite sampler's iterators share one generator of indices, which closing the old one
    would close for the new one too.

    Args:
        switch_iter: The first iteration (0-based) trained on ``switch_pipeline``.
        switch_pipeline: The transforms, as a dataset's ``pipeline``.

    Example:
        >>> hook = IterPipelineSwitchHook(5000, [dict(type='PackPoseInputs')])
        >>> hook.switch_iter, hook.switched
        (5000, False)
    """

    def __init__(self, switch_iter: int, switch_pipeline: list[dict]) -> None:
        if switch_iter < 0:
            raise ValueError(f"IterPipelineSwitchHook.switch_iter must be >= 0, got "
                             f"{switch_iter}")
        self.switch_iter = switch_iter
        self.switch_pipeline = switch_pipeline
        self.switched = False
        self._dropped_sampler_iter = None

    def before_train(self, runner) -> None:
        if runner.iter >= self.switch_iter:
            self._switch(runner)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 >= self.switch_iter:  # the next iteration is switch_iter
            self._switch(runner)

    def _switch(self, runner) -> None:
        if self.switched:
            return
        loop = runner.train_loop
        loader = loop.dataloader
        if not hasattr(loader.dataset, "pipeline"):
            raise TypeError(f"IterPipelineSwitchHook: the training dataset "
                            f"({type(loader.dataset).__name__}) has no pipeline to switch")
        loader.dataset.pipeline = Compose(self.switch_pipeline)
        loader._iterator = None  # a persistent loader's workers, with the old pipeline
        if hasattr(loop, "dataloader_iterator"):  # IterBasedTrainLoop's infinite iterator
            old = loop.dataloader_iterator._iterator
            self._dropped_sampler_iter = getattr(old, "_sampler_iter", None)
            loop.dataloader_iterator._iterator = iter(loader)
        self.switched = True
        runner.logger.info(f"IterPipelineSwitchHook: training on the second pipeline from "
                           f"iteration {self.switch_iter}")
