"""The CPU switch: bf16 autocast on the CPU with the head in fp32 (BF16AutocastOptimWrapper,
run_in_fp32), the thread split (CPUThreadsHook), the decoded-image cache (LoadFaceImage) and
the configs that use them."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import torch
from conftest import REPO
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmpose.registry import HOOKS, MODELS, OPTIM_WRAPPERS, TRANSFORMS
from torch import nn

from aan_components.engine import bf16_autocast_optim_wrapper as wrapper_module
from aan_components.engine.cpu_threads_hook import compute_threads
from aan_core.utils.fp32_modules import run_in_fp32


def test_run_in_fp32_keeps_a_module_fp32_under_autocast():
    """Wrong version caught: the same layer without the hooks computes in bf16."""
    kept, plain = nn.Linear(8, 4), nn.Linear(8, 4)
    handles = run_in_fp32(kept)
    x = torch.randn(2, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert kept(x.bfloat16()).dtype == torch.float32
        assert plain(x).dtype == torch.bfloat16
        after = torch.mm(x, x.T)  # the autocast applies again after the kept module
    assert after.dtype == torch.bfloat16
    for h in handles:
        h.remove()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert kept(x).dtype == torch.bfloat16


def _tiny_pose_model() -> nn.Module:
    stages = (16, 32)
    return MODELS.build(dict(
        type="TopdownPoseEstimator",
        data_preprocessor=dict(type="PoseDataPreprocessor", mean=[0.0] * 3, std=[1.0] * 3),
        backbone=dict(type="AANBackbone", stem_channels=8, stage_channels=stages,
                      out_indices=(0, 1)),
        head=dict(type="CosineEmbeddingHead", in_channels=stages, num_joints=5,
                  embedding_dim=16, final_input="flatten", branch_input="flatten",
                  feature_sizes=[(8, 8), (4, 4)],
                  loss=dict(type="IntermediateSupervisionLoss",
                            loss=dict(type="EuclideanLoss", use_target_weight=True)),
                  decoder=dict(type="RegressionLabel", input_size=(64, 64)))))


def _train_step_dtypes(model: nn.Module, optim: OptimWrapper,
                       loss: bool = True) -> dict[str, torch.dtype]:
    """dtypes seen in one training forward: the backbone's last map, the head's final
    prediction and (``loss``) every loss."""
    from conftest import make_data_samples

    seen: dict[str, torch.dtype] = {}

    def record(name):
        def hook(module, inputs, output):
            seen.setdefault(name, (output[-1] if isinstance(output, tuple) else output).dtype)
        return hook

    model.backbone.register_forward_hook(record("backbone"))
    model.head.regressor.register_forward_hook(record("head"))
    data = dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)
                        for _ in range(2)],
                data_samples=make_data_samples(2, 5))
    with optim.optim_context(model):
        data = model.data_preprocessor(data, True)
        if not loss:
            model.head(model.extract_feat(data["inputs"]))
            return seen
        losses = model._run_forward(data, mode="loss")
    seen["losses"] = {v.dtype for k, v in losses.items() if k.startswith("loss")}
    return seen


@pytest.mark.skipif(not wrapper_module.cpu_supports_bf16(), reason="this CPU has no bf16")
def test_bf16_wrapper_runs_the_backbone_in_bf16_and_the_head_in_fp32():
    model = _tiny_pose_model()
    optim = OPTIM_WRAPPERS.build(dict(type="BF16AutocastOptimWrapper",
                                      optimizer=torch.optim.Adam(model.parameters())))
    seen = _train_step_dtypes(model, optim)
    assert seen["backbone"] == torch.bfloat16
    assert seen["head"] == torch.float32
    assert seen["losses"] == {torch.float32}


@pytest.mark.skipif(not wrapper_module.cpu_supports_bf16(), reason="this CPU has no bf16")
def test_bf16_wrapper_without_fp32_modules_leaves_the_head_in_bf16():
    """The deliberately wrong setting (no fp32 modules) shows what the default prevents."""
    model = _tiny_pose_model()
    optim = OPTIM_WRAPPERS.build(dict(type="BF16AutocastOptimWrapper", fp32_modules=(),
                                      optimizer=torch.optim.Adam(model.parameters())))
    assert _train_step_dtypes(model, optim, loss=False)["head"] == torch.bfloat16


def test_without_the_switch_everything_stays_fp32():
    model = _tiny_pose_model()
    seen = _train_step_dtypes(model, OptimWrapper(torch.optim.Adam(model.parameters())))
    assert seen["backbone"] == seen["head"] == torch.float32


def test_bf16_wrapper_falls_back_to_fp32_with_one_note(monkeypatch):
    monkeypatch.setattr(wrapper_module, "cpu_supports_bf16", lambda: False)
    model = _tiny_pose_model()
    optim = OPTIM_WRAPPERS.build(dict(type="BF16AutocastOptimWrapper",
                                      optimizer=torch.optim.Adam(model.parameters())))
    with pytest.warns(UserWarning, match="no native bf16") as notes:
        seen = _train_step_dtypes(model, optim)
        _train_step_dtypes(model, optim)
    assert len([n for n in notes if "bf16" in str(n.message)]) == 1
    assert seen["backbone"] == torch.float32


def test_bf16_wrapper_trains():
    """A few steps through the real update path lower the loss (fp32 fallback or bf16)."""
    from conftest import make_data_samples

    torch.manual_seed(0)
    model = _tiny_pose_model()
    optim = OPTIM_WRAPPERS.build(dict(
        type="BF16AutocastOptimWrapper",
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)))
    data = dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)
                        for _ in range(4)], data_samples=make_data_samples(4, 5))
    first = last = None
    for _ in range(15):
        log = model.train_step(data, optim_wrapper=optim)
        last = float(log["loss"].detach())
        first = last if first is None else first
    assert np.isfinite(last) and last < first


def test_compute_threads_leaves_a_core_per_loader_worker():
    assert compute_threads(2, 1) == 1
    assert compute_threads(2, 0) == 2
    assert compute_threads(1, 3) == 1
    assert compute_threads(16, 4) == 12


class _Runner:
    def __init__(self, workers: int, device: str = "cpu") -> None:
        self.model = nn.Linear(2, 2).to(device)
        self.cfg = Config(dict(train_dataloader=dict(num_workers=workers)))
        self.logger = type("L", (), {"info": staticmethod(lambda msg: None)})()


@pytest.mark.parametrize("workers, cores, expected", [(1, 2, 1), (0, 2, 2), (2, 8, 6)])
def test_cpu_threads_hook_sets_the_compute_threads(monkeypatch, workers, cores, expected):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    before = torch.get_num_threads()
    try:
        HOOKS.build(dict(type="CPUThreadsHook")).before_run(_Runner(workers))
        assert torch.get_num_threads() == expected
    finally:
        torch.set_num_threads(before)


def test_cpu_threads_hook_respects_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    before = torch.get_num_threads()
    HOOKS.build(dict(type="CPUThreadsHook", threads=5)).before_run(_Runner(0))
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("threads", [0, "all", 1.5])
def test_cpu_threads_hook_refuses_a_bad_setting(threads):
    with pytest.raises(ValueError, match="CPUThreadsHook.threads"):
        HOOKS.build(dict(type="CPUThreadsHook", threads=threads))


def test_load_face_image_cache_serves_copies_without_reading_again(tmp_path):
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), np.full((40, 40, 3), 100, np.uint8))
    cached = TRANSFORMS.build(dict(type="LoadFaceImage", cache_images=True))
    plain = TRANSFORMS.build(dict(type="LoadFaceImage"))
    first = cached(dict(img_path=str(path)))["img"]
    plain(dict(img_path=str(path)))
    first[:] = 0  # a later transform changing the image in place
    path.unlink()
    again = cached(dict(img_path=str(path)))["img"]
    assert again.shape == (40, 40, 3) and int(again.max()) == 100  # the cached, unchanged
    with pytest.raises(Exception, match="face.png"):  # without the cache: read again
        plain(dict(img_path=str(path)))


def test_cpu_configs_carry_the_switch():
    for name in ("aan_synthetic", "aan_300w_cpu", "aan_300w_cpu_aug", "aan_300w_cpu_batchaug"):
        cfg = Config.fromfile(str(REPO / "mm_configs" / f"{name}.py"))
        assert cfg.optim_wrapper.type == "BF16AutocastOptimWrapper", name
        assert cfg.optim_wrapper.optimizer.fused is True, name
        assert cfg.default_hooks.channels_last.type == "ChannelsLastHook", name
        assert cfg.default_hooks.cpu_threads.type == "CPUThreadsHook", name
    for name in ("aan_300w", "aan_300w_gpu", "resnet50-regression_300w"):  # nothing else
        cfg = Config.fromfile(str(REPO / "mm_configs" / f"{name}.py"))
        assert cfg.optim_wrapper.get("type") != "BF16AutocastOptimWrapper", name
        assert "cpu_threads" not in cfg.default_hooks, name


def test_real_face_cpu_configs():
    """The paper-recipe arm serves cached crops (no random transform); the augmented arm
    uses MMPose's own transforms, and both share model (but the augmented recipes' dropped
    attention and their L1 loss), schedule and test split."""
    paper = Config.fromfile(str(REPO / "mm_configs" / "aan_300w_cpu.py"))
    aug = Config.fromfile(str(REPO / "mm_configs" / "aan_300w_cpu_aug.py"))
    batch = Config.fromfile(str(REPO / "mm_configs" / "aan_300w_cpu_batchaug.py"))
    assert paper.train_dataloader.dataset.type == "CropCacheDataset"
    steps = [t["type"] for t in aug.train_dataloader.dataset.pipeline]
    assert {"RandomFlip", "RandomBBoxTransform", "PhotometricDistortion"} <= set(steps)
    for key in ("train_cfg", "param_scheduler", "optim_wrapper", "test_dataloader"):
        assert paper[key] == aug[key], key
    assert aug.model.backbone.attention == batch.model.backbone.attention == "none"
    paper_head = dict(aug.model.head, loss=dict(aug.model.head.loss, loss=dict(
        type="EuclideanLoss", use_target_weight=True)))
    assert paper.model == dict(aug.model, backbone=dict(aug.model.backbone, attention="aan"),
                               head=paper_head)
    assert paper.test_dataloader.dataset.ann_file.endswith("300w_common.json")
    for key in ("train_cfg", "param_scheduler", "optim_wrapper", "test_dataloader"):
        assert paper[key] == batch[key], key
    assert batch.model.backbone == aug.model.backbone
    # L1 at L2's sum-over-coordinates scale: 2 x 68
    for recipe in (aug, batch):
        assert recipe.model.head.loss.loss == dict(type="L1Loss", use_target_weight=True,
                                                   loss_weight=2 * paper.model.head.num_joints)
    assert batch.train_dataloader.num_workers == 0  # the model gets both cores
    assert paper.model.backbone.stage_channels == (64, 128, 256, 512)
