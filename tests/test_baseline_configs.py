"""MMPose's own face models as shipped child configs (``mm_configs/baselines/``): each stands
on MMPose's installed config (``mmpose::``), has 300W's 68 points, flip pairs, data and AAN's
metric, the CPU switch, and trains a step and tests on the real 300W fixture."""

from __future__ import annotations

import math
from pathlib import Path

import mmpose
import pytest
from conftest import REPO
from fixture_nme import hand_nme, record_predictions
from fixture_runs import fixture_overrides
from mmengine.config import Config
from mmengine.runner import Runner

BASELINE_DIR = REPO / "mm_configs" / "baselines"
# config -> (MMPose's config it stands on, its head)
PEERS = {
    "hrnetv2-w18_300w_cpu": (
        "face_2d_keypoint/topdown_heatmap/300w/td-hm_hrnetv2-w18_8xb64-60e_300w-256x256.py",
        "HeatmapHead"),
    "resnet50-rle_300w_cpu": (
        "body_2d_keypoint/topdown_regression/coco/td-reg_res50_rle-8xb64-210e_coco-256x192.py",
        "RLEHead"),
    "resnet50-softwing_300w_cpu": (
        "face_2d_keypoint/topdown_regression/wflw/"
        "td-reg_res50_softwingloss_8xb64-210e_wflw-256x256.py", "RegressionHead"),
    "rtmpose-m_300w_cpu": (
        "face_2d_keypoint/rtmpose/wflw/rtmpose-m_8xb64-60e_wflw-256x256.py", "RTMCCHead"),
    "rtmpose-s_300w_cpu": (
        "face_2d_keypoint/rtmpose/face6/rtmpose-s_8xb256-120e_face6-256x256.py", "RTMCCHead"),
}
# the peers whose model and pipeline need the full-mmcv stack (mmdet's CSPNeXt needs mmcv's
# compiled ops, the Albumentation step albumentations<2): built only there
FULL_STACK_PEERS = ("rtmpose-m_300w_cpu", "rtmpose-s_300w_cpu")
# the configs installed with mmpose (what ``mmpose::`` names)
MMPOSE_CONFIGS = Path(mmpose.__file__).parent / ".mim" / "configs"
# AAN's CPU recipe: the arm the peers are compared with
AAN_CPU = "aan_300w_cpu_aug"


def load(name: str) -> Config:
    return Config.fromfile(str(BASELINE_DIR / f"{name}.py"))


def mmpose_300w_flip_indices() -> list[int]:
    """300W's flip pairs as MMPose's dataset meta file declares them."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    return list(parse_pose_metainfo(dict(from_file="configs/_base_/datasets/300w.py"))
                ["flip_indices"])


def unscoped(cfg: dict) -> dict:
    """``cfg`` without the ``_scope_`` key that building a registry object adds to it."""
    return {k: v for k, v in cfg.items() if k != "_scope_"}


def _built(names):
    """``names`` as test parameters, those of ``FULL_STACK_PEERS`` skipped (with the reason)
    on a stack that lacks what they need."""
    from bench.peers_real_300w import full_stack_missing

    missing = full_stack_missing()
    skip = pytest.mark.skipif(bool(missing), reason=f"needs the full-mmcv stack (this one "
                                                    f"lacks {' and '.join(missing)})")
    return [pytest.param(n, marks=skip) if n in FULL_STACK_PEERS else n for n in names]


def test_the_shipped_peers():
    assert sorted(p.stem for p in BASELINE_DIR.glob("*.py")) == sorted(PEERS)


@pytest.mark.parametrize("name", sorted(PEERS))
def test_stands_on_mmposes_installed_config(name):
    """The child's base is MMPose's own config (``mmpose::``), and it keeps that config's
    head and loss. Wrong input caught: a copy of MMPose's config instead of a child of it."""
    base, head = PEERS[name]
    text = (BASELINE_DIR / f"{name}.py").read_text()
    assert f"_base_ = ['mmpose::{base.rsplit('/', 1)[0]}/'" in text.replace("\n", "")
    assert base.rsplit("/", 1)[1] in text
    mmpose_cfg = Config.fromfile(str(MMPOSE_CONFIGS / base))
    cfg = load(name)
    assert cfg.model.head.type == mmpose_cfg.model.head.type == head
    assert cfg.model.head.loss == mmpose_cfg.model.head.loss
    assert cfg.model.backbone.type == mmpose_cfg.model.backbone.type
    assert cfg.model.test_cfg == mmpose_cfg.model.test_cfg  # its flip test


@pytest.mark.parametrize("name", _built(sorted(PEERS)))
def test_300w_points_flip_pairs_data_and_metric(name, fixtures_dir):
    """68 points, MMPose's 300W flip pairs on the built datasets, AAN's CPU recipe's data
    files, batch and evaluators, one crop size through codec and pipelines, the CPU switch,
    no download, and the last checkpoint. Wrong input caught: WFLW's 98 points, WFLW's flip
    pairs (``metainfo``), a pipeline left at the base's 256 px crop, the base's NME metric."""
    from mmpose.registry import DATASETS

    cfg, aan = load(name), Config.fromfile(str(REPO / "mm_configs" / f"{AAN_CPU}.py"))
    head = cfg.model.head
    assert head.get("num_joints", head.get("out_channels")) == 68
    for split in ("train", "test"):
        ds_cfg = cfg[f"{split}_dataloader"].dataset
        assert ds_cfg.ann_file == aan[f"{split}_dataloader"].dataset.ann_file
        dataset = DATASETS.build(dict(ds_cfg, data_root=str(fixtures_dir / "300w"),
                                      ann_file="test_300w.json", data_prefix=dict(img="")))
        assert dataset.metainfo["num_keypoints"] == 68
        assert list(dataset.metainfo["flip_indices"]) == mmpose_300w_flip_indices()
        assert len(dataset) == 2
    assert cfg.test_evaluator == aan.test_evaluator
    assert cfg.train_dataloader.batch_size == aan.train_dataloader.batch_size
    size = tuple(cfg.codec.input_size)
    assert size == tuple(aan.input_size)
    assert tuple(head.decoder.input_size) == size
    for pipeline in (cfg.train_dataloader.dataset.pipeline, cfg.test_dataloader.dataset.pipeline):
        assert [tuple(t.input_size) for t in pipeline if t.type == "TopdownAffine"] == [size]
    (target,) = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == "GenerateTarget"]
    assert unscoped(target.encoder) == unscoped(cfg.codec)
    assert cfg.optim_wrapper.type == "BF16AutocastOptimWrapper"
    assert {"channels_last", "cpu_threads"} <= set(cfg.default_hooks)
    assert cfg.model.backbone.init_cfg is None
    assert cfg.default_hooks.checkpoint.get("save_best") is None
    assert cfg.train_cfg.val_interval >= cfg.train_cfg.max_iters


@pytest.mark.parametrize("name", _built(sorted(PEERS)))
def test_trains_a_step_and_tests_on_the_300w_fixture(name, fixtures_dir, tmp_path):
    """One training step with a finite loss (the CPU switch on), then the test pipeline and
    AAN's metric on the real fixture faces: the NME equals the one computed by hand from the
    json. Wrong input caught: a head of 98 points (the step fails on the 68-point targets)."""
    cfg = load(name)
    cfg.merge_from_dict(fixture_overrides(fixtures_dir / "300w", "test_300w.json", iters=1))
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert math.isfinite(runner.message_hub.get_scalar("train/loss").current())
    assert (tmp_path / "iter_1.pth").is_file()
    seen = record_predictions(runner.test_loop)
    metrics = runner.test()
    assert metrics["NME"] == pytest.approx(
        hand_nme(seen, fixtures_dir / "300w" / "test_300w.json", "inter_ocular"), rel=1e-5)
    for key in ("inter_pupil/NME", "AUC@0.08", "FR@0.1"):
        assert math.isfinite(metrics[key]), key
