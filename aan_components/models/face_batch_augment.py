"""``RandomFaceBatchAugment``: random geometric + photometric augmentation of a training batch
on its device, with the regression targets moved exactly as the pixels.

A batch augmentation of MMPose's ``PoseDataPreprocessor`` (``batch_augments=[...]``): it runs
after the crops are normalised on the model's device (or, under
``PixelBatchAugmentPreprocessor``, on their pixels, normalising its own smaller output), so a
pool of crops prepared once (``CropCacheDataset``) yields a new variant of each face every
time it is drawn, at the device's rate, with no loader work.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.structures import InstanceData
from mmpose.registry import MODELS
from torch import Tensor, nn

from aan_core.data.face_augmentation import RandomFaceAugmentation

__all__ = ["RandomFaceBatchAugment"]


@MODELS.register_module()
class RandomFaceBatchAugment(nn.Module):
    """:class:`~aan_core.data.face_augmentation.RandomFaceAugmentation` of a normalised batch.

    The targets are ``RegressionLabel``'s: ``keypoint_labels`` are crop pixel coordinates
    divided by the crop size; they are moved with the image's own affine matrix. A point moved
    outside the crop gets weight 0, as ``RegressionLabel`` gives points outside.

    With ``output_size``, the crops come in wider than the model's input (a crop cache made
    with a larger margin: ``aan_300w_cpu_batchaug.py``) and leave at ``output_size``, labels
    divided by the new size. With ``flip=True``, half the faces are mirrored with their
    left and right landmarks swapped by each sample's ``flip_indices`` (the dataset's, which
    ``PackPoseInputs`` packs by default), as MMPose's ``RandomFlip`` does.

    Args:
        mean: The data preprocessor's ``mean`` (0-255 scale, its channel order).
        std: The data preprocessor's ``std``.
        flip: Mirror half the faces (needs ``flip_indices`` in the samples' metainfo).
        **kwargs: :class:`~aan_core.data.face_augmentation.RandomFaceAugmentation`'s ranges
            and ``output_size``.

    Shape:
        - ``inputs``: :math:`(B, 3, H, W)`, normalised, on any device; to
          :meth:`augment_pixels`, 0-255 in the dataset's channel order, any dtype.
        - each data sample's ``gt_instance_labels.keypoint_labels``: :math:`(1, K, 2)`.
        - output: :math:`(B, 3, H_{out}, W_{out})`, ``output_size`` or ``(H, W)``.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], flip: bool = False,
                 **kwargs) -> None:
        super().__init__()
        self.augment = RandomFaceAugmentation(**kwargs)
        self.flip = flip
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1),
                             persistent=False)

    def forward(self, inputs: Tensor, data_samples: list) -> tuple[Tensor, list]:
        """Augments a normalised batch (``PoseDataPreprocessor``'s output)."""
        # warped as pixels / std (black is 0, as TopdownAffine pads, and the warp commutes
        # with the scaling), then scaled to [0, 1] by std / 255
        return self._augment(inputs.float() + self.mean / self.std, self.std / 255.0, None,
                             inputs.dtype, _channels_last(inputs), data_samples)

    def augment_pixels(self, pixels: Tensor, data_samples: list,
                       bgr_to_rgb: bool = False) -> tuple[Tensor, list]:
        """Augments a batch of pixels (0-255, the dataset's channel order; any dtype) and
        normalises the smaller output: what ``PixelBatchAugmentPreprocessor`` calls, so that
        the wide input is read once instead of normalised first. With ``bgr_to_rgb`` the
        channels are reversed after the warp (which treats every channel alike), before the
        colour change. The result equals :meth:`forward` of the batch as
        ``PoseDataPreprocessor`` (the same ``mean``, ``std`` and ``bgr_to_rgb``) normalises
        it, draw for draw, up to float rounding."""
        return self._augment(pixels.float(), 1 / 255.0, [2, 1, 0] if bgr_to_rgb else None,
                             torch.float32, _channels_last(pixels), data_samples)

    def _augment(self, image: Tensor, to_unit, channels: list[int] | None, dtype: torch.dtype,
                 channels_last: bool, data_samples: list) -> tuple[Tensor, list]:
        """The warp of ``image`` (0 outside the crop), its channels reordered by
        ``channels``, scaled to [0, 1] by ``to_unit``, the colour change, then normalised as
        ``dtype`` (``channels_last`` as the input was); the samples' labels moved with the
        pixels."""
        batch, _, height, width = image.shape
        labels = torch.cat([d.gt_instance_labels.keypoint_labels for d in data_samples])
        labels = labels.to(image.device, torch.float32)
        num_points = labels.shape[-2]
        weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in data_samples])
        image, points, new_weights = self.augment.warp(
            image, labels.view(batch, num_points, 2) * image.new_tensor([width, height]),
            weights.to(image.device, torch.float32).view(batch, num_points),
            flip_indices=self._flip_indices(data_samples, num_points) if self.flip else None)
        if channels is not None:
            image = image[:, channels]
        image = self.augment.photometric((image * to_unit).clamp_(0, 1)).clamp_(0, 1)
        out = ((image * 255.0 - self.mean) / self.std).to(dtype)
        if channels_last:
            out = out.contiguous(memory_format=torch.channels_last)
        new_labels = (points / points.new_tensor(out.shape[:1:-1])).view(batch, 1, num_points, 2)
        for i, sample in enumerate(data_samples):
            old = sample.gt_instance_labels
            fields = {k: old.get(k) for k in old.keys()}  # noqa: SIM118 (not iterable by key)
            fields["keypoint_labels"] = new_labels[i].to(old.keypoint_labels.device)
            fields["keypoint_weights"] = new_weights[i].view_as(old.keypoint_weights).to(
                old.keypoint_weights)
            # a new element: a cached sample (CropCacheDataset) must not be changed in place
            sample.gt_instance_labels = InstanceData(metainfo=old.metainfo, **fields)
        return out, data_samples

    @staticmethod
    def _flip_indices(data_samples: list, num_points: int) -> list[int]:
        indices = data_samples[0].metainfo.get("flip_indices")
        if indices is None or len(indices) != num_points:
            raise ValueError(
                f"RandomFaceBatchAugment(flip=True) needs each sample's flip_indices for its "
                f"{num_points} landmarks (the dataset's metainfo, packed by PackPoseInputs); "
                f"got {indices!r}")
        return list(indices)


def _channels_last(inputs: Tensor) -> bool:
    return inputs.is_contiguous(memory_format=torch.channels_last)
