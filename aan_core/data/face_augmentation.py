"""Random geometric + photometric augmentation of a batch of face crops and their landmarks,
on the crops' device: one affine matrix per face (flip, rotation, scale, shift) warps the
pixels (kornia's ``warp_affine``) and moves the landmarks, so they stay exact; then kornia's
photometric augmentations.

kornia is imported when the module is built (an optional dependency: ``pip install kornia``).

Example:
    >>> import torch
    >>> aug = RandomFaceAugmentation()
    >>> images, points, weights = aug(torch.rand(4, 3, 64, 64), torch.rand(4, 68, 2) * 64)
    >>> images.shape, points.shape, weights.shape
    (torch.Size([4, 3, 64, 64]), torch.Size([4, 68, 2]), torch.Size([4, 68]))
    >>> # from wider cached crops to 48 px, flipping with left/right point pairs
    >>> aug = RandomFaceAugmentation(output_size=(48, 48))
    >>> images, points, weights = aug(torch.rand(4, 3, 64, 64), torch.rand(4, 3, 2) * 64,
    ...                               flip_indices=[1, 0, 2])
    >>> images.shape, points.shape
    (torch.Size([4, 3, 48, 48]), torch.Size([4, 3, 2]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["RandomFaceAugmentation"]

RANGES = ("uniform", "truncnorm")


class RandomFaceAugmentation(nn.Module):
    """Random flip, affine (rotation, scale, shift), then brightness/contrast, gamma, blur,
    noise, channel order.

    Each sample draws its own parameters in each range: uniformly (``ranges='uniform'``), or
    as MMPose's ``RandomBBoxTransform`` draws them (``ranges='truncnorm'``). Landmarks are pixel
    coordinates with pixel centres at integer values (OpenCV's and MMPose's convention) and
    move with the pixels. The output crop is centred on the input's centre: from a crop cached
    with a wider margin, ``output_size`` cuts the usual crop out of it, so that rotation,
    zoom-out and shift show the face's real surroundings instead of a black border.

    Args:
        degrees: Rotation range, +- degrees.
        translate: Shift range, a fraction of the output crop's side.
        scale: Zoom range ``(min, max)``. MMPose's box scale range ``(s_0, s_1)`` (a larger
            box shows a smaller face) is the zoom range ``(1 / s_1, 1 / s_0)``.
        ranges: How the rotation, shift and zoom are drawn in their ranges: ``'uniform'``, or
            ``'truncnorm'`` as ``RandomBBoxTransform`` (with probability 1) draws them: a
            standard normal truncated to ``[-1, 1]`` times the rotation and shift limits, and
            a box scale ``mu + sigma * v`` with ``mu``, ``sigma`` the middle and half-width of
            the box scale range ``(1 / scale[1], 1 / scale[0])``, the zoom its inverse.
        color: kornia ColorJiggle's brightness, contrast, saturation, hue. Saturation and hue
            are off by default: they go through HSV, 10x the cost of the rest on a CPU.
            MMPose's ``PhotometricDistortion`` ranges (brightness +-32 of 255, contrast,
            saturation 0.5-1.5, hue +-18 of OpenCV's 180) are ``(0.125, 0.5, 0.5, 0.1)``:
            kornia's brightness is added to ``[0, 1]`` pixels and its hue is a fraction of
            the hue circle (36 of 360 degrees).
        color_p: Probability of the colour change.
        gamma: Gamma range ``(min, max)``, applied with probability 0.5.
        blur_p: Probability of a Gaussian blur (5x5, sigma 0.1-1.5 px).
        noise_std: Standard deviation of Gaussian noise, probability 0.5 (0: none). A
            photometric step switched off (probability 0, gamma ``(1, 1)``) costs nothing.
        channel_shuffle_p: Probability of a random order of the colour channels, after the
            rest (``PhotometricDistortion`` swaps them with probability 0.5; 0: never).
        output_size: ``(height, width)`` of the output crops; ``None``: the input's.
        flip_p: Probability of a horizontal flip, for a call given ``flip_indices`` (each
            landmark's mirror partner, as in a dataset's MMPose metainfo): the flip also swaps
            left and right landmarks. A call without them does not flip.

    Shape:
        - Input: images :math:`(B, 3, H, W)` in ``[0, 1]``; landmarks :math:`(B, K, 2)`;
          optional weights :math:`(B, K)`.
        - Output: images :math:`(B, 3, H_{out}, W_{out})` clamped to ``[0, 1]``; landmarks
          :math:`(B, K, 2)` in the output's pixels; weights :math:`(B, K)`: the input's (1 if
          none), following their landmarks through a flip, and 0 for a landmark moved out of
          the crop.
    """

    def __init__(self, degrees: float = 20.0, translate: float = 0.06,
                 scale: tuple[float, float] = (0.9, 1.1),
                 color: tuple[float, float, float, float] = (0.3, 0.3, 0.0, 0.0),
                 color_p: float = 0.8, gamma: tuple[float, float] = (0.7, 1.4),
                 blur_p: float = 0.2, noise_std: float = 0.03,
                 output_size: tuple[int, int] | None = None, flip_p: float = 0.5,
                 ranges: str = "uniform", channel_shuffle_p: float = 0.0) -> None:
        super().__init__()
        if ranges not in RANGES:
            raise ValueError(f"ranges must be one of {RANGES}, got {ranges!r}")
        try:
            import kornia.augmentation as K
        except ImportError as e:
            raise ImportError("RandomFaceAugmentation needs kornia: pip install kornia") from e
        self.degrees, self.translate, self.scale = degrees, translate, tuple(scale)
        self.output_size = None if output_size is None else tuple(output_size)
        self.flip_p, self.ranges = flip_p, ranges
        # a step switched off is left out, not run as an identity (each costs a pass over the
        # batch, and kornia's gamma, blur and noise cost 2x its colour change on a CPU)
        photometric = [make for on, make in (
            (color_p > 0 and any(color), lambda: K.ColorJiggle(*color, p=color_p)),
            (tuple(gamma) != (1.0, 1.0), lambda: K.RandomGamma(gamma, p=0.5)),
            (blur_p > 0, lambda: K.RandomGaussianBlur((5, 5), (0.1, 1.5), p=blur_p)),
            (noise_std > 0, lambda: K.RandomGaussianNoise(std=noise_std, p=0.5)),
            (channel_shuffle_p > 0, lambda: K.RandomChannelShuffle(p=channel_shuffle_p)))
            if on]
        self.photometric = (K.AugmentationSequential(*(make() for make in photometric),
                                                     data_keys=["input"])
                            if photometric else nn.Identity())

    def forward(self, images: Tensor, landmarks: Tensor, weights: Tensor | None = None,
                flip_indices: Sequence[int] | None = None) -> tuple[Tensor, Tensor, Tensor]:
        images, points, weights = self.warp(images, landmarks, weights, flip_indices)
        return self.photometric(images).clamp_(0, 1), points, weights

    def warp(self, images: Tensor, landmarks: Tensor, weights: Tensor | None = None,
             flip_indices: Sequence[int] | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """The geometric half of :meth:`forward`: flip, rotation, zoom and shift, on images of
        any value range; 0 lies outside the input (a per-channel scaling commutes with it).

        Returns:
            The warped images (no clamp), the landmarks and their weights, as
            :meth:`forward`.
        """
        from kornia.geometry.transform import warp_affine

        batch, _, height, width = images.shape
        num_points = landmarks.shape[1]
        out_h, out_w = self.output_size or (height, width)
        flipped = torch.zeros(batch, dtype=torch.bool, device=images.device)
        if flip_indices is not None:
            if sorted(flip_indices) != list(range(num_points)):
                raise ValueError(f"flip_indices must order the {num_points} landmarks "
                                 f"(a permutation of 0..{num_points - 1}), got "
                                 f"{list(flip_indices)}")
            flipped = torch.rand(batch, device=images.device) < self.flip_p
        matrix = self._matrices(flipped, (height, width), (out_h, out_w), images.device)
        images = warp_affine(images, matrix, (out_h, out_w), align_corners=True)
        points = landmarks @ matrix[:, :, :2].transpose(1, 2) + matrix[:, None, :, 2]
        if weights is None:
            weights = landmarks.new_ones(landmarks.shape[:2])
        if flip_indices is not None:  # a flipped face's left eye is its right one
            order = torch.where(flipped[:, None],
                                torch.as_tensor(flip_indices, device=images.device),
                                torch.arange(num_points, device=images.device))
            points = points.gather(1, order[..., None].expand_as(points))
            weights = weights.gather(1, order)
        size = points.new_tensor([out_w - 1, out_h - 1])
        inside = ((points >= 0) & (points <= size)).all(-1)
        return images, points, weights * inside

    def _matrices(self, flipped: Tensor, in_size: tuple[int, int], out_size: tuple[int, int],
                  device: torch.device) -> Tensor:
        """Each face's 2x3 matrix from input to output pixels: flip, then rotate and zoom
        about the input's centre, which lands on the output's centre, shifted."""
        batch = len(flipped)

        if self.ranges == "truncnorm":  # RandomBBoxTransform's draws
            draws = torch.empty(batch, 4, device=device)
            nn.init.trunc_normal_(draws, 0.0, 1.0, -1.0, 1.0)
            angle = draws[:, 0] * (self.degrees * math.pi / 180)
            box_low, box_high = 1 / self.scale[1], 1 / self.scale[0]
            zoom = 1 / ((box_high + box_low) / 2 + draws[:, 1] * ((box_high - box_low) / 2))
            shift = draws[:, 2:] * self.translate * torch.tensor(
                [out_size[1], out_size[0]], dtype=draws.dtype, device=device)
        else:
            def uniform(low: float, high: float) -> Tensor:
                return torch.empty(batch, device=device).uniform_(low, high)

            angle = uniform(-self.degrees, self.degrees) * (math.pi / 180)
            zoom = uniform(*self.scale)
            shift = torch.stack([uniform(-self.translate, self.translate) * out_size[1],
                                 uniform(-self.translate, self.translate) * out_size[0]], 1)
        cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
        mirror = torch.where(flipped, -1.0, 1.0).to(device)
        linear = torch.stack([torch.stack([cos * mirror, -sin], 1),
                              torch.stack([sin * mirror, cos], 1)], 1)  # (B, 2, 2)
        centre_in = torch.tensor([(in_size[1] - 1) / 2, (in_size[0] - 1) / 2], device=device)
        centre_out = torch.tensor([(out_size[1] - 1) / 2, (out_size[0] - 1) / 2],
                                  device=device)
        offset = centre_out + shift - linear @ centre_in
        return torch.cat([linear, offset[..., None]], 2)
