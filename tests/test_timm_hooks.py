"""timm_hooks across timm's families, and TimmAttentionBackbone / AANPoseEstimator in MMPose."""

import copy

import pytest
import timm
import torch
from mmpose.registry import MODELS

from timm_hooks import PLACEMENTS, AttentionFeatures, attach_attention, feature_channels

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
# Families whose feature levels are not stage outputs that a next stage reads (HRNet's come
# out of parallel branches after its last stage): only outputs_only gating applies.
OUTPUTS_ONLY = {"hrnet_w18_small"}


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("name,kwargs,size", ARCHS, ids=[a[0] for a in ARCHS])
def test_attention_on_every_family(name, kwargs, size, placement):
    if placement == "in_stage" and name in OUTPUTS_ONLY:
        with pytest.raises(TypeError, match="use placement='outputs_only'"):
            attach_attention(name, placement=placement, **kwargs)
        return
    feats = attach_attention(name, placement=placement, **kwargs)
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
    # M forced to 0 gives the backbone's own maps; attention=False (on a backbone with the
    # same weights: an in-stage one carries its gates) is the same
    feats.eval()
    for gate in feats.gates:
        gate.attention.forward = lambda h: torch.zeros_like(h[:, :1])
    same = timm.create_model(name, features_only=True, **kwargs)
    same.load_state_dict(feats.features.state_dict())
    plain = attach_attention(same, attention=False).eval()
    with torch.no_grad():
        for a, b in zip(feats(x), plain(x), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def stage_input(feats: AttentionFeatures, level: int, x: torch.Tensor) -> torch.Tensor:
    """What the module of feature level ``level`` receives in a forward of ``x``."""
    name = feats.feature_info.module_name()[level]
    root = feats.features
    for candidate in (name, name.replace(".", "_", 1), f"model.{name}"):
        try:
            module = root.get_submodule(candidate)
            break
        except AttributeError:
            continue
    seen = []
    handle = module.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    with torch.no_grad():
        feats(x)
    handle.remove()
    return seen[0]


@pytest.mark.parametrize("name,kwargs,size", [a for a in ARCHS if a[0] not in OUTPUTS_ONLY],
                         ids=[a[0] for a in ARCHS if a[0] not in OUTPUTS_ONLY])
def test_in_stage_attention_feeds_the_next_stage(name, kwargs, size):
    """In-stage: the module of level 1 reads level 0's gated map, so changing level 0's
    attention (M forced to 0) changes its input and its output. Outputs-only (the old
    placement): level 1's input and output do not depend on level 0's gate; only level 0's
    own output does. Catches gates placed after the backbone under the name in-stage."""
    x = torch.randn(2, 3, size, size)
    for placement in PLACEMENTS:
        torch.manual_seed(0)
        feats = attach_attention(name, placement=placement, **kwargs).eval()
        before = stage_input(feats, 1, x)
        with torch.no_grad():
            outs = feats(x)
        feats.gates[0].attention.forward = lambda h: torch.zeros_like(h[:, :1])
        after = stage_input(feats, 1, x)
        with torch.no_grad():
            outs_after = feats(x)
        assert not torch.allclose(outs[0], outs_after[0])  # level 0's own map: both
        if placement == "in_stage":
            assert not torch.allclose(before, after)
            assert not torch.allclose(outs[1], outs_after[1])
        else:
            torch.testing.assert_close(before, after, rtol=0, atol=0)
            torch.testing.assert_close(outs[1], outs_after[1], rtol=0, atol=0)


def test_in_stage_gates_follow_a_copy_and_refuse_a_second_wrapper():
    """A deep copy's hooks run the copy's gates (catches hooks bound to the original's);
    a backbone that carries in-stage gates cannot be wrapped again (its stages would be
    gated twice, or gated while the new wrapper claims no attention)."""
    feats = attach_attention("resnet18", out_indices=(1, 2)).eval()
    twin = copy.deepcopy(feats)
    twin.gates[0].attention.forward = lambda h: torch.zeros_like(h[:, :1])
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, b = feats(x), twin(x)
    assert not torch.allclose(a[1], b[1])
    assert feats.attention_maps[0] is not None and twin.attention_maps[0] is not None
    with pytest.raises(ValueError, match="already carries in-stage attention gates"):
        attach_attention(feats.features, attention=False)
    with pytest.raises(ValueError, match="placement must be one of"):
        attach_attention("resnet18", placement="inside")


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
