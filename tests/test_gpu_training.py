"""The GPU switch (mm_configs/aan_300w_gpu.py): crop cache, bf16 AMP wrapper, channels-last.

AMP and the GPU-resident cache need CUDA; here the config is checked to build the right
wrapper, and the crop-cache path trains a few iterations on the CPU.
"""

from __future__ import annotations

import shutil
from copy import deepcopy

import cv2
import numpy as np
import pytest
import torch
from conftest import REPO
from mmengine.config import Config

GPU_CONFIG = str(REPO / "mm_configs" / "aan_300w_gpu.py")


def _train_dataset_cfg(data_root, input_size=(256, 256)) -> dict:
    cfg = Config.fromfile(GPU_CONFIG)
    ds = deepcopy(cfg.train_dataloader.dataset.dataset.to_dict())
    ds.update(data_root=str(data_root), ann_file="test_300w.json", data_prefix=dict(img=""))
    for t in ds["pipeline"]:
        if t["type"] == "TopdownAffine":
            t["input_size"] = input_size
    return ds


def _assert_same_sample(cached: dict, fresh: dict) -> None:
    assert torch.equal(cached["inputs"], fresh["inputs"])
    a, b = cached["data_samples"], fresh["data_samples"]
    for name in ("gt_instances", "gt_instance_labels"):
        x, y = a.get(name), b.get(name)
        assert set(x.keys()) == set(y.keys()) and "keypoints" in set(a.gt_instances.keys())
        for field in x.keys():  # noqa: SIM118 (a data element iterates values, not keys)
            np.testing.assert_array_equal(np.asarray(x.get(field)), np.asarray(y.get(field)))
    assert a.metainfo.keys() == b.metainfo.keys()
    assert a.img_path == b.img_path and a.id == b.id


@pytest.mark.parametrize("num_workers", [0, 2])
def test_crop_cache_serves_what_the_uncached_pipeline_gives(fixtures_dir, num_workers):
    """Each cached sample equals the pipeline's output for the same index (catches samples
    served in another order than the wrapped dataset's, e.g. by the build workers, or a
    crop cast to another dtype)."""
    from mmpose.registry import DATASETS

    ds_cfg = _train_dataset_cfg(fixtures_dir / "300w")
    cache = DATASETS.build(dict(type="CropCacheDataset", dataset=ds_cfg,
                                num_workers=num_workers))
    plain = DATASETS.build(ds_cfg)
    assert len(cache) == len(plain) == 2
    assert cache.inputs.dtype == torch.uint8 and cache.inputs.shape == (2, 3, 256, 256)
    assert cache.metainfo["dataset_name"] == plain.metainfo["dataset_name"]
    for i in range(len(plain)):
        _assert_same_sample(cache[i], plain[i])
    assert not torch.equal(cache[0]["inputs"], cache[1]["inputs"])


def test_crop_cache_is_rebuilt_from_the_current_pipeline_and_files(fixtures_dir, tmp_path):
    """A new cache reflects an edited image and an edited pipeline (catches a cache reused
    across builds: it would serve the old crop and the old crop size)."""
    from mmpose.registry import DATASETS

    data = tmp_path / "300w"
    shutil.copytree(fixtures_dir / "300w", data)
    before = DATASETS.build(dict(type="CropCacheDataset", dataset=_train_dataset_cfg(data)))
    image = sorted(data.glob("*.png"))[0]
    cv2.imwrite(str(image), 255 - cv2.imread(str(image)))  # the data changes
    after = DATASETS.build(dict(type="CropCacheDataset", dataset=_train_dataset_cfg(data)))
    plain = DATASETS.build(_train_dataset_cfg(data))
    changed = [i for i in range(2) if not torch.equal(before[i]["inputs"], after[i]["inputs"])]
    assert len(changed) == 1
    for i in range(2):
        _assert_same_sample(after[i], plain[i])
    smaller = DATASETS.build(dict(type="CropCacheDataset",  # the pipeline changes
                                  dataset=_train_dataset_cfg(data, input_size=(128, 128))))
    assert smaller.inputs.shape == (2, 3, 128, 128)


def test_crop_cache_refuses_a_random_pipeline(fixtures_dir):
    from mmpose.registry import DATASETS

    ds_cfg = _train_dataset_cfg(fixtures_dir / "300w")
    ds_cfg["pipeline"].insert(2, dict(type="RandomFlip", direction="horizontal"))
    with pytest.raises(ValueError, match="random transforms \\(RandomFlip\\)"):
        DATASETS.build(dict(type="CropCacheDataset", dataset=ds_cfg))


def test_gpu_config_builds_bf16_amp_and_fused_adam(monkeypatch):
    """The switch gives mmengine's AmpOptimWrapper in bf16 around a fused Adam with the
    paper's lr and weight decay (AmpOptimWrapper refuses to build without CUDA, so its CUDA
    check is stubbed here)."""
    from mmengine.optim import AmpOptimWrapper, build_optim_wrapper
    from mmengine.optim.optimizer import amp_optimizer_wrapper

    cfg = Config.fromfile(GPU_CONFIG)
    monkeypatch.setattr(amp_optimizer_wrapper, "is_cuda_available", lambda: True)
    model = torch.nn.Conv2d(3, 4, 3)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert isinstance(wrapper, AmpOptimWrapper)
    assert wrapper.cast_dtype == torch.bfloat16
    assert not wrapper.loss_scaler.is_enabled()  # bf16 needs no loss scaling
    assert type(wrapper.optimizer) is torch.optim.Adam
    group = wrapper.optimizer.param_groups[0]
    assert group["fused"] is True and group["lr"] == 1e-3 and group["weight_decay"] == 1e-3
    base = Config.fromfile(str(REPO / "mm_configs" / "aan_300w.py"))
    assert "type" not in base.optim_wrapper  # without the switch: mmengine's OptimWrapper
    assert "channels_last" not in base.default_hooks


@pytest.mark.slow  # trains with mmengine's Runner
def test_crop_cache_path_trains_on_cpu(fixtures_dir, tmp_path):
    """Three iterations of the GPU config on the CPU: crops from the cache (host memory),
    channels-last weights, fused Adam; only AMP is off (it needs CUDA)."""
    from mmengine.runner import Runner

    cfg = Config.fromfile(GPU_CONFIG)
    cfg.merge_from_dict({
        "optim_wrapper.type": "OptimWrapper",
        "train_cfg.max_iters": 3, "train_cfg.val_interval": 100,
        "default_hooks.checkpoint.interval": 3, "default_hooks.logger.interval": 1,
        "train_dataloader.batch_size": 2,
        "train_dataloader.dataset.device": "cpu",
        "train_dataloader.dataset.num_workers": 0,
    })
    cfg.optim_wrapper.pop("dtype")
    cfg.optim_wrapper.pop("loss_scale")
    cfg.train_dataloader.dataset.dataset.update(
        data_root=str(fixtures_dir / "300w"), ann_file="test_300w.json",
        data_prefix=dict(img=""))
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    conv = runner.model.backbone.features.stem[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert runner.iter == 3 and (tmp_path / "iter_3.pth").is_file()
    assert type(runner.train_dataloader.dataset).__name__ == "CropCacheDataset"


def test_aan_check_reads_the_annotations_inside_the_crop_cache(fixtures_dir, tmp_path):
    """`aan check` looks through the dataset wrapper at the wrapped dataset's files (catches
    a check that only read `train_dataloader.dataset.ann_file`, absent on a wrapper, and so
    passed a missing training annotation file)."""
    from aan_components.datasets import AnnotationError
    from aan_components.tools.check import check_config

    f = fixtures_dir / "300w"
    opts = {f"{s}_dataloader.dataset.{k}": v for s in ("val", "test") for k, v in
            (("data_root", str(f)), ("ann_file", "test_300w.json"), ("data_prefix.img", ""))}
    inner = "train_dataloader.dataset.dataset"
    opts.update({f"{inner}.data_root": str(f), f"{inner}.ann_file": "test_300w.json",
                 f"{inner}.data_prefix.img": ""})
    summary = check_config(GPU_CONFIG, opts, True)
    assert summary["train"]["faces"] == 2
    opts[f"{inner}.ann_file"] = str(tmp_path / "missing.json")
    with pytest.raises(AnnotationError, match="missing.json"):
        check_config(GPU_CONFIG, opts, False)
