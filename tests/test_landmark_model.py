"""One network definition: ``aan_core.AANLandmarkModel`` (what the bench tools train) and the
MMPose model (``AANBackbone`` + ``CosineEmbeddingHead``) built from the shipped configs have
the same parameters (names behind MMPose's ``backbone.`` / ``head.`` prefixes, shapes) and
compute the same predictions from the same weights."""

from __future__ import annotations

import pytest
import torch
from conftest import REPO
from mmengine.config import Config
from mmpose.registry import MODELS

from aan_core import AANFeatureExtractor, AANLandmarkModel, landmark_loss
from bench import aan_study


def shapes(model: torch.nn.Module, prefixes: tuple[str, ...] = ()) -> dict[str, tuple]:
    """Every state-dict entry's name (``prefixes`` removed) and shape."""
    out = {}
    for name, tensor in model.state_dict().items():
        for prefix in prefixes:
            if name.startswith(prefix):
                name = name[len(prefix):]
                break
        out[name] = tuple(tensor.shape)
    return out


def mmpose_shapes(model_cfg: dict) -> dict[str, tuple]:
    with torch.device("meta"):
        model = MODELS.build(model_cfg)
    return shapes(model, ("backbone.", "head."))


def core_shapes(model_fn) -> dict[str, tuple]:
    with torch.device("meta"):
        return shapes(model_fn())


def config_model(name: str) -> dict:
    return Config.fromfile(str(REPO / "mm_configs" / name)).model


def assert_same_parameters(core: dict, mmpose: dict) -> None:
    assert core.keys() == mmpose.keys(), (
        f"only in aan_core: {sorted(core.keys() - mmpose.keys())[:5]}; only in MMPose: "
        f"{sorted(mmpose.keys() - core.keys())[:5]}")
    differ = {k: (core[k], mmpose[k]) for k in core if core[k] != mmpose[k]}
    assert not differ, f"shapes differ (aan_core, MMPose): {differ}"


def test_aan_300w_config_is_the_bench_network():
    """aan_300w.py (what `mim train` trains) against gpu_train.py's model (the aan_core
    defaults with flattened inputs at 256 px) and aan_study's full-width network. Catches a
    width, stem, embedding or branch default that differs between the config and aan_core."""
    mm = mmpose_shapes(config_model("aan_300w.py"))
    assert_same_parameters(core_shapes(lambda: AANLandmarkModel(
        final_input="flatten", branch_input="flatten", input_size=256)), mm)
    assert_same_parameters(core_shapes(lambda: aan_study.build("aan", "flatten", 1.0, 256)), mm)
    assert mm["branches.0.fc.weight"] == (136, 128 * 32 * 32)  # flattened 32 x 32 map


def test_aan_synthetic_config_is_the_half_width_study_network():
    """aan_synthetic.py (half width, 128 px) against aan_study's ``--width 0.5`` network."""
    mm = mmpose_shapes(config_model("aan_synthetic.py"))
    assert_same_parameters(core_shapes(lambda: aan_study.build("aan", "flatten", 0.5, 128)), mm)


def test_defaults_are_the_registered_modules_defaults():
    """Built with no arguments, the aan_core model and the MMPose modules agree (the head
    sized from the backbone): catches a default width written twice and changed once."""
    mm = mmpose_shapes(dict(type="AANPoseEstimator", backbone=dict(type="AANBackbone"),
                            head=dict(type="CosineEmbeddingHead", in_channels="auto",
                                      num_joints=68)))
    assert_same_parameters(core_shapes(AANLandmarkModel), mm)
    with torch.device("meta"):
        backbone = MODELS.build(dict(type="AANBackbone"))
    assert shapes(AANFeatureExtractor()) == shapes(backbone, ("features.",))


def test_same_weights_give_the_same_predictions():
    """The MMPose model's weights, loaded into the aan_core model by name, give the same
    final and branch predictions: the two are one network, not two that happen to match."""
    cfg = config_model("aan_synthetic.py")
    mm = MODELS.build(cfg).eval()
    core = aan_study.build("aan", "flatten", 0.5, 128).eval()
    state = {k.split(".", 1)[1]: v for k, v in mm.state_dict().items()
             if k.startswith(("backbone.", "head."))}
    core.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        feats = mm.backbone(x)
        torch.testing.assert_close(core.predict(x), mm.head(feats))
        preds = core.predictions(x)
        for (_, got), want in zip(preds[1:], mm.head.forward_branches(feats), strict=True):
            torch.testing.assert_close(got, want)


def test_loss_sums_final_and_branches_and_flatten_needs_a_size():
    model = AANLandmarkModel(num_points=5, stem_channels=8, stage_channels=(8, 16, 16, 32),
                             embedding_dim=16, stage_weights=(0.25, 0.5, 0.75, 1.0)).eval()
    x, target = torch.randn(2, 3, 64, 64), torch.rand(2, 5, 2)
    feats = model.features(x)
    expected = landmark_loss([(1.0, model.regressor(feats[-1]))] + [
        (w, b(f)) for w, b, f in zip((0.25, 0.5, 0.75, 1.0), model.branches, feats,
                                     strict=True)], target)
    torch.testing.assert_close(model(x, target), expected)
    none = AANLandmarkModel(num_points=5, stem_channels=8, stage_channels=(8, 16, 16, 32),
                            embedding_dim=16, branches=False).eval()
    assert len(none.branches) == 0 and len(none.predictions(x)) == 1
    with pytest.raises(ValueError, match="'flatten' needs input_size"):
        AANLandmarkModel(final_input="flatten")
    with pytest.raises(ValueError, match="stage_weights needs 4 entries"):
        AANLandmarkModel(num_points=5, stem_channels=8, stage_channels=(8, 16, 16, 32),
                         stage_weights=(1.0,))
