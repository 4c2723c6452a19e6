"""Make a model faster for inference on CPU: BatchNorm folded into the convolutions that feed
it and channels-last memory format (both measured in ``bench/cpu_speed.py``)."""

from __future__ import annotations

import copy
from collections import Counter

import torch
from torch import fx, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["fuse_conv_bn", "optimize_for_inference"]


def fuse_conv_bn(model: nn.Module) -> nn.Module:
    """Fold every BatchNorm that directly follows a convolution into it, in place; any model.

    Which convolution feeds which BatchNorm is read from the data flow, not from names or the
    order the modules were registered in: ``torch.fx`` traces the model's forward (a part
    it cannot trace, e.g. one whose control flow depends on its inputs, is traced child by
    child). A ``BatchNorm2d`` whose only input is a ``Conv2d``'s output, used by nothing else,
    each module called once and held once, is folded into that convolution
    (``torch.nn.utils.fusion.fuse_conv_bn_eval``) and becomes ``nn.Identity``; every other
    BatchNorm is kept. Only for inference: the model must be in eval mode (running statistics
    are used).

    Returns:
        ``model`` (modified).

    Example:
        >>> import torch
        >>> from aan_core import AANFeatureExtractor
        >>> m = AANFeatureExtractor().eval()
        >>> x = torch.randn(1, 3, 64, 64)
        >>> ref = m(x)[-1]
        >>> n_bn = sum(isinstance(x, torch.nn.BatchNorm2d) for x in fuse_conv_bn(m).modules())
        >>> n_bn, torch.allclose(m(x)[-1], ref, atol=1e-4)
        (0, True)
    """
    if model.training:
        raise ValueError("fuse_conv_bn: call model.eval() first (folding uses running stats)")
    held = Counter(id(m) for _, m in model.named_modules(remove_duplicate=False))
    _fold_traced(model, held)
    return model


class _ConvBNTracer(fx.Tracer):
    """``torch.fx``'s tracer with every ``Conv2d``, ``BatchNorm2d`` and ``SyncBatchNorm`` a
    leaf, subclasses too (mmengine's ``SyncBatchNorm``: its input check would otherwise stop
    the trace)."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:  # noqa: D102
        return (isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.SyncBatchNorm))
                or super().is_leaf_module(m, module_qualified_name))


def _plain(module: nn.Module, kinds: tuple[type, ...]) -> bool:
    """``module`` is one of ``kinds`` (a subclass too) and runs its ``forward`` unchanged."""
    return any(isinstance(module, k) and type(module).forward is k.forward for k in kinds)


def _fold_traced(module: nn.Module, held: Counter) -> None:
    """Fold the conv -> BN pairs of ``module``'s traced forward; untraceable: its children."""
    try:
        graph = _ConvBNTracer().trace(module)
    except Exception:  # any failure to trace: look one level down
        for child in module.children():
            _fold_traced(child, held)
        return
    modules = dict(module.named_modules())
    calls = Counter(n.target for n in graph.nodes if n.op == "call_module")
    for node in graph.nodes:
        conv_node = node.args[0] if node.op == "call_module" and len(node.args) == 1 else None
        if not (isinstance(conv_node, fx.Node) and conv_node.op == "call_module"
                and not node.kwargs and len(conv_node.users) == 1):
            continue
        conv, bn = modules[conv_node.target], modules[node.target]
        if (_plain(conv, (nn.Conv2d,)) and _plain(bn, (nn.BatchNorm2d, nn.SyncBatchNorm))
                and bn.track_running_stats and not bn.training
                and calls[conv_node.target] == calls[node.target] == 1
                and held[id(conv)] == held[id(bn)] == 1):
            _set_submodule(module, conv_node.target, fuse_conv_bn_eval(conv, bn))
            _set_submodule(module, node.target, nn.Identity())


def _set_submodule(root: nn.Module, target: str, new: nn.Module) -> None:
    parent, _, name = target.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, name, new)


def optimize_for_inference(model: nn.Module, fuse: bool = True, channels_last: bool = True,
                           inplace: bool = False) -> nn.Module:
    """``model`` for CPU inference: eval mode, BN folded, channels-last weights; a copy
    unless ``inplace``.

    Feed it channels-last inputs (``x.contiguous(memory_format=torch.channels_last)``) for
    the full benefit; NCHW inputs work too. Training-time behaviour is not preserved.
    """
    model = model if inplace else copy.deepcopy(model)
    model.eval()  # not chained: some modules' train() returns None (MMPose's ResNet)
    if fuse:
        fuse_conv_bn(model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model
