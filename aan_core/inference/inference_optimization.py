"""Make an AAN model faster for inference on CPU: BatchNorm folded into convolutions and
channels-last memory format (both measured in ``bench/cpu_speed.py``)."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from ..network.attention import SpatialAttention

__all__ = ["fuse_conv_bn", "optimize_for_inference"]

# modules whose forward is known to apply ``bnX`` right after ``convX`` (and nothing else to
# the conv's output): torchvision's ResNet blocks and AAN's attention branch
_NAMED_PAIRS = {
    Bottleneck: (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")),
    BasicBlock: (("conv1", "bn1"), ("conv2", "bn2")),
    ResNet: (("conv1", "bn1"),),
    SpatialAttention: (("conv", "bn"),),
}


def fuse_conv_bn(model: nn.Module) -> nn.Module:
    """Fold every BatchNorm that directly follows a convolution into it, in place.

    Folded: consecutive ``Conv2d`` -> ``BatchNorm2d`` in an ``nn.Sequential`` (AAN's stem,
    ResNet downsample branches) and the conv/BN pairs of torchvision's ``Bottleneck`` and
    ``BasicBlock`` (and ``ResNet``'s stem) and of :class:`SpatialAttention`. The BN becomes
    ``nn.Identity``. Only for inference: the model must be in eval mode (running statistics
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
    for module in model.modules():
        for cls, pairs in _NAMED_PAIRS.items():
            if type(module) is cls:
                for conv_name, bn_name in pairs:
                    conv, bn = getattr(module, conv_name), getattr(module, bn_name)
                    if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                        setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
                        setattr(module, bn_name, nn.Identity())
        if isinstance(module, nn.Sequential):
            names = list(module._modules)
            for a, b in zip(names, names[1:], strict=False):
                conv, bn = module._modules[a], module._modules[b]
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                    module._modules[a] = fuse_conv_bn_eval(conv, bn)
                    module._modules[b] = nn.Identity()
    return model


def optimize_for_inference(model: nn.Module, fuse: bool = True, channels_last: bool = True,
                           inplace: bool = False) -> nn.Module:
    """``model`` for CPU inference: eval mode, BN folded, channels-last weights; a copy
    unless ``inplace``.

    Feed it channels-last inputs (``x.contiguous(memory_format=torch.channels_last)``) for
    the full benefit; NCHW inputs work too. Training-time behaviour is not preserved.
    """
    model = (model if inplace else copy.deepcopy(model)).eval()
    if fuse:
        fuse_conv_bn(model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model
