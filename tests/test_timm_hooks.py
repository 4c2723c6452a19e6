"""timm_hooks across timm's families, and TimmAttentionBackbone / AANPoseEstimator in MMPose."""

import pytest
import timm
import torch
from mmpose.registry import MODELS

from timm_hooks import AttentionFeatures, attach_attention, feature_channels

# (name, timm kwargs, input size): CNNs, hierarchical transformers (NHWC), plain ViTs.
ARCHS = [
    ("resnet18", {}, 64),
    ("resnet18d", {}, 64),
    ("regnetx_002", {}, 64),
    ("efficientnet_b0", {}, 64),
    ("mobilenetv3_small_050", {}, 64),
    ("convnext_atto", {}, 64),
    ("hrnet_w18_small", {}, 64),
    ("densenet121", {}, 64),
    ("cspresnet50", {}, 64),
    ("swin_tiny_patch4_window7_224", {"img_size": 64, "window_size": 2}, 64),
    ("efficientvit_b0", {}, 64),
    ("vit_tiny_patch16_224", {"img_size": 64}, 64),
]


@pytest.mark.parametrize("name,kwargs,size", ARCHS, ids=[a[0] for a in ARCHS])
def test_attention_on_every_family(name, kwargs, size):
    feats = attach_attention(name, **kwargs)
    x = torch.randn(2, 3, size, size)
    outs = feats(x)
    info = feats.feature_info
    assert len(outs) == len(info.channels())
    for out, ch, red in zip(outs, info.channels(), info.reduction(), strict=True):
        assert out.shape[:2] == (2, ch), "NCHW with feature_info's channels"
        assert out.shape[-1] == -(-size // red) or out.shape[-1] == size // red
    assert feature_channels(name, **kwargs) == tuple(info.channels())
    # backward reaches every attention conv and the backbone
    sum(o.float().square().mean() for o in outs).backward()
    for gate in feats.gates:
        assert gate.attention.conv.weight.grad.abs().sum() > 0
    assert any(p.grad is not None for p in feats.features.parameters())
    # M forced to 0 gives the backbone's own maps; attention=False is the same
    feats.eval()
    for gate in feats.gates:
        gate.attention.forward = lambda h: torch.zeros_like(h[:, :1])
    plain = attach_attention(feats.features, attention=False).eval()
    with torch.no_grad():
        for a, b in zip(feats(x), plain(x), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_existing_weights_are_kept():
    model = timm.create_model("resnet18", pretrained=False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    feats = attach_attention(model, out_indices=(1, 2, 3, 4))
    assert feats.features.model is model  # wrapped, not copied or rebuilt
    kept = {k.removeprefix("model."): v for k, v in feats.features.state_dict().items()}
    assert kept.keys() <= before.keys() and len(kept) > 50
    for k, v in kept.items():
        assert torch.equal(v, before[k]), k
    assert feats.out_channels == (64, 128, 256, 512)
    feats(torch.randn(1, 3, 64, 64))
    assert [m.shape[-1] for m in feats.attention_maps] == [16, 8, 4, 2]


def test_built_features_only_model_and_clear_errors():
    fm = timm.create_model("resnet18", features_only=True, out_indices=(2, 3))
    assert attach_attention(fm).out_channels == (128, 256)
    with pytest.raises(ValueError, match="out_indices cannot be changed"):
        attach_attention(fm, out_indices=(1,))
    with pytest.raises(TypeError, match="not a timm model with feature maps"):
        attach_attention(torch.nn.Linear(3, 3))
    with pytest.raises(TypeError, match="no timm FeatureInfo"):
        AttentionFeatures(torch.nn.Conv2d(3, 3, 1))


def test_no_weights_are_downloaded(monkeypatch):
    import timm.models._builder as builder

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to download weights")

    monkeypatch.setattr(builder, "load_pretrained", refuse)
    attach_attention("resnet18")  # pretrained=False by default: no load at all


@pytest.mark.parametrize("backbone", ["convnext_atto", "swin_tiny_patch4_window7_224"])
def test_mmpose_estimator_sizes_head_from_feature_info(backbone):
    kwargs = {"img_size": 64, "window_size": 2} if "swin" in backbone else {}
    model = MODELS.build(dict(
        type="AANPoseEstimator",
        backbone=dict(type="TimmAttentionBackbone", model_name=backbone, timm_kwargs=kwargs),
        head=dict(type="CosineEmbeddingHead", in_channels="auto", num_joints=68)))
    assert model.head.in_channels == feature_channels(backbone, **kwargs)
    assert model(torch.randn(2, 3, 64, 64), None, mode="tensor").shape == (2, 68, 2)


def test_estimator_rejects_mismatched_channels():
    with pytest.raises(ValueError, match="use head.in_channels='auto'"):
        MODELS.build(dict(type="AANPoseEstimator",
                          backbone=dict(type="TimmAttentionBackbone", model_name="resnet18",
                                        out_indices=(1, 2, 3, 4)),
                          head=dict(type="CosineEmbeddingHead", in_channels=(1, 2, 3, 4),
                                    num_joints=5)))
    with pytest.raises(ValueError, match="cannot, so give head.in_channels"):
        MODELS.build(dict(type="AANPoseEstimator", backbone=dict(type="ResNet", depth=18),
                          head=dict(type="CosineEmbeddingHead", in_channels="auto",
                                    num_joints=5)))
