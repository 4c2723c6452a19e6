"""``RandomFaceBatchAugment``: random geometric + photometric augmentation of a training batch
on its device, with the regression targets moved exactly as the pixels.

A batch augmentation of MMPose's ``PoseDataPreprocessor`` (``batch_augments=[...]``): it runs
after the crops are normalised on the model's device, so a pool of crops prepared once
(``CropCacheDataset``) yields a new variant of each face every time it is drawn, at the
device's rate, with no loader work. Built on kornia's ``AugmentationSequential``, which warps
images and keypoints with the same matrix.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.structures import InstanceData
from mmpose.registry import MODELS
from torch import Tensor, nn

__all__ = ["RandomFaceBatchAugment"]


@MODELS.register_module()
class RandomFaceBatchAugment(nn.Module):
    """Random affine (rotation, scale, shift) + colour, gamma, blur and noise, per sample.

    The targets are ``RegressionLabel``'s: ``keypoint_labels`` are crop pixel coordinates
    divided by the crop size. They are transformed with the image's own affine matrix
    (pixel centres at integer coordinates, as OpenCV and MMPose's ``TopdownAffine``); a
    point moved outside the crop gets weight 0, as ``RegressionLabel`` gives points outside.
    No flip (it would also have to swap left and right landmarks).

    Args:
        mean: The data preprocessor's ``mean`` (0-255 scale, its channel order).
        std: The data preprocessor's ``std``.
        degrees: Rotation range, +- degrees.
        translate: Shift range, a fraction of the crop side.
        scale: Zoom range ``(min, max)``.
        color: ColorJiggle's brightness, contrast, saturation, hue. Saturation and hue are
            off by default: they go through HSV, 10x the cost of the rest on a CPU.
        color_p: Probability of the colour change.
        gamma: Gamma range ``(min, max)``, applied with probability 0.5.
        blur_p: Probability of a Gaussian blur (sigma 0.1-1.5 px).
        noise_std: Standard deviation of Gaussian noise (0-1 image scale), probability 0.5.

    Shape:
        - ``inputs``: :math:`(B, 3, H, W)`, normalised, on any device.
        - each data sample's ``gt_instance_labels.keypoint_labels``: :math:`(1, K, 2)`.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], degrees: float = 20.0,
                 translate: float = 0.06, scale: tuple[float, float] = (0.9, 1.1),
                 color: tuple[float, float, float, float] = (0.3, 0.3, 0.0, 0.0),
                 color_p: float = 0.8, gamma: tuple[float, float] = (0.7, 1.4),
                 blur_p: float = 0.2, noise_std: float = 0.03) -> None:
        super().__init__()
        try:
            import kornia.augmentation as K
        except ImportError as e:  # an optional dependency: only this augmentation needs it
            raise ImportError("RandomFaceBatchAugment needs kornia: pip install kornia") from e
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1),
                             persistent=False)
        self.geometric = K.AugmentationSequential(
            K.RandomAffine(degrees=degrees, translate=(translate, translate), scale=scale,
                           p=1.0, align_corners=True),
            data_keys=["input", "keypoints"])
        photometric = [K.ColorJiggle(*color, p=color_p), K.RandomGamma(gamma, p=0.5),
                       K.RandomGaussianBlur((5, 5), (0.1, 1.5), p=blur_p)]
        if noise_std > 0:
            photometric.append(K.RandomGaussianNoise(std=noise_std, p=0.5))
        self.photometric = K.AugmentationSequential(*photometric, data_keys=["input"])

    def forward(self, inputs: Tensor, data_samples: list) -> tuple[Tensor, list]:
        batch, _, height, width = inputs.shape
        size = inputs.new_tensor([width, height])
        labels = torch.cat([d.gt_instance_labels.keypoint_labels for d in data_samples])
        labels = labels.to(inputs.device, torch.float32)
        num_points = labels.shape[-2]
        image = ((inputs.float() * self.std + self.mean) / 255.0).clamp_(0, 1)
        image, points = self.geometric(image, labels.view(batch, num_points, 2) * size)
        image = self.photometric(image).clamp_(0, 1)
        out = ((image * 255.0 - self.mean) / self.std).to(inputs.dtype)
        if inputs.is_contiguous(memory_format=torch.channels_last):
            out = out.contiguous(memory_format=torch.channels_last)
        inside = ((points >= 0) & (points <= size - 1)).all(-1)
        new_labels = (points / size).view(batch, 1, num_points, 2)
        for i, sample in enumerate(data_samples):
            old = sample.gt_instance_labels
            fields = {k: old.get(k) for k in old.keys()}  # noqa: SIM118 (not iterable by key)
            fields["keypoint_labels"] = new_labels[i].to(old.keypoint_labels.device)
            weights = old.keypoint_weights
            fields["keypoint_weights"] = weights * inside[i].view_as(weights[0]).to(weights)
            # a new element: a cached sample (CropCacheDataset) must not be changed in place
            sample.gt_instance_labels = InstanceData(metainfo=old.metainfo, **fields)
        return out, data_samples
