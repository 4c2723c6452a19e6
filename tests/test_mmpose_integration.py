"""The MMPose layer end to end, in-process: configs build, train, checkpoint, test."""

from pathlib import Path

import pytest
import torch
from conftest import REPO
from fixture_nme import hand_nme, record_predictions
from fixture_runs import fixture_overrides
from mmengine.config import Config
from mmengine.runner import Runner
from mmpose.registry import MODELS

CONFIG = REPO / "mm_configs" / "aan_300w.py"


def test_paper_config_builds_with_the_paper_recipe():
    cfg = Config.fromfile(str(CONFIG))
    assert cfg.custom_imports["imports"] == ["aan_components.plugin"]
    assert cfg.optim_wrapper.optimizer == dict(type="Adam", lr=1e-3, weight_decay=1e-3)
    (sched,) = cfg.param_scheduler
    assert sched.milestones == [25000, 40000] and sched.gamma == 0.1 and not sched.by_epoch
    assert cfg.train_dataloader.batch_size == 64
    assert [t["type"] for t in cfg.train_pipeline] == [
        "LoadFaceImage", "GetBBoxCenterScale", "TopdownAffine", "GenerateTarget", "PackPoseInputs"]
    model = MODELS.build(cfg.model)
    assert len(model.backbone.features.stages) == 4
    assert model.head.regressor.embedding.out_features == 256
    assert len(model.head.branches) == 4
    out = model(torch.randn(1, 3, 256, 256), None, mode="tensor")
    assert out.shape == (1, 68, 2)


def _run(cfg: Config, work_dir: Path) -> Runner:
    cfg.work_dir = str(work_dir)
    cfg.default_hooks.visualization = dict(type="PoseVisualizationHook", enable=False)
    return Runner.from_cfg(cfg)


@pytest.mark.slow  # trains with mmengine's Runner
def test_trains_and_tests_on_the_real_300w_fixture(fixtures_dir, tmp_path):
    cfg = Config.fromfile(str(CONFIG))
    cfg.merge_from_dict(fixture_overrides(fixtures_dir / "300w", "test_300w.json", iters=3))
    runner = _run(cfg, tmp_path)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    ckpt = tmp_path / "iter_3.pth"
    assert ckpt.is_file()
    changed = [k for k, v in runner.model.state_dict().items()
               if v.is_floating_point() and not torch.equal(v, before[k])]
    assert any("gate.attention.conv" in k for k in changed)
    assert any("head.branches.0" in k for k in changed)

    cfg2 = Config.fromfile(str(CONFIG))
    cfg2.merge_from_dict(fixture_overrides(fixtures_dir / "300w", "test_300w.json"))
    cfg2.load_from = str(ckpt)
    tester = _run(cfg2, tmp_path / "test")
    seen = record_predictions(tester.test_loop)
    metrics = tester.test()
    # NME by hand from the json (wrong input caught: ground truth 1 px off, or the
    # inter-pupil normaliser in place of the outer eye corners)
    assert len(seen) == 2
    assert metrics["NME"] == pytest.approx(
        hand_nme(seen, fixtures_dir / "300w" / "test_300w.json", "inter_ocular"), rel=1e-5)


@pytest.mark.slow  # trains with mmengine's Runner
def test_save_resume_test_round_trip_under_safe_loading(fixtures_dir, tmp_path):
    """Train 2 iterations, resume to 3 (optimizer, scheduler, message hub: numpy objects
    inside mmengine's checkpoint, loaded with weights_only=True and the allowlist), test the
    result. Runs on both supported stacks (scripts/test.sh)."""
    cfg = Config.fromfile(str(CONFIG))
    cfg.merge_from_dict(fixture_overrides(fixtures_dir / "300w", "test_300w.json", iters=2))
    _run(cfg, tmp_path).train()
    cfg = Config.fromfile(str(CONFIG))
    cfg.merge_from_dict(fixture_overrides(fixtures_dir / "300w", "test_300w.json", iters=3))
    cfg.default_hooks.checkpoint.interval = 1
    cfg.resume = True
    runner = _run(cfg, tmp_path)
    runner.train()
    assert runner.iter == 3 and (tmp_path / "iter_3.pth").is_file()
    assert runner.message_hub.get_info("last_ckpt").endswith("iter_3.pth")
    seen = record_predictions(runner.test_loop)
    metrics = runner.test()
    assert metrics["NME"] == pytest.approx(
        hand_nme(seen, fixtures_dir / "300w" / "test_300w.json", "inter_ocular"), rel=1e-5)


@pytest.mark.slow  # trains with mmengine's Runner
def test_head_and_loss_drop_into_mmpose_resnet_with_gap_neck(fixtures_dir, tmp_path):
    cfg = Config.fromfile(str(CONFIG))
    cfg.model.backbone = dict(type="ResNet", depth=18, out_indices=(0, 1, 2, 3))
    cfg.model.neck = dict(type="GlobalAveragePooling")
    cfg.model.head.in_channels = (64, 128, 256, 512)
    # pooled vectors from the neck: the regressors read them as they are
    cfg.model.head.update(final_input="gap", branch_input="gap", feature_sizes=None)
    cfg.model.head.loss.loss = dict(type="WingLoss", use_target_weight=True)
    cfg.merge_from_dict(fixture_overrides(fixtures_dir / "300w", "test_300w.json", iters=2))
    runner = _run(cfg, tmp_path)
    runner.train()
    logged = runner.message_hub.log_scalars
    assert {f"train/loss_kpt_stage{i}" for i in range(1, 5)} <= set(logged)
    assert "train/loss_kpt" in logged
    seen = record_predictions(runner.val_loop)
    metrics = runner.val_loop.run()
    assert metrics["NME"] == pytest.approx(
        hand_nme(seen, fixtures_dir / "300w" / "test_300w.json", "inter_ocular"), rel=1e-5)
