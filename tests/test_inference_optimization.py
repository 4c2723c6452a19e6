"""BatchNorm folding and channels-last for inference: same outputs, no BatchNorm left where
it can be folded, and only there: on AAN, torchvision's and MMPose's networks alike (one
folding function for every model ``bench.cpu_speed`` measures)."""

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


def _mmpose_resnet() -> nn.Module:
    from mmpose.models.backbones import ResNet

    return ResNet(depth=18, out_indices=(3,))


def _mmcv_conv_module() -> nn.Module:
    """mmcv's conv -> norm -> activation brick, with mmengine's ``SyncBatchNorm`` (what
    RTMPose's config asks for): folded by the data flow, not by names."""
    from mmcv.cnn import ConvModule

    return nn.Sequential(ConvModule(3, 8, 3, norm_cfg=dict(type="SyncBN")),
                         ConvModule(8, 8, 3, norm_cfg=dict(type="BN"), act_cfg=None))


@pytest.mark.parametrize("build", [
    lambda: AANFeatureExtractor(stem_channels=16, stage_channels=(16, 32, 32, 64)),
    lambda: resnet18(num_classes=10),
    _mmpose_resnet,
    _mmcv_conv_module,
], ids=["aan", "torchvision-resnet", "mmpose-resnet", "mmcv-conv-module"])
def test_folding_keeps_outputs(build):
    model = _randomise_bn(build())
    model.eval()  # MMPose's ResNet.train() returns None
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


class _OutOfOrder(nn.Module):
    """``bn`` is registered after ``first`` but normalises ``second``'s output."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.second = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        return self.bn(self.second(torch.relu(self.first(x))))


class _ConvOutputUsedTwice(nn.Module):
    """The conv's output feeds the BN and the sum: folding would change the sum."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)

    def forward(self, x):
        y = self.conv(x)
        return self.bn(y) + y


class _SharedConv(nn.Module):
    """One conv called twice, once before the BN: folding would change the other call."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)

    def forward(self, x):
        return self.bn(self.conv(x)) + self.conv(x)


class _Untraceable(nn.Module):
    """Control flow on its input stops ``torch.fx`` here; its child still folds."""

    def __init__(self) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4))

    def forward(self, x):
        return self.block(x) if x.sum() > float("-inf") else x


@pytest.mark.parametrize("build,folded", [
    (_OutOfOrder, 1), (_ConvOutputUsedTwice, 0), (_SharedConv, 0), (_Untraceable, 1),
])
def test_folds_what_the_data_flow_allows(build, folded):
    """Which conv feeds a BN is read from the forward, not from registration order; a conv
    whose output or module is used again keeps its BN (catches a fold by module order, or
    one that ignores the conv's other uses)."""
    model = _randomise_bn(build()).eval()
    x = torch.randn(2, 4 if build is not _OutOfOrder else 3, 16, 16)
    with torch.no_grad():
        ref = model(x)
        fuse_conv_bn(model)
        torch.testing.assert_close(model(x), ref, atol=1e-4, rtol=1e-4)
    assert 1 - sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == folded


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
