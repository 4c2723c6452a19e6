"""bench/plain_loop.py, cpu_train_speed's plain arm: its step is the Runner's arithmetic and
its crops are MMPose's transforms' crops (the yardstick must differ from the product loop in
overhead only)."""

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO

from bench import cpu_train_speed as speed
from bench import plain_loop

FACES = REPO / "tests" / "data" / "mmpose_face_samples" / "300w"


@pytest.fixture(scope="module")
def small_cfg():
    """aan_300w_cpu_aug.py at 128 px, as the bench builds it, at a small width and batch 4,
    on the two faces of tests/data."""
    from mmengine.registry import init_default_scope

    import aan_components.plugin  # noqa: F401

    init_default_scope("mmpose")
    cfg = speed.build_cfg("real_aug", 128, "plain", speed.tiny_300w_root(), 1)
    cfg.model.backbone.update(stem_channels=8, stage_channels=(16, 32, 64, 128))
    cfg.train_dataloader.batch_size = 4
    return cfg


def _pipeline_batch(cfg):
    """One batch through the config's own MMPose pipeline, collated as the loader does."""
    from mmengine.dataset import pseudo_collate
    from mmpose.registry import DATASETS

    np.random.seed(0)
    dataset = DATASETS.build(copy.deepcopy(plain_loop.train_dataset(cfg)))
    return pseudo_collate([dataset[i % len(dataset)] for i in range(4)])


def _steps(cfg, data, change=None):
    """The Runner's train step and the plain loop's step from the same weights on the same
    batch: (loss, weights) of each. ``change`` edits the plain loop's settings."""
    from mmengine.optim import build_optim_wrapper
    from mmpose.registry import MODELS

    torch.manual_seed(0)
    product = MODELS.build(copy.deepcopy(cfg.model))
    product.init_weights()
    start = copy.deepcopy(product.state_dict())
    product.to(memory_format=torch.channels_last)  # ChannelsLastHook
    product.train()
    wrapper = build_optim_wrapper(product, copy.deepcopy(cfg.optim_wrapper))
    loss_a = float(product.train_step(data, optim_wrapper=wrapper)["loss"].detach())

    settings = plain_loop.plain_settings(cfg)
    if change:
        change(settings)
    plain, optimizer = plain_loop.build_plain_model(cfg, settings)
    plain.load_state_dict(start)
    crops = torch.stack(data["inputs"]).permute(0, 2, 3, 1).numpy()
    labels = torch.cat([d.gt_instance_labels.keypoint_labels for d in data["data_samples"]])
    weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in data["data_samples"]])
    loss_b = plain_loop.plain_step(
        plain, optimizer, plain_loop.normalise(crops, cfg.model.data_preprocessor), labels,
        weights, settings["autocast_bf16"])
    return (loss_a, product.state_dict()), (loss_b, plain.state_dict())


def _same_step(a, b) -> bool:
    (loss_a, sd_a), (loss_b, sd_b) = a, b
    return abs(loss_a - loss_b) <= 1e-6 * abs(loss_a) and all(
        torch.allclose(sd_a[k].float(), sd_b[k].float(), rtol=0, atol=1e-7) for k in sd_a)


def test_plain_settings_are_the_cpu_switch(small_cfg, monkeypatch):
    import os

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    s = plain_loop.plain_settings(small_cfg)
    # the threads CPUThreadsHook gives the model beside the config's one loader worker
    assert small_cfg.train_dataloader.num_workers == 1
    assert s["threads"] == max(1, len(os.sched_getaffinity(0)) - 1)
    assert s["optimizer"] == "Adam" and s["optimizer_args"]["fused"] is True
    assert s["optimizer_args"]["lr"] == 1e-3 and s["optimizer_args"]["weight_decay"] == 1e-3
    assert s["fp32_modules"] == ("head",) and s["channels_last"]
    switched_off = speed.switch_off(copy.deepcopy(small_cfg), loader=False)
    off = plain_loop.plain_settings(switched_off)
    assert not off["autocast_bf16"] and not off["channels_last"] and off["fp32_modules"] == ()
    assert "fused" not in off["optimizer_args"] and off["threads"] is None


def test_plain_step_is_the_runners_step(small_cfg):
    """One step from the same weights on the same batch: the same loss and updated weights
    as mmengine's train_step with the config's optimizer wrapper and channels-last."""
    data = _pipeline_batch(small_cfg)
    assert _same_step(*_steps(small_cfg, data))


def _no_autocast(s):
    s["autocast_bf16"] = False


def _head_in_bf16(s):
    s["fp32_modules"] = ()


def _other_weight_decay(s):
    s["optimizer_args"] = dict(s["optimizer_args"], weight_decay=1e-2)


@pytest.mark.parametrize("change", [_no_autocast, _head_in_bf16, _other_weight_decay])
def test_the_step_check_fails_on_another_setting(small_cfg, change):
    """The comparison above can fail: any one setting changed in the plain loop shows."""
    from aan_components.engine import cpu_supports_bf16

    if change is not _other_weight_decay and not cpu_supports_bf16():
        pytest.skip("without native bf16 both arms train in fp32")
    assert not _same_step(*_steps(small_cfg, _pipeline_batch(small_cfg), change))


def test_crop_is_mmposes_crop():
    """Flip, box shift/zoom/rotation and the affine crop in one warp give MMPose's
    RandomFlip + RandomBBoxTransform + TopdownAffine crop and keypoints for the same draw."""
    import json

    from mmengine.config import Config
    from mmpose.datasets.transforms import (
        GetBBoxCenterScale,
        RandomBBoxTransform,
        RandomFlip,
        TopdownAffine,
    )
    from mmpose.structures.bbox import bbox_xywh2xyxy

    from aan_core.utils.image_file import read_image

    ann = json.loads((FACES / "test_300w.json").read_text())
    img = read_image(str(FACES / ann["images"][0]["file_name"]))
    a = ann["annotations"][0]
    k = np.array(a["keypoints"], np.float32).reshape(1, 68, 3)
    flip_indices = np.random.RandomState(0).permutation(68).tolist()
    face = dict(bbox=bbox_xywh2xyxy(np.array([a["bbox"]], np.float32)),
                keypoints=k[..., :2], keypoints_visible=np.ones((1, 68), np.float32))
    pipeline = Config.fromfile(str(REPO / "mm_configs" / "aan_300w_cpu_aug.py")).train_pipeline
    aug = plain_loop.PlainFaceAugmentation(pipeline, flip_indices)
    draw = np.array([0.7, -0.4, 0.9, -0.6], np.float32)

    box = RandomBBoxTransform(shift_factor=0.06, shift_prob=1.0, scale_factor=(0.9, 1.15),
                              scale_prob=1.0, rotate_factor=25.0, rotate_prob=1.0)
    box._get_transform_params = lambda n: (draw[None, :2] * 0.06,
                                           draw[None, 2:3] * 0.125 + 1.025, draw[None, 3] * 25)
    for flip in (False, True):
        results = dict(img=img.copy(), img_shape=img.shape[:2], flip_indices=flip_indices,
                       **copy.deepcopy(face))
        for t in (GetBBoxCenterScale(), RandomFlip(prob=1.0 if flip else 0.0), box,
                  TopdownAffine(input_size=(128, 128))):
            results = t.transform(results)
        crop, points, _ = aug.crop(img, face, flip, draw, np.zeros(3))
        np.testing.assert_allclose(points, results["transformed_keypoints"][0], atol=1e-3)
        diff = np.abs(crop.astype(int) - results["img"].astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01  # interpolation's rounding


def test_photometric_distortion_is_mmposes():
    """The same random state gives MMPose's PhotometricDistortion's image."""
    from mmpose.datasets.transforms import PhotometricDistortion

    aug = plain_loop.PlainFaceAugmentation(
        [dict(type="TopdownAffine", input_size=(8, 8)), dict(type="PhotometricDistortion")],
        [0])
    img = np.random.RandomState(1).randint(0, 256, (16, 16, 3)).astype(np.uint8)
    for seed in range(12):
        np.random.seed(seed)
        ours = aug.photometric_distortion(img.copy())
        np.random.seed(seed)
        theirs = PhotometricDistortion().transform(dict(img=img.copy()))["img"]
        np.testing.assert_array_equal(ours, theirs)


def test_configs_the_plain_loop_cannot_repeat():
    from mmengine.config import Config

    def why(name):
        return plain_loop.plain_supports(Config.fromfile(str(REPO / "mm_configs" / name)))

    assert why("aan_300w_cpu_aug.py") is None and why("aan_300w_cpu.py") is None
    assert "on the batch" in why("aan_300w_cpu_batchaug.py")
    assert "annotation file" in why("aan_synthetic.py")


def test_switch_vs_plain_row_and_regressor_input_cells():
    arm = dict(runs=[dict(images_per_s=100.0, load_average_before=3.0,
                          load_average_after=4.5)], median_images_per_s=100.0)
    payload = dict(args=dict(note="a training study ran beside it"),
                   environment=dict(cpu_count=2, cpu="x", torch="t", torch_threads=1,
                                    date="2026-12-07 00:00:00", host="h", gpu=None,
                                    python="3"),
                   cells={"real_aug, 128 px, gap inputs": dict(size=128, arms=dict(
                       switch=arm, plain=dict(arm, median_images_per_s=200.0)))})
    table = speed.results_markdown(payload)
    assert "| real_aug, 128 px, gap inputs | switch vs plain |  |  | 0.50x |" in table
    assert "load average around the runs: 3.00-4.50 on 2 CPUs" in table
    assert "a training study ran beside it" in table
    assert speed.cell_name("real_aug, 128 px, gap inputs") == "real_aug"
    # the batch recipe, which the plain loop cannot repeat, against its peer's plain loop
    payload["cells"]["real_batchaug, 128 px, gap inputs"] = dict(size=128, arms=dict(
        switch=dict(arm, median_images_per_s=170.0)))
    table = speed.results_markdown(payload)
    assert "| real_batchaug, 128 px, gap inputs | switch vs real_aug's plain |  |  | 0.85x |" \
        in table
    assert "| real_batchaug, 128 px, gap inputs | switch vs real_aug's switch |  |  | 1.70x |" \
        in table
    cfg = speed.build_cfg("real_aug", 128, "switch", Path("/d"), 3, "gap")
    assert (cfg.model.head.final_input, cfg.model.head.branch_input) == ("gap", "gap")


def test_targets_are_regression_labels():
    """Labels and weights as GenerateTarget's RegressionLabel: coordinates over the crop's
    size, weight 0 for a keypoint outside the crop's pixels or not visible."""
    from mmpose.codecs import RegressionLabel

    aug = plain_loop.PlainFaceAugmentation(
        [dict(type="GetBBoxCenterScale"), dict(type="TopdownAffine", input_size=(128, 128))],
        [0, 1, 2, 3])
    face = dict(bbox=np.array([[64 - 51.2, 64 - 51.2, 64 + 51.2, 64 + 51.2]]),
                keypoints=np.array([[[127.5, 10.0], [126.5, 10.0], [-0.5, 10.0],
                                     [30.0, 40.0]]]),
                keypoints_visible=np.array([[1.0, 1.0, 1.0, 0.0]]))
    _, labels, weights = aug(np.zeros((128, 128, 3), np.uint8), face)
    _, points, visible = aug.crop(np.zeros((128, 128, 3), np.uint8), face, False,
                                  np.zeros(4, np.float32), np.ones(3))
    expected = RegressionLabel(input_size=(128, 128)).encode(points[None], visible[None])
    np.testing.assert_allclose(labels, expected["keypoint_labels"][0], atol=1e-6)
    assert weights.tolist() == expected["keypoint_weights"][0].tolist() == [0, 1, 0, 0]


def test_plain_data_follows_the_configs_caches(small_cfg):
    """Images kept only where LoadFaceImage keeps them; a crop-cached config's crops made
    once, before the loop, and served unchanged."""
    from mmengine.config import Config

    data = plain_loop.PlainFaceData(small_cfg)  # cache_images=True
    crops, labels, weights = data.batch(4)
    assert crops.shape == (4, 128, 128, 3) and labels.shape == (4, 68, 2)
    assert data.crops is None and len(data.images) == 2
    cfg = Config.fromfile(str(REPO / "mm_configs" / "aan_300w_cpu.py"))
    cfg.train_dataloader.dataset.dataset.data_root = small_cfg.train_dataloader.dataset.data_root
    cached = plain_loop.PlainFaceData(cfg)
    assert len(cached.crops) == 2 and cached.images == {}  # LoadFaceImage without the cache
    first, _, _ = cached.batch(2)
    again, _, _ = cached.batch(2)
    assert sorted(map(bytes, first)) == sorted(map(bytes, again))
