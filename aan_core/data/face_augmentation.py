"""Random geometric + photometric augmentation of a batch of face crops and their landmarks,
on the crops' device (kornia's ``AugmentationSequential``: images and keypoints are warped
with the same matrix, so the landmarks stay exact).

kornia is imported when the module is built (an optional dependency: ``pip install kornia``).

Example:
    >>> import torch
    >>> aug = RandomFaceAugmentation()
    >>> images, points = aug(torch.rand(4, 3, 64, 64), torch.rand(4, 68, 2) * 64)
    >>> images.shape, points.shape
    (torch.Size([4, 3, 64, 64]), torch.Size([4, 68, 2]))
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["RandomFaceAugmentation"]


class RandomFaceAugmentation(nn.Module):
    """Random affine (rotation, scale, shift), then brightness/contrast, gamma, blur, noise.

    Each sample draws its own parameters. Landmarks are pixel coordinates with pixel centres
    at integer values (OpenCV's and MMPose's convention) and move with the pixels. No flip
    (it would also have to swap left and right landmarks).

    Args:
        degrees: Rotation range, +- degrees.
        translate: Shift range, a fraction of the crop side.
        scale: Zoom range ``(min, max)``.
        color: kornia ColorJiggle's brightness, contrast, saturation, hue. Saturation and hue
            are off by default: they go through HSV, 10x the cost of the rest on a CPU.
        color_p: Probability of the colour change.
        gamma: Gamma range ``(min, max)``, applied with probability 0.5.
        blur_p: Probability of a Gaussian blur (5x5, sigma 0.1-1.5 px).
        noise_std: Standard deviation of Gaussian noise, probability 0.5 (0: none).

    Shape:
        - Input: images :math:`(B, 3, H, W)` in ``[0, 1]``; landmarks :math:`(B, K, 2)`.
        - Output: the same shapes; images clamped to ``[0, 1]``.
    """

    def __init__(self, degrees: float = 20.0, translate: float = 0.06,
                 scale: tuple[float, float] = (0.9, 1.1),
                 color: tuple[float, float, float, float] = (0.3, 0.3, 0.0, 0.0),
                 color_p: float = 0.8, gamma: tuple[float, float] = (0.7, 1.4),
                 blur_p: float = 0.2, noise_std: float = 0.03) -> None:
        super().__init__()
        try:
            import kornia.augmentation as K
        except ImportError as e:
            raise ImportError("RandomFaceAugmentation needs kornia: pip install kornia") from e
        self.geometric = K.AugmentationSequential(
            K.RandomAffine(degrees=degrees, translate=(translate, translate), scale=scale,
                           p=1.0, align_corners=True),
            data_keys=["input", "keypoints"])
        photometric = [K.ColorJiggle(*color, p=color_p), K.RandomGamma(gamma, p=0.5),
                       K.RandomGaussianBlur((5, 5), (0.1, 1.5), p=blur_p)]
        if noise_std > 0:
            photometric.append(K.RandomGaussianNoise(std=noise_std, p=0.5))
        self.photometric = K.AugmentationSequential(*photometric, data_keys=["input"])

    def forward(self, images: Tensor, landmarks: Tensor) -> tuple[Tensor, Tensor]:
        images, landmarks = self.geometric(images, landmarks)
        return self.photometric(images).clamp_(0, 1), landmarks
