"""BatchNorm folding and channels-last for inference: same outputs, no BatchNorm left where
it can be folded, and only there."""

import doctest

import pytest
import torch
from torch import nn
from torchvision.models import resnet18

import aan_core.inference.inference_optimization as opt
import aan_core.inference.temporal_smoothing as smoothing
import aan_core.utils.json_input as json_input
from aan_core import AANFeatureExtractor, fuse_conv_bn, optimize_for_inference


def _randomise_bn(model: nn.Module) -> nn.Module:
    """Non-trivial running statistics and affine parameters, so folding is really tested."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g))
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.randn(m.num_features, generator=g))
            m.bias.data.copy_(torch.randn(m.num_features, generator=g))
    return model


@pytest.mark.parametrize("build", [
    lambda: AANFeatureExtractor(stem_channels=16, stage_channels=(16, 32, 32, 64)),
    lambda: resnet18(num_classes=10),
])
def test_folding_keeps_outputs(build):
    model = _randomise_bn(build()).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)
        fast = optimize_for_inference(model)
        out = fast(x.contiguous(memory_format=torch.channels_last))
    ref = ref[-1] if isinstance(ref, (list, tuple)) else ref
    out = out[-1] if isinstance(out, (list, tuple)) else out
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules()), "original untouched"


def test_batchnorm_not_after_a_conv_is_kept():
    model = nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 4, 3), nn.ReLU(), nn.BatchNorm2d(4))
    fuse_conv_bn(_randomise_bn(model).eval())
    assert isinstance(model[0], nn.BatchNorm2d) and isinstance(model[3], nn.BatchNorm2d)


def test_refuses_training_mode():
    with pytest.raises(ValueError, match="eval"):
        fuse_conv_bn(nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3)))


@pytest.mark.parametrize("module", [opt, smoothing, json_input])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
