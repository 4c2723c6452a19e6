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


IN_STAGE = [a for a in ARCHS if a[0] not in OUTPUTS_ONLY]
# a change of the next level's output below this fraction of its size is a cancelled gate:
# float noise (ConvNeXt's LayerNorm left under 1e-5 before the gain was moved after it); a
# gate that acts changed it by 5e-2 or more (Swin's smooth map, the least)
ACTS = 1e-3


def _perturbed_maps(h: torch.Tensor, kind: str) -> torch.Tensor:
    """A map ``M`` in [0, 1] for ``h``'s positions: a smooth blob (what a face map looks like;
    Swin's patch merging keeps only its contrast within 2x2 patches) or noise."""
    b, _, height, width = h.shape
    if kind == "noise":
        return torch.rand(b, 1, height, width, generator=torch.Generator().manual_seed(1))
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width),
                            indexing="ij")
    return torch.exp(-(xx**2 + yy**2) / 0.2).expand(b, 1, height, width)


def next_level_changes(feats: AttentionFeatures, x: torch.Tensor, kind: str) -> list[float]:
    """For each level but the last: the relative change of the next level's output when this
    level's map is replaced by ``kind`` (training mode: BatchNorm on the batch, as when the
    gates learn)."""
    feats.train()
    changes = []
    with torch.no_grad():
        base = feats(x)
        for level, gate in enumerate(feats.gates[:-1]):
            gate.attention.forward = lambda h: _perturbed_maps(h, kind)
            after = feats(x)
            del gate.attention.forward
            ref = base[level + 1]
            changes.append(float((after[level + 1] - ref).norm() / ref.norm()))
    return changes


@pytest.mark.parametrize("name,kwargs,size", IN_STAGE, ids=[a[0] for a in IN_STAGE])
def test_in_stage_map_acts_on_the_deeper_levels(name, kwargs, size):
    """The effect, not only the input: perturbing a level's map changes the next level's
    output by more than ACTS of its size, in every family. ConvNeXt's next stage begins with
    a per-position LayerNorm that cancels ``(1 + M)`` exactly: there the gain is applied
    again after that norm (``relocated``); nowhere else."""
    torch.manual_seed(0)
    feats = attach_attention(name, **kwargs)
    x = torch.randn(4, 3, size, size)
    for kind in ("blob", "noise"):
        changes = next_level_changes(feats, x, kind)
        assert min(changes) > ACTS, (kind, changes)
    levels = len(feats.gates)
    expected = ({i: f"stages_{i + 1}.downsample.0" for i in range(levels - 1)}
                if name.startswith("convnext") else {})
    assert feats.relocated == expected


def test_convnext_layernorm_cancels_a_spatial_gain_and_the_moved_gain_acts():
    """Why the gain is moved: timm's LayerNorm2d gives the same map with or without a
    per-position gain (so a gate before it cannot act through it); after the move, each
    level's gate gets a gradient from the next level's output alone, and a regular model
    (wrapped by FeatureGetterNet) is treated the same as a features_only one."""
    from timm.layers import LayerNorm2d

    norm = LayerNorm2d(8)
    h = torch.randn(2, 8, 6, 6)
    gain = 1 + torch.rand(2, 1, 6, 6)
    torch.testing.assert_close(norm(gain * h), norm(h), rtol=0, atol=1e-5)

    torch.manual_seed(0)
    feats = attach_attention("convnext_atto").train()
    outs = feats(torch.randn(2, 3, 64, 64))
    outs[2].square().mean().backward()  # level 2 only: gate 1 acts through stage 2's norm
    assert feats.gates[1].attention.conv.weight.grad.abs().sum() > 0
    assert feats.gates[2].attention.conv.weight.grad.abs().sum() > 0
    # without the move (the norms' hooks removed), the next level changes by float noise
    for name in feats.relocated.values():
        feats.features.get_submodule(name)._forward_hooks.clear()
    for kind in ("blob", "noise"):
        assert max(next_level_changes(feats, torch.randn(4, 3, 64, 64), kind)) < 1e-5
    wrapped = attach_attention(timm.create_model("convnext_atto"), out_indices=(0, 1, 2, 3))
    assert wrapped.relocated == {i: f"model.stages.{i + 1}.downsample.0" for i in range(3)}
    assert min(next_level_changes(wrapped, torch.randn(4, 3, 64, 64), "blob")) > ACTS


@pytest.mark.parametrize("form", ["aan-mean-one", "aan-norelu", "fixed-gain", "se", "eca"])
def test_convnext_forms_act_through_the_layernorm(form):
    """Every form but cbam acts on ConvNeXt's next level: the map forms and fixed-gain have
    their gain moved after the norm; se / eca (a gain per channel changes each position's
    direction, which the norm keeps) stay where they are."""
    torch.manual_seed(0)
    feats = attach_attention("convnext_atto", attention=form).train()
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        base = feats(x)
        gate = feats.gates[0]
        if hasattr(gate, "attention"):
            gate.attention.forward = lambda h: _perturbed_maps(h, "blob")
        elif form == "fixed-gain":
            gate.gain = 2.5
        else:  # a different per-channel gain
            gate.forward = lambda h: h * torch.rand(h.shape[0], h.shape[1], 1, 1,
                                                     generator=torch.Generator().manual_seed(2))
        after = feats(x)
    assert float((after[1] - base[1]).norm() / base[1].norm()) > ACTS
    assert bool(feats.relocated) == (form not in ("se", "eca"))


def test_convnext_refuses_cbam_in_stage():
    """cbam's spatial half would be cancelled by the LayerNorm (its channel half acting
    alone): refused in one line that says why; outputs_only still takes it."""
    with pytest.raises(ValueError, match=r"LayerNorm 'stages_1.downsample.0' .* cancels"):
        attach_attention("convnext_atto", attention="cbam")
    assert attach_attention("convnext_atto", attention="cbam",
                            placement="outputs_only").relocated == {}


def test_relocated_gates_hold_no_tensor_after_a_forward():
    """A relocated gate's gain lives from its stage to the next stage's norm only: after a
    training forward the model deep-copies (EMA, checkpoint averaging), which fails on a
    kept non-leaf tensor."""
    feats = attach_attention("convnext_atto").train()
    feats(torch.randn(2, 3, 64, 64)).pop().sum().backward()
    twin = copy.deepcopy(feats)
    assert twin.relocated == feats.relocated
