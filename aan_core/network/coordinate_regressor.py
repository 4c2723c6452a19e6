"""Feature map (or vector) -> landmark coordinates, optionally through the cosine embedding."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn
from torch import distributed as dist
from torch.nn import functional as F

from .cosine_embedding import EMBEDDING_DIM, CosineEmbedding

__all__ = ["CoordinateRegressor", "OUTPUT_INITS", "REGRESSOR_INPUTS", "mean_shape",
           "regressor_input_cells", "start_at_mean_shape"]

OUTPUT_INITS = ("normal", "mean_shape")
"""How a regressor's output layer starts (see :class:`CoordinateRegressor`)."""

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


def mean_shape(points: Tensor, weights: Tensor | None = None) -> Tensor:
    """The mean of a batch of shapes, each point averaged over the samples that label it
    (weight > 0), over all processes when ``torch.distributed`` is initialised.

    Args:
        points: :math:`(B, K, 2)` normalised coordinates.
        weights: :math:`(B, K)` or :math:`(B, K, 1)` per-point weights (``None``: all 1).
            Non-finite points count as weight 0.

    Returns:
        :math:`(K, 2)`; NaN for a point no sample labels.

    Example:
        >>> mean_shape(torch.tensor([[[0.2, 0.4]], [[0.4, 0.6]]]))
        tensor([[0.3000, 0.5000]])
    """
    points = points.detach().float()
    w = torch.ones(points.shape[:2], device=points.device) if weights is None \
        else weights.detach().float().reshape(points.shape[:2])
    w = w * torch.isfinite(points).all(-1)
    points = torch.where(w.unsqueeze(-1) > 0, points, torch.zeros_like(points))
    sums = torch.cat([(points * w.unsqueeze(-1)).sum(0), w.sum(0).unsqueeze(-1)], dim=-1)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(sums)
    return sums[:, :2] / sums[:, 2:]  # 0 / 0 = NaN where no sample labels a point


class CoordinateRegressor(nn.Module):
    """Feature map -> input vector -> [``cos(W x + b)``] -> linear layer -> ``K x 2``.

    With ``embedding_dim`` set this is the paper's output head (nonlinear embedding then one
    linear layer); with ``embedding_dim=None`` it is a plain linear regressor, used for the
    intermediate-supervision branches and the "w/o embedding" ablation.

    The input vector (``regressor_input``):

    - ``'gap'``: global average pooling, ``C`` values (keeps no position);
    - ``'flatten'``: the whole ``C x H x W`` map (the paper's "feature vector produced by the
      last residual block" fed to fully connected layers, read literally); needs
      ``feature_size``;
    - ``'grid<S>'``: adaptive average pooling to ``S x S``, then flattened (``C S^2`` values,
      any input size).

    A flattened map is divided by its number of cells, so a layer with equal weights over
    the cells computes exactly what it computes on ``'gap'``; this keeps Adam's step (a
    fixed size per weight) from growing the output change with the cell count. The
    embedding's default bandwidth follows the same scale (``sqrt(C / cells)``).

    How the output layer starts (``output_init``):

    - ``'normal'`` (default): weights ``N(0, 0.01)``, bias ``init_coordinate`` (0.5). This
      does *not* start at the crop centre: the input vector has a non-zero mean (ReLU
      features, attention's ``1 + M``, the embedding's cosines), so the weights add an
      offset to the bias that depends on the input's scale, and so on the variant: on
      AAN's network the first predictions lie tenths of a crop width from the mean shape,
      the deepest branch furthest, further with attention than without;
    - ``'mean_shape'``: weights 0 and bias the training mean shape, so every regressor of
      every variant starts exactly at the mean shape. The bias is set by :meth:`start_at`
      (``aan_core.AANLandmarkModel`` and the MMPose head call it with the first training
      batch's mean shape, see :func:`mean_shape`; until then it is ``init_coordinate``);
      loaded weights are never reset.

    Args:
        in_channels: Channels of the input features.
        num_points: ``K``, landmarks to predict.
        embedding_dim: Width ``d`` of the cosine embedding, or ``None`` for no embedding.
        embedding_sigma: RBF bandwidth of the embedding's initial draw (see
            :class:`CosineEmbedding`); ``None``: ``sqrt(in_channels / cells)``; ``'median'``:
            the median pairwise distance of the first training batch's input vectors.
        init_coordinate: Initial bias of the output layer.
        regressor_input: ``'gap'``, ``'flatten'`` or ``'grid<S>'`` (see above).
        feature_size: ``(H, W)`` of the input map; required by ``'flatten'`` only.
        output_init: ``'normal'`` or ``'mean_shape'`` (see above).

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
        embedding_sigma: float | str | None = None,
        init_coordinate: float = 0.5,
        regressor_input: str = "gap",
        feature_size: Sequence[int] | None = None,
        output_init: str = "normal",
    ) -> None:
        super().__init__()
        if num_points < 1:
            raise ValueError(f"num_points must be >= 1, got {num_points}")
        if output_init not in OUTPUT_INITS:
            raise ValueError(f"output_init must be one of {OUTPUT_INITS}, got {output_init!r}")
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
        self.output_init = output_init
        nn.init.normal_(self.fc.weight, std=0.01)  # drawn in both modes: the same RNG stream
        if output_init == "mean_shape":
            nn.init.zeros_(self.fc.weight)
        nn.init.constant_(self.fc.bias, init_coordinate)
        # True until start_at() has set the bias ('mean_shape' only)
        self.shape_pending = output_init == "mean_shape"

    @torch.no_grad()
    def start_at(self, shape: Tensor) -> None:
        """Set the output bias to ``shape``, :math:`(K, 2)` (a NaN point keeps its bias);
        with ``output_init='mean_shape'`` (weights 0) the regressor then predicts it."""
        flat = shape.detach().reshape(-1).to(self.fc.bias)
        if flat.numel() != self.fc.bias.numel():
            raise ValueError(f"start_at needs a ({self.num_points}, 2) shape, got "
                             f"{tuple(shape.shape)}")
        self.fc.bias.copy_(torch.where(torch.isfinite(flat), flat, self.fc.bias))
        self.shape_pending = False

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys, error_msgs) -> None:
        if prefix + "fc.bias" in state_dict:  # loaded weights are never reset to a shape
            self.shape_pending = False
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)

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


def start_at_mean_shape(regressors: Iterable[CoordinateRegressor], points: Tensor,
                        weights: Tensor | None = None) -> None:
    """Start every regressor still waiting for data (``output_init='mean_shape'``, no
    weights loaded) at the :func:`mean_shape` of ``points``; the others are left alone.

    Args:
        regressors: The model's regressors (final and branches).
        points: :math:`(B, K, 2)` normalised coordinates (a batch, or a whole training set).
        weights: Per-point weights, see :func:`mean_shape`.
    """
    waiting = [r for r in regressors if r.shape_pending]
    if waiting:
        shape = mean_shape(points, weights)
        for reg in waiting:
            reg.start_at(shape)
