"""``ChannelsLastHook``: train and evaluate with the model's weights in channels-last memory."""

from __future__ import annotations

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Converts the model's 4-D weights and buffers to ``torch.channels_last`` before the run.

    On a GPU with bf16/fp16 (tensor cores) convolutions run faster in NHWC; a convolution
    whose weight is channels-last returns channels-last activations, so the layers after it
    follow. The conversion is in place: the parameters stay the same objects, so the
    optimizer built before the hook runs keeps working, and checkpoints load as usual.
    """

    priority = "VERY_HIGH"  # before any hook that runs the model

    def before_run(self, runner) -> None:  # train, val and test runs all call it
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.to(memory_format=torch.channels_last)
