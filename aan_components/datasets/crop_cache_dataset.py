"""``CropCacheDataset``: run a deterministic training pipeline once per face, keep the crops.

The paper trains without data augmentation, so a face's crop, target and data sample never
change between epochs: decoding the image and warping it again every iteration only costs
time (on a GPU, the loader becomes the bottleneck). This wrapper (an mmengine dataset wrapper,
like ``RepeatDataset``) runs the wrapped dataset's pipeline once per sample when it is built
and serves the packed results from memory: the crops as one ``uint8`` tensor in host memory
or on the GPU, the ``PoseDataSample`` of each face as it came out of ``PackPoseInputs``.

The cache lives in the process that built it and is rebuilt by every run from the current
pipeline and files, so an edited pipeline, annotation file or image can never be served
stale. Pipelines with random transforms are refused (their output differs every epoch).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from mmengine.dataset import BaseDataset
from mmpose.registry import DATASETS
from torch.utils.data import DataLoader, Dataset

__all__ = ["CropCacheDataset", "random_transforms"]

# Transforms of MMPose / mmcv whose output is random but whose name does not say "Random".
_RANDOM_TRANSFORMS = frozenset({"Albumentation", "PhotometricDistortion", "YOLOXHSVRandomAug"})


def random_transforms(pipeline: Sequence[dict] | None) -> list[str]:
    """Names of the transforms in a pipeline config whose output is random.

    Args:
        pipeline: A pipeline config (a list of transform dicts) or ``None``.

    Returns:
        The ``type`` of each random transform, in pipeline order (empty: deterministic).
    """
    names = []
    for t in pipeline or ():
        name = t.get("type", "") if isinstance(t, dict) else type(t).__name__
        name = name if isinstance(name, str) else getattr(name, "__name__", str(name))
        name = name.split(".")[-1]
        if "Random" in name or name in _RANDOM_TRANSFORMS:
            names.append(name)
    return names


class _PreparedSamples(Dataset):
    """The wrapped dataset's ``prepare_data`` (no retry on a skipped sample), for workers."""

    def __init__(self, dataset: BaseDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int):
        return idx, self.dataset.prepare_data(idx)


def _first(batch):
    return batch[0]


@DATASETS.register_module()
class CropCacheDataset:
    """Serves each face's packed pipeline output from memory, computed once.

    Args:
        dataset: The dataset to cache (a config dict or a built dataset) whose pipeline ends
            with ``PackPoseInputs`` and has no random transform.
        device: Where the crops live: ``'cpu'`` (host memory, pinned when CUDA is there) or
            ``'cuda'`` (the current GPU; then use ``num_workers=0`` in the dataloader: a
            worker process cannot hand out GPU tensors).
        num_workers: Processes that run the pipeline while the cache is built (0: here).
        lazy_init: Build the cache at ``full_init`` (the runner calls it) instead of now.

    Shape:
        - ``self[i]['inputs']``: :math:`(3, H, W)`, ``uint8``, on ``device``.

    Example (a config's training set; mm_configs/aan_300w_gpu.py)::

        dataset=dict(type='CropCacheDataset', device='cuda', num_workers=8,
                     dataset=dict(type='Face300WDataset', pipeline=train_pipeline, ...))
    """

    def __init__(self, dataset: dict | BaseDataset, device: str = "cpu", num_workers: int = 0,
                 lazy_init: bool = False) -> None:
        if isinstance(dataset, dict):
            random = random_transforms(dataset.get("pipeline"))
            dataset = DATASETS.build(dict(dataset, lazy_init=lazy_init))
        else:
            random = random_transforms(getattr(dataset.pipeline, "transforms", ()))
        if random:
            raise ValueError(
                f"CropCacheDataset: the pipeline has random transforms ({', '.join(random)}); "
                "a cached crop would repeat one draw every epoch. Remove them, or train "
                "without the crop cache")
        self.dataset = dataset
        self.device = torch.device(device)
        self.num_workers = num_workers
        self._metainfo = dataset.metainfo
        self._fully_initialized = False
        self.inputs: torch.Tensor | None = None
        self.data_samples: list = []
        self.indices: list[int] = []  # index in the wrapped dataset of each cached sample
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """The wrapped dataset's metainfo."""
        return dict(self._metainfo)

    def full_init(self) -> None:
        """Run the pipeline on every sample once and keep the results."""
        if self._fully_initialized:
            return
        self.dataset.full_init()
        loader = DataLoader(_PreparedSamples(self.dataset), batch_size=1, shuffle=False,
                            num_workers=self.num_workers, collate_fn=_first)
        crops, skipped = [], []
        for idx, packed in loader:
            if packed is None:  # e.g. LoadFaceImage(on_error='skip') on an unreadable image
                skipped.append(idx)
                continue
            inputs = packed["inputs"]
            if not isinstance(inputs, torch.Tensor) or inputs.dtype != torch.uint8:
                raise ValueError(
                    "CropCacheDataset: the pipeline must end with PackPoseInputs and give "
                    f"uint8 image tensors, got {type(inputs).__name__} "
                    f"{getattr(inputs, 'dtype', '')}")
            crops.append(inputs)
            sample = packed["data_samples"]
            # on the GPU, its label tensors too: no per-step host-to-device copies
            self.data_samples.append(sample if self.device.type == "cpu" else
                                     sample.to(self.device))
            self.indices.append(idx)
        if skipped:
            warnings.warn(f"CropCacheDataset: {len(skipped)} of {len(self.dataset)} samples "
                          f"gave no result and are left out (indices {skipped[:10]}...)",
                          stacklevel=2)
        if not crops:
            raise ValueError("CropCacheDataset: no sample of the dataset could be prepared")
        inputs = torch.stack(crops)
        if self.device.type == "cpu" and torch.cuda.is_available():
            inputs = inputs.pin_memory()
        self.inputs = inputs.to(self.device)
        self._fully_initialized = True

    def __len__(self) -> int:
        if not self._fully_initialized:
            self.full_init()
        return len(self.indices)

    def get_data_info(self, idx: int) -> dict:
        """The wrapped dataset's annotation of cached sample ``idx``."""
        return self.dataset.get_data_info(self.indices[idx])

    def __getitem__(self, idx: int) -> dict:
        if not self._fully_initialized:
            self.full_init()
        return dict(inputs=self.inputs[idx], data_samples=self.data_samples[idx])
