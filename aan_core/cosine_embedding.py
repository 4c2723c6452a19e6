"""The paper's nonlinear embedding layer ``phi = cos(W x + b)`` (Sec. 3.3)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["CosineEmbedding", "EMBEDDING_DIM", "random_fourier_features", "rbf_kernel"]

EMBEDDING_DIM = 256
"""The embedding width ``d`` the paper cross-validates (Sec. 4.2): the default everywhere."""


class CosineEmbedding(nn.Module):
    """Fully connected layer with a cosine activation: ``phi(x) = cos(W x + b)``.

    Derived from random Fourier features (Rahimi & Recht): with ``W ~ N(0, 1/sigma^2)`` and
    ``b ~ U(0, 2 pi)``, ``(2/d) * phi(x) . phi(y)`` approximates the RBF kernel
    ``exp(-|x - y|^2 / (2 sigma^2))``. The layer starts from that draw and then learns
    ``W`` and ``b`` (the paper learns them instead of sampling them).

    Args:
        in_features: ``D``, the length of the input feature vector.
        out_features: ``d``, the embedding width (the paper cross-validates 256).
        sigma: RBF bandwidth of the initial draw. ``None`` uses ``sqrt(in_features)``,
            the typical distance scale of ``D`` unit-variance features.

    Shape:
        - Input: :math:`(B, D)`
        - Output: :math:`(B, d)`, values in ``[-1, 1]``.

    Example:
        >>> emb = CosineEmbedding(512, 256)
        >>> emb(torch.randn(4, 512)).shape
        torch.Size([4, 256])
    """

    def __init__(self, in_features: int, out_features: int = EMBEDDING_DIM,
                 sigma: float | None = None) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(
                f"CosineEmbedding needs in_features >= 1 and out_features >= 1, got "
                f"in_features={in_features}, out_features={out_features}"
            )
        if sigma is not None and not sigma > 0:
            raise ValueError(f"CosineEmbedding sigma must be > 0, got {sigma}")
        self.in_features = in_features
        self.out_features = out_features
        self.sigma = float(sigma) if sigma is not None else math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw ``W ~ N(0, 1/sigma^2)`` and ``b ~ U(0, 2 pi)`` (random Fourier features)."""
        with torch.no_grad():
            self.weight.normal_(0.0, 1.0 / self.sigma)
            self.bias.uniform_(0.0, 2 * math.pi)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cos(F.linear(x, self.weight, self.bias))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"init_sigma={self.sigma:.4g}"


def random_fourier_features(x: Tensor, layer: CosineEmbedding) -> Tensor:
    """``sqrt(2/d) * cos(W x + b)``: the layer's output scaled as an RFF kernel feature map.

    Args:
        x: Inputs, :math:`(N, D)`.
        layer: The embedding whose ``W, b`` are used.

    Returns:
        :math:`(N, d)` features whose inner products approximate :func:`rbf_kernel` while
        ``W, b`` keep their random initial draw.
    """
    return math.sqrt(2.0 / layer.out_features) * layer(x)


def rbf_kernel(x: Tensor, y: Tensor, sigma: float) -> Tensor:
    """Gaussian RBF kernel matrix ``exp(-|x_i - y_j|^2 / (2 sigma^2))``, :math:`(N, M)`."""
    return torch.exp(-torch.cdist(x, y).pow(2) / (2 * sigma**2))
