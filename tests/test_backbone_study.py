"""The timm-backbone grid of bench/aan_study.py: its network, its counting and its tiny path
end to end (no timing is asserted)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from aan_core import landmark_loss
from bench import aan_study, timm_trainer
from bench.timm_trainer import TimmLandmarkTrainer


def test_tiny_backbone_grid_resume_and_protocol(tmp_path, study):
    """The CI path: one JSON row per (backbone, attention, head, seed) with NME, params,
    GFLOPs and both images/s; --resume runs only the missing cells (catches a cell key
    without ``attention``, which would skip the attention-off cells) and refuses a file
    measured with another protocol (here from scratch vs --pretrained)."""
    out = tmp_path / "backbones.json"
    study("--backbones", "regnetx_002", "--heads", "linear", "--attention", "on", "--out",
          str(out))
    payload = json.loads(out.read_text())
    p = payload["protocol"]
    assert p["kind"] == "backbones" and p["pretrained"] is False and p["seeds"] == [0]
    assert payload["machine"]["kind"] == "cpu" and payload["partial"] is False
    assert payload["mean_shape_nme_pct"] > 0
    assert [(r["backbone"], r["attention"], r["head"], r["seed"]) for r in payload["runs"]
            ] == [("regnetx_002", True, "linear", 0)]
    again = study("--backbones", "regnetx_002", "--out", str(out), "--resume")
    assert "resuming: 1 finished runs" in again
    assert again.count("[study]    regnetx_002") == 3  # only the missing cells ran
    done = json.loads(out.read_text())
    assert done["environment"] == payload["environment"] and len(done["resumed"]) == 1
    runs = {(r["attention"], r["head"]): r for r in done["runs"]}
    assert done["runs"][0] == payload["runs"][0] and len(done["runs"]) == 4
    assert set(runs) == {(True, "linear"), (False, "linear"), (True, "aan"), (False, "aan")}
    for r in runs.values():
        assert r["nme_pct"] > 0 and r["params"] > 0 and r["gflops"] > 0
        assert r["train_ips"] > 0 and r["infer_ips"] > 0
        assert r["branch_input"] == ("grid4" if r["head"] == "aan" else None)
    # attention on adds the gates' weights; the aan head adds the embedding
    assert runs[True, "linear"]["params"] > runs[False, "linear"]["params"]
    assert runs[False, "aan"]["params"] > runs[False, "linear"]["params"]
    assert "| regnetx_002 | aan | in-stage |" in done["table"]
    with pytest.raises(SystemExit, match="pretrained=False vs True"):
        study("--backbones", "regnetx_002", "--out", str(out), "--resume", "--pretrained")


def test_backbone_grid_rejects_variant_heads(study, capsys):
    """A Table 5 regressor input (``gap``) is not a backbone grid head: exit 2, one line."""
    with pytest.raises(SystemExit) as exit_:
        study("--backbones", "regnetx_002", "--heads", "gap")
    assert exit_.value.code == 2
    assert "--heads gap: a backbone grid's heads are aan, linear" in capsys.readouterr().err


def test_aan_head_reads_every_feature_map_and_sums_their_losses():
    """The 'aan' head: embedding on the flattened last map, a branch per feature_info map,
    loss = final + every branch. Catches a dropped branch loss or a head on the wrong map."""
    model = TimmLandmarkTrainer("resnet18", "aan", attention=True, size=64)
    channels = model.features.out_channels
    assert len(model.branches) == len(channels) == 5
    assert model.regressor.regressor_input == "flatten" and model.regressor.feature_size == (2, 2)
    assert model.regressor.in_channels == channels[-1] == 512
    assert isinstance(model.regressor.embedding, nn.Module) and not isinstance(
        model.regressor.embedding, nn.Identity)
    x, target = torch.randn(2, 3, 64, 64), torch.rand(2, 68, 2)
    model.eval()  # BN fixed: the same maps for the loss and for the check
    loss = model(x, target)
    feats = model.features(x)
    expected = landmark_loss([(1.0, model.regressor(feats[-1]))]
                             + [(1.0, b(f)) for b, f in zip(model.branches, feats,
                                                            strict=True)], target)
    torch.testing.assert_close(loss, expected)
    assert loss > landmark_loss([(1.0, model.predict(x))], target)
    assert model.predict(x).shape == (2, 68, 2)
    assert all(m is not None for m in model.features.attention_maps)


def test_linear_head_reads_only_the_last_map():
    """The 'linear' head: pooled last map, one linear layer, no branches, only the last
    level extracted (so attention gates that map alone)."""
    model = TimmLandmarkTrainer("resnet18", "linear", attention=False, size=64)
    assert model.features.out_channels == (512,) and len(model.branches) == 0
    assert isinstance(model.regressor.embedding, nn.Identity)
    assert model.regressor.regressor_input == "gap"
    assert not any(True for g in model.features.gates for _ in g.parameters())
    assert all(m is None for m in model.features.attention_maps)
    x = torch.randn(2, 3, 64, 64)
    assert model(x, torch.rand(2, 68, 2)).ndim == 0
    with pytest.raises(ValueError, match="head must be one of"):
        TimmLandmarkTrainer("resnet18", "cosine", attention=True, size=64)


def test_fixed_size_transformer_gets_the_crop_size(monkeypatch):
    """A ViT is built for 224 px: without ``img_size`` from ``timm_kwargs_for`` it refuses
    a 64 px crop (checked by forcing the kwargs empty)."""
    assert timm_trainer.timm_kwargs_for("vit_tiny_patch16_224", 64) == {"img_size": 64}
    assert timm_trainer.timm_kwargs_for("resnet18", 64) == {}
    model = TimmLandmarkTrainer("vit_tiny_patch16_224", "aan", attention=True, size=64)
    assert model.predict(torch.randn(1, 3, 64, 64)).shape == (1, 68, 2)
    monkeypatch.setattr(timm_trainer, "timm_kwargs_for", lambda backbone, size: {})
    with pytest.raises(Exception, match="224"):
        TimmLandmarkTrainer("vit_tiny_patch16_224", "aan", attention=True, size=64)


def test_pretrained_weights_are_kept(monkeypatch):
    """``pretrained=True`` loads timm's weights and the trainer (wrapping, head sizing by a
    dry forward) leaves them and BN's statistics as loaded. A stand-in loader writes known
    values (no download); catches a re-initialised backbone or a dry forward in train mode
    (it would move BN's running statistics)."""
    import timm.models._builder as builder

    def load_known_values(model, *args, **kwargs):
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(0.125)
            for b in model.buffers():
                if b.is_floating_point():
                    b.fill_(0.25)

    monkeypatch.setattr(builder, "load_pretrained", load_known_values)
    model = TimmLandmarkTrainer("resnet18", "aan", attention=True, size=64, pretrained=True)
    backbone = model.features.features
    assert all(torch.all(p == 0.125) for p in backbone.parameters())
    assert all(torch.all(b == 0.25) for b in backbone.buffers() if b.is_floating_point())
    scratch = TimmLandmarkTrainer("resnet18", "aan", attention=True, size=64)
    assert not all(torch.all(p == 0.125) for p in scratch.features.features.parameters())


def test_gflops_count_multiply_adds_twice():
    """A 1x1 convolution 3 -> 4 on a 2x2 crop is 48 multiply-adds = 96 FLOPs (catches a
    count in MACs, fvcore's convention)."""

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1, bias=False)

        def predict(self, x):
            return self.conv(x)

    assert aan_study.count_gflops(Probe(), 2, torch.device("cpu")) == pytest.approx(96e-9)


def test_attention_verdict_weighs_the_difference_against_seed_spread():
    """helps / hurts only beyond the seeds' spread; catches a flipped sign (on - off)."""
    def cell(head, attention, vals):
        runs = [dict(nme_pct=v, seed=i) for i, v in enumerate(vals)]
        return dict(backbone="b", head=head, attention=attention, **aan_study.seed_stats(runs))

    summary = [cell("aan", True, [10.0, 10.2]), cell("aan", False, [12.0, 12.2]),
               cell("linear", True, [20.0, 21.0]), cell("linear", False, [20.5, 21.5]),
               cell("one", True, [5.0]), cell("one", False, [9.0])]
    verdicts = {v["head"]: v for v in aan_study.backbone_verdicts(summary)}
    assert verdicts["aan"]["attention"] == "helps"
    assert verdicts["aan"]["attention_delta_nme"] == pytest.approx(-2.0)
    assert verdicts["linear"]["attention"] == "within seed spread"
    assert verdicts["one"]["attention"] == "no verdict (one seed)"
    swapped = [dict(c, attention=not c["attention"]) for c in summary[:2]]
    assert aan_study.backbone_verdicts(swapped)[0]["attention"] == "hurts"


def test_mean_shape_reference_is_the_training_mean():
    """The reference level: 0 for a test face equal to the training mean, and > 0 for a
    training face that is not (catches the test set's own mean used instead)."""
    shape = torch.rand(68, 2)
    shape[36], shape[45] = torch.tensor([0.3, 0.4]), torch.tensor([0.7, 0.4])
    train = torch.stack([shape - 0.05, shape + 0.05])
    assert aan_study.mean_shape_nme(train, shape[None]) == pytest.approx(0, abs=1e-5)
    # (0.05, 0.05) off at every point, outer eye corners 0.4 apart: 17.68%
    assert aan_study.mean_shape_nme(train, train[:1]) == pytest.approx(
        100 * 0.05 * 2 ** 0.5 / 0.4, rel=1e-4)
