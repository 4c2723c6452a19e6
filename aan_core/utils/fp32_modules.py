"""Keep chosen modules in fp32 under ``torch.autocast``.

Mixed precision speeds up the convolutions, but a regression head's output is the landmark
coordinates themselves: in bf16 (8 significant bits) they would be rounded to 0.4% of the
crop's side, and the cosine embedding's phases ``W x + b`` (a few radians) by 0.01-0.03 rad.
:func:`run_in_fp32` makes modules compute in fp32 whatever the surrounding autocast does.
"""

from __future__ import annotations

from torch import Tensor, autocast, nn
from torch.utils.hooks import RemovableHandle

__all__ = ["run_in_fp32"]


def _to_fp32(value):
    if isinstance(value, Tensor) and value.is_floating_point():
        return value.float()
    if isinstance(value, (list, tuple)):
        return type(value)(_to_fp32(v) for v in value)
    return value


def _first_tensor(values) -> Tensor | None:
    for v in values:
        if isinstance(v, Tensor):
            return v
        if isinstance(v, (list, tuple)):
            found = _first_tensor(v)
            if found is not None:
                return found
    return None


class _FP32Region:
    """The pre-/post-forward hook pair of one module: autocast off and fp32 inputs inside."""

    def __init__(self) -> None:
        self._open: list[autocast] = []

    def enter(self, _module: nn.Module, args: tuple, kwargs: dict):
        tensor = _first_tensor(list(args) + list(kwargs.values()))
        region = autocast(tensor.device.type if tensor is not None else "cpu", enabled=False)
        region.__enter__()
        self._open.append(region)
        return _to_fp32(args), {k: _to_fp32(v) for k, v in kwargs.items()}

    def leave(self, *_) -> None:
        if self._open:
            self._open.pop().__exit__(None, None, None)


def run_in_fp32(module: nn.Module) -> list[RemovableHandle]:
    """Make ``module`` compute in fp32 when it is called under ``torch.autocast``.

    Its floating-point inputs are cast to fp32 and autocast is switched off while it runs
    (the ops inside then use the dtypes of their inputs and fp32 weights); after it, the
    surrounding autocast applies again. Works through hooks, so only calls of the module
    itself (``module(x)``) are covered, not other methods of it: for an MMPose head, whose
    ``loss`` method calls ``self.forward`` directly, apply it to the head's layers.

    Args:
        module: The module to keep in fp32.

    Returns:
        The hook handles (``handle.remove()`` undoes it).

    Example:
        >>> import torch
        >>> head = torch.nn.Linear(8, 2)
        >>> _ = run_in_fp32(head)
        >>> with torch.autocast("cpu", dtype=torch.bfloat16):
        ...     head(torch.randn(1, 8)).dtype
        torch.float32
    """
    region = _FP32Region()
    return [module.register_forward_pre_hook(region.enter, with_kwargs=True),
            module.register_forward_hook(region.leave, always_call=True)]
