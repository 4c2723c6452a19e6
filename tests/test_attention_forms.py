"""The attention factory: every form is what its name says (checked against its formula on a
fixed input, so a form that silently became another fails), unknown names are refused, and
the earlier switches and checkpoints still load."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import REPO
from mmengine.config import Config
from mmpose.registry import MODELS
from timm.layers import create_attn
from timm.layers.cbam import CbamModule
from timm.layers.eca import EcaModule
from timm.layers.squeeze_excite import SEModule

from aan_core import (
    AAN_INIT_GAIN,
    ATTENTION_FORMS,
    AANLandmarkModel,
    AttentionResidualStage,
    create_attention,
    legacy_attention,
)
from timm_hooks import ATTENTION_FORMS as TIMM_ATTENTION_FORMS
from timm_hooks import attach_attention

SMALL = dict(num_points=5, stem_channels=8, stage_channels=(8, 16, 16, 32), embedding_dim=16)


def _h() -> torch.Tensor:
    return torch.randn(3, 8, 6, 5, generator=torch.Generator().manual_seed(0))


def _pre_activation(gate, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The gate's output and its map's BN output ``z`` (before ReLU and sigmoid), training-mode
    BN: ``z`` is standardised over the batch, so about half of it is negative."""
    out = gate.train()(h)
    with torch.no_grad():
        z = gate.attention.bn(gate.attention.conv(h))  # the same batch statistics
    assert (z < 0).any() and (z > 0).any()
    return out, z


def test_aan_is_one_plus_the_relu_map_times_h():
    h = _h()
    out, z = _pre_activation(create_attention("aan", 8), h)
    torch.testing.assert_close(out, (1 + torch.sigmoid(torch.relu(z))) * h)


def test_aan_norelu_has_no_relu_before_the_sigmoid():
    h = _h()
    out, z = _pre_activation(create_attention("aan-norelu", 8), h)
    torch.testing.assert_close(out, (1 + torch.sigmoid(z)) * h)
    assert not torch.allclose(out, (1 + torch.sigmoid(torch.relu(z))) * h)


def test_aan_mean_one_redistributes_with_a_mean_gain_of_one_per_sample():
    h = _h()
    gate = create_attention("aan-mean-one", 8)
    out, z = _pre_activation(gate, h)
    gain = 1 + torch.sigmoid(torch.relu(z))
    torch.testing.assert_close(out, gain / gain.mean(dim=(2, 3), keepdim=True) * h)
    torch.testing.assert_close((out / h).mean(dim=(1, 2, 3)), torch.ones(3))
    assert (out / h).std() > 0.01  # a map, not a constant
    torch.testing.assert_close(gate.attention_map, torch.sigmoid(torch.relu(z)))


def test_fixed_gain_is_exactly_g_times_h_with_no_parameters():
    h = _h()
    gate = create_attention("fixed-gain", 8)
    assert torch.equal(gate(h), AAN_INIT_GAIN * h)
    assert torch.equal(create_attention(dict(type="fixed-gain", gain=1.25), 8)(h), 1.25 * h)
    assert not list(gate.parameters()) and not list(gate.buffers())
    assert getattr(gate, "attention_map", None) is None


def test_fixed_gain_default_is_the_measured_gain_of_aan_at_initialisation():
    """Catches a default ``g`` that is not the one measured by bench.attention_init_gain."""
    payload = json.loads((REPO / "bench" / "results" / "attention_init_gain.json").read_text())
    gains = [g for run in payload["runs"] for g in run["gains"]]
    assert AAN_INIT_GAIN == payload["default_gain"] == round(sum(gains) / len(gains), 2)


def test_none_is_the_identity_with_no_parameters():
    h = _h()
    gate = create_attention("none", 8)
    assert gate(h) is h and not list(gate.parameters()) and not list(gate.buffers())


@pytest.mark.parametrize("name,module_type", [("se", SEModule), ("eca", EcaModule),
                                              ("cbam", CbamModule)])
def test_timm_forms_are_timms_modules(name, module_type):
    """timm's own layer, from its factory: the same type, parameters and output as
    ``timm.layers.create_attn``'s."""
    gate = create_attention(name, 8, TIMM_ATTENTION_FORMS)
    assert type(gate) is module_type
    reference = create_attn(name, 8)
    reference.load_state_dict(gate.state_dict())
    h = _h()
    torch.testing.assert_close(gate.eval()(h), reference.eval()(h))
    assert not torch.allclose(gate(h), h)


def test_options_reach_timms_module():
    gate = create_attention(dict(type="se", rd_channels=4), 8, TIMM_ATTENTION_FORMS)
    assert gate.fc1.out_channels == 4


@pytest.mark.parametrize("spec", ["sea", "se", "None", dict(type="aan-mean")])
def test_unknown_forms_are_refused_naming_the_known_ones(spec):
    """'se' is timm's: pure aan_core (no timm) does not know it. Before the factory, any
    non-empty string built the paper's attention."""
    with pytest.raises(ValueError, match="is not a known form; known forms: 'aan', "):
        AANLandmarkModel(**SMALL, attention=spec)


def test_options_a_form_does_not_take_are_refused():
    with pytest.raises(ValueError, match="form 'aan' does not take these options"):
        create_attention(dict(type="aan", gain=2.0), 8)


def test_none_by_name_builds_no_attention():
    """Catches the old behaviour: ``attention='none'`` (a non-empty string, so true) built
    the paper's gates."""
    model = AANLandmarkModel(**SMALL, attention="none")
    assert not [k for k in model.state_dict() if ".gate." in k]
    model.predict(torch.randn(1, 3, 64, 64))
    assert model.features.attention_maps == (None,) * 4


def test_every_core_form_builds_a_model_that_runs():
    x = torch.randn(2, 3, 64, 64)
    for name in ATTENTION_FORMS:
        model = AANLandmarkModel(**SMALL, attention=name)
        assert model(x, torch.rand(2, 5, 2)).ndim == 0
        has_map = name.startswith("aan")
        assert all((m is not None) == has_map for m in model.features.attention_maps), name


@pytest.mark.parametrize("old,attention_relu,form", [
    (True, None, "aan"), (False, None, "none"), (True, False, "aan-norelu"),
    (False, False, "none"), ("aan", True, "aan")])
def test_earlier_switches_load_as_their_forms(old, attention_relu, form):
    backbone = MODELS.build(dict(type="AANBackbone", stem_channels=8,
                                 stage_channels=(8, 16, 16, 32), attention=old,
                                 **({} if attention_relu is None else
                                    dict(attention_relu=attention_relu))))
    expected = create_attention(form, 8)
    gate = backbone.features.stages[0].gate
    assert type(gate) is type(expected)
    assert repr(gate) == repr(expected)
    assert legacy_attention(old, attention_relu) in (form, old)


def test_attention_relu_with_another_form_is_refused():
    with pytest.raises(ValueError, match="attention_relu=False is the earlier switch"):
        legacy_attention("fixed-gain", False)


def test_checkpoint_keys_of_the_paper_gate_are_unchanged():
    """A checkpoint of the earlier ``AttentionGate`` (keys written out here) loads strictly."""
    stage = AttentionResidualStage(8, 16)
    old_keys = {"gate.attention.conv.weight", "gate.attention.bn.weight",
                "gate.attention.bn.bias", "gate.attention.bn.running_mean",
                "gate.attention.bn.running_var", "gate.attention.bn.num_batches_tracked"}
    assert {k for k in stage.state_dict() if k.startswith("gate.")} == old_keys
    for form in ("aan-norelu", "aan-mean-one"):
        AttentionResidualStage(8, 16, attention=form).load_state_dict(stage.state_dict())


@pytest.mark.parametrize("name", ["none", "fixed-gain", "aan-mean-one", "se", "eca", "cbam"])
def test_every_form_goes_in_stage_on_a_timm_backbone(name):
    """The in-stage hooks run for forms without a map too (the earlier check of a missed
    hook read the map), and the next stage reads the form's output."""
    feats = attach_attention("resnet18", out_indices=(1, 2), attention=name).eval()
    outs = feats(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [64, 128]
    assert feats.in_stage == (name != "none") and feats.attention == name
    assert (feats.attention_maps[0] is not None) == (name == "aan-mean-one")


def test_the_config_key_chooses_the_form():
    """``--cfg-options model.backbone.attention=<form>`` on the paper's recipe and the timm
    variant."""
    cfg = Config.fromfile(str(REPO / "mm_configs" / "aan_300w_cpu.py"))
    cfg.merge_from_dict({"model.backbone.attention": "fixed-gain"})
    model = MODELS.build(cfg.model)
    assert all(type(s.gate).__name__ == "FixedGain" for s in model.backbone.features.stages)
    cfg = Config.fromfile(str(REPO / "mm_configs" / "aan_timm-resnet18_300w_cpu.py"))
    cfg.merge_from_dict({"model.backbone.attention": "eca"})
    model = MODELS.build(cfg.model)
    assert all(type(g) is EcaModule for g in model.backbone.body.gates)
