"""RTMPose-m and RTMPose-s as CPU peers (``mm_configs/baselines/rtmpose-{m,s}_300w_cpu.py``):
MMPose's own face recipes kept (optimizer, warm-up, cosine and second stage at the same
fractions of training, EMA, both augmentation stages), the SimCC codec scaled with the crop;
on the full-mmcv stack, both stages train on the fixture and the equal-time study's tiny run
takes them. The checks every peer shares are tests/test_baseline_configs.py's."""

from __future__ import annotations

import math

import pytest
from conftest import REPO
from fixture_runs import fixture_overrides
from mmengine.config import Config
from mmengine.runner import Runner
from study_runs import calibrated_runs, tiny_study
from test_baseline_configs import MMPOSE_CONFIGS, unscoped

from bench import peers_real_300w as peers

# peer -> MMPose's config it stands on (face recipes: WFLW's RTMPose-m, face6's RTMPose-s)
RECIPES = {
    "rtmpose-m_300w_cpu": "face_2d_keypoint/rtmpose/wflw/rtmpose-m_8xb64-60e_wflw-256x256.py",
    "rtmpose-s_300w_cpu": "face_2d_keypoint/rtmpose/face6/rtmpose-s_8xb256-120e_face6-256x256.py",
}
MISSING = peers.full_stack_missing()
FULL_STACK = pytest.mark.skipif(
    bool(MISSING), reason=f"RTMPose needs the full-mmcv stack (this one lacks "
                          f"{' and '.join(MISSING)}; scripts/setup_full_mmcv.sh)")


def _load(name: str) -> tuple[Config, Config]:
    """The peer and MMPose's config it stands on."""
    return (Config.fromfile(str(REPO / "mm_configs" / "baselines" / f"{name}.py")),
            Config.fromfile(str(MMPOSE_CONFIGS / RECIPES[name])))


def _as_peer_pipeline(pipeline: list, size: tuple[int, int]) -> list[dict]:
    """MMPose's training pipeline as the peer's must read: AAN's cached loader for
    ``LoadImage``, no ``RandomHalfBody`` (a body's), the peer's crop size; the codec aside."""
    out = []
    for t in pipeline:
        t = unscoped(dict(t))
        if t["type"] == "LoadImage":
            t = dict(type="LoadFaceImage", on_error="skip", cache_images=True)
        elif t["type"] == "RandomHalfBody":
            continue
        elif t["type"] == "TopdownAffine":
            t["input_size"] = size
        elif t["type"] == "GenerateTarget":
            t.pop("encoder")
        out.append(t)
    return out


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_keeps_mmposes_face_recipe(name):
    """AdamW as shipped (learning rate, weight decay, no decay on norms and biases, the
    clipping), the 1,000-iteration warm-up, the cosine from MMPose's epoch fraction to the
    end and to its floor, the EMA, the head and loss, both augmentation stages, the second
    from MMPose's epoch fraction. Wrong input caught: the cosine over the whole run, the
    second stage at the base's epoch number read as an iteration, a stage-1 pipeline in
    stage 2."""
    cfg, mmpose_cfg = _load(name)
    length = cfg.train_cfg.max_iters
    epochs = mmpose_cfg.train_cfg.max_epochs
    shipped_opt = dict(mmpose_cfg.optim_wrapper)
    assert cfg.optim_wrapper.optimizer == dict(shipped_opt["optimizer"], fused=True)
    assert cfg.optim_wrapper.paramwise_cfg == shipped_opt["paramwise_cfg"]
    assert cfg.optim_wrapper.get("clip_grad") == shipped_opt.get("clip_grad")
    warmup, cosine = cfg.param_scheduler
    shipped_warmup, shipped_cosine = mmpose_cfg.param_scheduler
    assert dict(warmup) == dict(shipped_warmup)  # iterations in MMPose's config too
    assert cosine.type == "CosineAnnealingLR" and not cosine.by_epoch
    assert cosine.eta_min == shipped_cosine.eta_min
    assert cosine.begin / length == shipped_cosine.begin / epochs
    assert cosine.end == length and cosine.T_max == length - cosine.begin
    ema, switch = cfg.custom_hooks[:2]
    shipped_ema, shipped_switch = mmpose_cfg.custom_hooks
    assert ema == shipped_ema
    assert switch.type == "IterPipelineSwitchHook"
    assert switch.switch_iter / length == shipped_switch.switch_epoch / epochs
    size = tuple(cfg.codec.input_size)
    for pipeline, shipped in ((cfg.train_dataloader.dataset.pipeline,
                               mmpose_cfg.train_dataloader.dataset.pipeline),
                              (switch.switch_pipeline, shipped_switch.switch_pipeline)):
        assert _as_peer_pipeline(pipeline, size) == _as_peer_pipeline(shipped, size)
        (target,) = [t for t in pipeline if t.type == "GenerateTarget"]
        assert unscoped(target.encoder) == unscoped(cfg.codec)
    head, shipped_head = cfg.model.head, mmpose_cfg.model.head
    for key in ("in_channels", "final_layer_kernel_size", "gau_cfg", "loss",
                "simcc_split_ratio"):
        assert head[key] == shipped_head[key], key
    backbone = dict(cfg.model.backbone, norm_cfg=None, init_cfg=None)
    assert backbone == dict(mmpose_cfg.model.backbone, norm_cfg=None, init_cfg=None)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_simcc_label_scaled_with_the_crop(name):
    """128 px crops: the SimCC sigma halved with the crop (the label as wide against the
    face as MMPose's at 256 px), the split ratio kept, the head's input map 128 / 32.
    Wrong input caught: the shipped 5.66 px sigma at 128 px, the 8 x 8 map of 256 px."""
    cfg, mmpose_cfg = _load(name)
    size, shipped_size = cfg.codec.input_size, mmpose_cfg.codec.input_size
    assert tuple(size) == (128, 128)
    for axis in (0, 1):
        assert cfg.codec.sigma[axis] / size[axis] == pytest.approx(
            mmpose_cfg.codec.sigma[axis] / shipped_size[axis], rel=1e-3)
    assert cfg.codec.simcc_split_ratio == mmpose_cfg.codec.simcc_split_ratio
    assert tuple(cfg.model.head.in_featuremap_size) == (size[0] // 32, size[1] // 32)
    assert tuple(cfg.model.head.input_size) == tuple(size)


@FULL_STACK
@pytest.mark.parametrize("name", sorted(RECIPES))
def test_both_stages_train_on_the_300w_fixture(name, fixtures_dir, tmp_path):
    """Two iterations, the second on the milder second stage (YOLOX's HSV jitter and the
    Albumentation blur and cut-out in both), with a finite loss and the EMA weights kept."""
    cfg, _ = _load(name)
    cfg.merge_from_dict(fixture_overrides(fixtures_dir / "300w", "test_300w.json", iters=2))
    cfg.custom_hooks[1].switch_iter = 1
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    switch = next(h for h in runner.hooks if type(h).__name__ == "IterPipelineSwitchHook")
    assert switch.switched
    assert math.isfinite(runner.message_hub.get_scalar("train/loss").current())
    assert any(type(h).__name__ == "EMAHook" for h in runner.hooks)


@FULL_STACK
@pytest.mark.slow
def test_tiny_study_with_the_rtmpose_arms():
    """The equal-time study on the full-mmcv stack: every arm calibrated, AAN and both
    RTMPose arms trained to their calibrated iterations, every arm's inference."""
    payload, _ = tiny_study("peers_real_300w", "--arms", "aan", "rtmpose-m", "rtmpose-s")
    calibrated_runs(payload, peers.ARMS, ("aan", "rtmpose-m", "rtmpose-s"))
    rows = {r["arm"]: r for r in payload["inference"]["rows"]}
    assert set(rows) == set(peers.ARMS)
    assert rows["rtmpose-m"]["params_m"] > rows["rtmpose-s"]["params_m"]
    assert rows["rtmpose-m"]["flip_test"] and rows["rtmpose-s"]["weights"] != "initial (no run)"
