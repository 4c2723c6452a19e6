"""Feature map (or vector) -> landmark coordinates, optionally through the cosine embedding."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from torch import Tensor, nn
from torch.nn import functional as F

from .cosine_embedding import EMBEDDING_DIM, CosineEmbedding

__all__ = ["CoordinateRegressor", "REGRESSOR_INPUTS", "regressor_input_cells"]

REGRESSOR_INPUTS = ("gap", "flatten", "grid<S>")
"""How a regressor turns a ``(B, C, H, W)`` map into its input vector (see
:class:`CoordinateRegressor`)."""


def regressor_input_cells(mode: str, feature_size: Sequence[int] | None = None) -> int:
    """Number of spatial cells a regressor input keeps per channel: 1 for ``'gap'``, ``S*S``
    for ``'grid<S>'``, ``H*W`` for ``'flatten'`` (needs ``feature_size = (H, W)``).

    Raises:
        ValueError: An unknown mode, or ``'flatten'`` without a feature size.
    """
    if mode == "gap":
        return 1
    grid = re.fullmatch(r"grid([1-9][0-9]*)", mode)
    if grid:
        return int(grid.group(1)) ** 2
    if mode == "flatten":
        if feature_size is None or len(feature_size) != 2 or min(feature_size) < 1:
            raise ValueError(
                "regressor input 'flatten' needs feature_size=(H, W) of the feature map it "
                f"reads, got {feature_size!r}")
        return int(feature_size[0]) * int(feature_size[1])
    raise ValueError(
        f"regressor input must be 'gap', 'flatten' or 'grid<S>' (e.g. 'grid4'), got {mode!r}")


class CoordinateRegressor(nn.Module):
    """Feature map -> input vector -> [``cos(W x + b)``] -> linear layer -> ``K x 2``.

    With ``embedding_dim`` set this is the paper's output head (nonlinear embedding then one
    linear layer); with ``embedding_dim=None`` it is a plain linear regressor, used for the
    intermediate-supervision branches and the "w/o embedding" ablation.

    The input vector (``regressor_input``):

    - ``'gap'``: global average pooling, ``C`` values (keeps no position; the layout of
      checkpoints made before this option existed);
    - ``'flatten'``: the whole ``C x H x W`` map (the paper's "feature vector produced by the
      last residual block" fed to fully connected layers, read literally); needs
      ``feature_size``;
    - ``'grid<S>'``: adaptive average pooling to ``S x S``, then flattened (``C S^2`` values,
      any input size).

    A flattened map is divided by its number of cells, so a layer with equal weights over
    the cells computes exactly what it computes on ``'gap'``; this keeps Adam's step (a
    fixed size per weight) from growing the output change with the cell count. The
    embedding's default bandwidth follows the same scale (``sqrt(C / cells)``).

    The output layer starts at weights ``N(0, 0.01)`` and bias ``init_coordinate`` (0.5:
    the centre of a normalised crop), so training starts from the crop centre.

    Args:
        in_channels: Channels of the input features.
        num_points: ``K``, landmarks to predict.
        embedding_dim: Width ``d`` of the cosine embedding, or ``None`` for no embedding.
        embedding_sigma: RBF bandwidth of the embedding's initial draw (see
            :class:`CosineEmbedding`); ``None``: ``sqrt(in_channels / cells)``.
        init_coordinate: Initial bias of the output layer.
        regressor_input: ``'gap'``, ``'flatten'`` or ``'grid<S>'`` (see above).
        feature_size: ``(H, W)`` of the input map; required by ``'flatten'`` only.

    Shape:
        - Input: :math:`(B, C, H, W)`, or already pooled :math:`(B, C)` with ``'gap'``
        - Output: :math:`(B, K, 2)`

    Example:
        >>> import torch
        >>> head = CoordinateRegressor(256, num_points=68, embedding_dim=256)
        >>> head(torch.randn(2, 256, 4, 4)).shape
        torch.Size([2, 68, 2])
        >>> CoordinateRegressor(256, 68, regressor_input='grid2')(torch.randn(2, 256, 8, 8)).shape
        torch.Size([2, 68, 2])
    """

    def __init__(
        self,
        in_channels: int,
        num_points: int,
        embedding_dim: int | None = EMBEDDING_DIM,
        embedding_sigma: float | None = None,
        init_coordinate: float = 0.5,
        regressor_input: str = "gap",
        feature_size: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if num_points < 1:
            raise ValueError(f"num_points must be >= 1, got {num_points}")
        self.in_channels = in_channels
        self.num_points = num_points
        self.regressor_input = regressor_input
        self.cells = regressor_input_cells(regressor_input, feature_size)
        self.feature_size = tuple(feature_size) if regressor_input == "flatten" else None
        self.grid = int(math.isqrt(self.cells)) if regressor_input.startswith("grid") else None
        in_features = in_channels * self.cells
        if embedding_dim is None:
            self.embedding: nn.Module = nn.Identity()
            fc_in = in_features
        else:
            sigma = embedding_sigma if embedding_sigma is not None else math.sqrt(
                in_channels / self.cells)
            self.embedding = CosineEmbedding(in_features, embedding_dim, sigma=sigma)
            fc_in = embedding_dim
        self.fc = nn.Linear(fc_in, num_points * 2)
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.constant_(self.fc.bias, init_coordinate)

    def vectorise(self, x: Tensor) -> Tensor:
        """The regressor's input vector of a feature map, :math:`(B, C \\cdot cells)`."""
        if x.ndim == 2 and self.regressor_input == "gap":
            vec = x
        elif x.ndim != 4:
            raise ValueError(
                f"CoordinateRegressor expects (B, C, H, W) features (or (B, C) with "
                f"regressor_input='gap', e.g. after a GlobalAveragePooling neck), got shape "
                f"{tuple(x.shape)} with regressor_input={self.regressor_input!r}"
            )
        elif self.regressor_input == "gap":
            vec = x.mean(dim=(2, 3))
        else:
            if self.feature_size is not None and tuple(x.shape[2:]) != self.feature_size:
                raise ValueError(
                    f"CoordinateRegressor (regressor_input='flatten') was built for "
                    f"{self.feature_size[0]}x{self.feature_size[1]} maps but got "
                    f"{x.shape[2]}x{x.shape[3]}; set feature_size to match the input size")
            if self.grid is not None:
                x = F.adaptive_avg_pool2d(x, self.grid)
            vec = x.flatten(1) / self.cells
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"CoordinateRegressor was built for in_channels={self.in_channels} but got "
                f"features with {x.shape[1]} channels; set in_channels to match the backbone"
            )
        return vec

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.embedding(self.vectorise(x))).view(-1, self.num_points, 2)
