"""The paper's nonlinear embedding layer ``phi = cos(W x + b)`` (Sec. 3.3)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch import distributed as dist
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

    The bandwidth ``sigma`` is a number, or ``'median'``: the median heuristic, set from the
    data. The first forward in training mode then measures the median pairwise distance of
    its batch's input vectors (averaged over processes when ``torch.distributed`` is
    initialised) and rescales ``W`` to that ``sigma`` before using it: the standard-normal
    draw is the one made at construction (deterministic given the seed; the layer draws
    no random numbers later), only its scale changes. The chosen ``sigma`` is kept in the
    buffer ``fitted_sigma`` (in the state dict); a layer whose weights are loaded (a
    checkpoint, or a resumed run) is never rescaled, and in eval mode nothing is measured.
    Before the first training batch a ``'median'`` layer uses ``sqrt(in_features)``.

    Args:
        in_features: ``D``, the length of the input feature vector.
        out_features: ``d``, the embedding width (the paper cross-validates 256).
        sigma: RBF bandwidth of the initial draw. ``None`` uses ``sqrt(in_features)``,
            the typical distance scale of ``D`` unit-variance features; ``'median'`` sets
            it from the first training batch (above).

    Shape:
        - Input: :math:`(B, D)`
        - Output: :math:`(B, d)`, values in ``[-1, 1]``.

    Example:
        >>> emb = CosineEmbedding(512, 256)
        >>> emb(torch.randn(4, 512)).shape
        torch.Size([4, 256])
        >>> emb = CosineEmbedding(512, 256, sigma='median')
        >>> x = torch.randn(8, 512) * 3
        >>> _ = emb(x)  # training mode: the first batch sets sigma
        >>> round(emb.sigma / torch.pdist(x).median().item(), 6)
        1.0
    """

    def __init__(self, in_features: int, out_features: int = EMBEDDING_DIM,
                 sigma: float | str | None = None) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(
                f"CosineEmbedding needs in_features >= 1 and out_features >= 1, got "
                f"in_features={in_features}, out_features={out_features}"
            )
        if isinstance(sigma, str) and sigma != "median":
            raise ValueError(f"CosineEmbedding sigma must be a number > 0, None or 'median', "
                             f"got {sigma!r}")
        if not isinstance(sigma, str) and sigma is not None and not sigma > 0:
            raise ValueError(f"CosineEmbedding sigma must be > 0, got {sigma}")
        self.in_features = in_features
        self.out_features = out_features
        self.sigma_from_data = sigma == "median"
        self.sigma = (float(sigma) if sigma is not None and not self.sigma_from_data
                      else math.sqrt(in_features))
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        # True until the first training batch has set sigma ('median' only)
        self.sigma_pending = self.sigma_from_data
        if self.sigma_from_data:
            self.register_buffer("fitted_sigma", torch.tensor(float("nan")))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw ``W ~ N(0, 1/sigma^2)`` and ``b ~ U(0, 2 pi)`` (random Fourier features)."""
        with torch.no_grad():
            self.weight.normal_(0.0, 1.0 / self.sigma)
            self.bias.uniform_(0.0, 2 * math.pi)

    @torch.no_grad()
    def fit_sigma(self, x: Tensor) -> float:
        """The median heuristic: set ``sigma`` to the median pairwise distance of the rows of
        ``x`` (averaged over processes) and rescale ``W`` to it. Returns the new ``sigma``.

        Raises:
            ValueError: fewer than 2 rows, or a median that is 0 or not finite (all input
                vectors equal, or NaN).
        """
        if x.ndim != 2 or len(x) < 2:
            raise ValueError(
                f"CosineEmbedding(sigma='median') sets sigma from the first training batch's "
                f"pairwise distances and needs at least 2 input vectors, got shape "
                f"{tuple(x.shape)}")
        with torch.autocast(x.device.type, enabled=False):
            median = torch.pdist(x.detach().float()).median()
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(median)
            median /= dist.get_world_size()
        value = float(median)
        if not (math.isfinite(value) and value > 0):
            raise ValueError(
                f"CosineEmbedding(sigma='median'): the median pairwise distance of the first "
                f"training batch is {value}; its input vectors are all equal or not finite")
        self.weight.mul_(self.sigma / value)
        self.sigma = value
        if self.sigma_from_data:
            self.fitted_sigma.fill_(value)
        self.sigma_pending = False
        return value

    def forward(self, x: Tensor) -> Tensor:
        if self.sigma_pending and self.training:
            self.fit_sigma(x)
        return torch.cos(F.linear(x, self.weight, self.bias))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys, error_msgs) -> None:
        """Loaded weights are never rescaled; weights saved without ``fitted_sigma`` (a layer
        with a fixed sigma) load with ``fitted_sigma`` NaN (not measured here)."""
        if self.sigma_from_data and prefix + "weight" in state_dict:
            self.sigma_pending = False
            key = prefix + "fitted_sigma"
            if key not in state_dict:
                state_dict[key] = torch.tensor(float("nan"))
            elif math.isfinite(float(state_dict[key])):
                self.sigma = float(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)

    def extra_repr(self) -> str:
        sigma = ("median of the first batch (not yet measured)" if self.sigma_pending
                 else f"{self.sigma:.4g}")
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"init_sigma={sigma}"


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
