"""``BF16AutocastOptimWrapper``: bf16 autocast on the model's own device, the CPU included.

mmengine's ``AmpOptimWrapper`` refuses a machine without a GPU. CPUs with AVX512-BF16 or AMX
run convolutions in bf16 several times faster than in fp32 (``bench/cpu_train_speed.py``),
and bf16 keeps fp32's exponent range, so no loss scaling is needed: the training step only has
to run under ``torch.autocast(device, torch.bfloat16)``. That is what this wrapper adds to
mmengine's ``OptimWrapper``; the model's regression head stays in fp32 (``fp32_modules``), so
the coordinates and the loss computed from them keep fp32 precision.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence

import torch
from mmengine.optim import OptimWrapper
from mmpose.registry import OPTIM_WRAPPERS
from torch import nn

from aan_core.utils.cpu_bf16 import cpu_supports_bf16
from aan_core.utils.fp32_modules import run_in_fp32

__all__ = ["BF16AutocastOptimWrapper", "cpu_supports_bf16"]


def _called_layers(module: nn.Module) -> Iterator[nn.Module]:
    """The children a module calls (``ModuleList`` / ``ModuleDict`` are looked into: they
    are containers, never called themselves)."""
    for child in module.children():
        if isinstance(child, (nn.ModuleList, nn.ModuleDict)):
            yield from _called_layers(child)
        else:
            yield child


@OPTIM_WRAPPERS.register_module()
class BF16AutocastOptimWrapper(OptimWrapper):
    """mmengine's ``OptimWrapper`` whose training step runs under bf16 autocast on the
    device of the model's parameters (CPU or GPU).

    On a CPU without native bf16 the step runs in fp32, as with ``OptimWrapper``, and a
    one-line warning says so once (bf16 emulated in software is slower than fp32).

    Args:
        fp32_modules: ``model.get_submodule`` names of the modules that compute in fp32
            under the autocast (through :func:`aan_core.utils.fp32_modules.run_in_fp32` on
            each layer they call). Default ``('head',)``: the pose estimator's head, so
            predicted coordinates and the loss stay fp32. Names the model lacks are skipped.
        **kwargs: ``OptimWrapper``'s arguments (``optimizer``, ``accumulative_counts``,
            ``clip_grad``).

    Example (a config)::

        optim_wrapper = dict(type='BF16AutocastOptimWrapper',
                             optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-3))
    """

    def __init__(self, *args, fp32_modules: Sequence[str] = ("head",), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fp32_modules = tuple(fp32_modules)
        self._prepared: set[int] = set()
        self._warned = False

    def _keep_fp32(self, model: nn.Module) -> None:
        """Put the fp32 hooks on ``model``'s ``fp32_modules``, once per model."""
        if id(model) in self._prepared:
            return
        self._prepared.add(id(model))
        root = getattr(model, "module", model)  # a DDP-wrapped model's own modules
        for name in self.fp32_modules:
            try:
                target = root.get_submodule(name)
            except AttributeError:
                continue
            for layer in _called_layers(target):
                run_in_fp32(layer)

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        param = next(iter(model.parameters()), None)
        device_type = param.device.type if param is not None else "cpu"
        enabled = device_type != "cpu" or cpu_supports_bf16()
        if enabled:
            self._keep_fp32(model)
        elif not self._warned:
            self._warned = True
            warnings.warn("BF16AutocastOptimWrapper: this CPU has no native bf16 (AVX512-BF16 "
                          "or AMX); training in fp32", stacklevel=3)
        with super().optim_context(model), torch.autocast(device_type, dtype=torch.bfloat16,
                                                          enabled=enabled):
            yield
