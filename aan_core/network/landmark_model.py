"""AAN for face alignment as one pure-PyTorch model: feature maps, the final regressor, one
linear branch per map (intermediate supervision, Sec. 3.2) and the L2 training loss.

The MMPose model (``AANBackbone`` + ``CosineEmbeddingHead``) is built from the same layers
(:func:`make_regressors`) and the same defaults; its parameters carry the same names behind
its ``backbone.`` / ``head.`` prefixes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from torch import Tensor, nn

from .aan_features import DEFAULT_STAGE_CHANNELS, DEFAULT_STEM_CHANNELS, AANFeatureExtractor
from .attention_factory import AttentionSpec
from .coordinate_regressor import CoordinateRegressor, start_at_mean_shape
from .cosine_embedding import EMBEDDING_DIM

__all__ = ["AANLandmarkModel", "LandmarkRegressionModel", "landmark_loss", "make_regressors"]


def landmark_loss(predictions: Sequence[tuple[float, Tensor]], target: Tensor) -> Tensor:
    """Weighted sum of L2 losses at Caffe's ``EuclideanLoss`` scale: per prediction, the
    squared error summed over points and coordinates, divided by ``2 * batch``.

    Shape:
        - predictions: ``(weight, (B, K, 2))`` pairs
        - target: :math:`(B, K, 2)`
        - returns: a scalar (fp32 whatever the predictions' dtype)

    Example:
        >>> import torch
        >>> landmark_loss([(1.0, torch.ones(2, 5, 2)), (0.5, torch.ones(2, 5, 2))],
        ...               torch.zeros(2, 5, 2))
        tensor(7.5000)
    """
    return sum(w * ((p.float() - target) ** 2).sum() / (2 * len(target))
               for w, p in predictions)


def make_regressors(
    channels: Sequence[int],
    num_points: int,
    *,
    branches: bool = True,
    embedding_dim: int | None = EMBEDDING_DIM,
    embedding_sigma: float | str | None = None,
    final_input: str = "gap",
    branch_input: str = "gap",
    feature_sizes: Sequence[Sequence[int] | None] | None = None,
    output_init: str = "normal",
) -> tuple[CoordinateRegressor, nn.ModuleList]:
    """AAN's output layers: the final regressor (cosine embedding + linear layer) on the
    last map, and one linear regressor (no embedding) per map for intermediate supervision.

    Args:
        channels: Channels of every feature map, shallow to deep (the final regressor reads
            the last).
        num_points: ``K``.
        branches: Build the intermediate branches (``False``: an empty list).
        embedding_dim: Width of the final regressor's embedding; ``None``: none.
        embedding_sigma: See :class:`~aan_core.CoordinateRegressor`.
        final_input: Regressor input of the final regressor (``'gap'``, ``'flatten'``,
            ``'grid<S>'``).
        branch_input: Regressor input of every branch.
        feature_sizes: ``(H, W)`` of every map (needed by ``'flatten'`` only).
        output_init: How every regressor's output layer starts (``'normal'`` or
            ``'mean_shape'``, see :class:`~aan_core.CoordinateRegressor`).

    Returns:
        ``(final regressor, branches)``.
    """
    sizes = list(feature_sizes) if feature_sizes is not None else [None] * len(channels)
    if len(sizes) != len(channels):
        raise ValueError(f"feature_sizes has {len(sizes)} entries for {len(channels)} maps")
    regressor = CoordinateRegressor(channels[-1], num_points, embedding_dim, embedding_sigma,
                                    regressor_input=final_input, feature_size=sizes[-1],
                                    output_init=output_init)
    branch_list = nn.ModuleList(
        CoordinateRegressor(c, num_points, embedding_dim=None, regressor_input=branch_input,
                            feature_size=hw, output_init=output_init)
        for c, hw in zip(channels, sizes, strict=True)) if branches else nn.ModuleList()
    return regressor, branch_list


class LandmarkRegressionModel(nn.Module):
    """Any feature extractor + a final regressor on its last map + optional branches, trained
    with :func:`landmark_loss` on the final and every branch prediction.

    ``forward(x, target)`` returns the training loss (so that ``torch.compile`` of the
    model compiles the whole training forward); :meth:`predict` gives the test-time
    coordinates and never runs the branches.

    The loss weights (named as in ``IntermediateSupervisionLoss``, the MMPose loss): the
    final prediction ``final_weight`` (1) and each branch its ``stage_weights`` entry (1 each
    by default), summed (the paper: "all losses summed"), so a model with four
    branches weighs its data term about 5x as much as one without, against the same weight
    decay (Adam's coupled L2). ``normalise_weights=True`` divides every weight by
    their total, so that every variant's weights sum to 1.

    The first forward in training mode starts the regressors that wait for data
    (``output_init='mean_shape'``: bias = this batch's mean shape, unless
    :meth:`start_at_mean_shape` was called before; ``embedding_sigma='median'``: the
    embedding's bandwidth); loaded weights are never reset.

    Args:
        features: Module returning a sequence of maps, shallow to deep
            (:class:`~aan_core.AANFeatureExtractor`, ``timm_hooks.AttentionFeatures``).
        regressor: The final regressor (reads the last map).
        branches: One regressor per map, or an empty list (no intermediate supervision).
        stage_weights: Loss weight of each branch (default 1 each).
        final_weight: Loss weight of the final prediction.
        normalise_weights: Divide the loss weights by their total (above).

    Shape:
        - x: :math:`(B, 3, H, W)`, target: :math:`(B, K, 2)` in normalised crop units
        - forward: a scalar; predict: :math:`(B, K, 2)`
    """

    def __init__(self, features: nn.Module, regressor: CoordinateRegressor,
                 branches: nn.ModuleList | None = None,
                 stage_weights: Sequence[float] | None = None,
                 normalise_weights: bool = False, final_weight: float = 1.0) -> None:
        super().__init__()
        self.features = features
        self.regressor = regressor
        self.branches = branches if branches is not None else nn.ModuleList()
        weights = ((1.0,) * len(self.branches) if stage_weights is None
                   else tuple(float(w) for w in stage_weights))
        if self.branches and len(weights) != len(self.branches):
            raise ValueError(f"stage_weights needs {len(self.branches)} entries (one per "
                             f"branch), got {weights}")
        weights = (float(final_weight), *weights) if self.branches else (float(final_weight),)
        total = sum(weights) if normalise_weights else 1.0
        # loss weight of the final prediction, then of each branch
        self.loss_weights = tuple(w / total for w in weights)
        self.normalise_weights = normalise_weights
        self.num_points = regressor.num_points

    @property
    def regressors(self) -> list[CoordinateRegressor]:
        """The final regressor, then the branches."""
        return [self.regressor, *self.branches]

    def start_at_mean_shape(self, points: Tensor, weights: Tensor | None = None) -> None:
        """Start every regressor still waiting for data (``output_init='mean_shape'``) at
        the mean shape of ``points`` (:math:`(N, K, 2)`, e.g. the whole training set; see
        :func:`~aan_core.network.coordinate_regressor.mean_shape`)."""
        start_at_mean_shape(self.regressors, points, weights)

    def predict(self, x: Tensor) -> Tensor:
        """Final (test-time) coordinates, :math:`(B, K, 2)` in ``[0, 1]`` crop units."""
        return self.regressor(self.features(x)[-1])

    def predictions(self, x: Tensor) -> list[tuple[float, Tensor]]:
        """``(loss weight, coordinates)`` of the final prediction, then of every branch."""
        feats = self.features(x)
        regressors = [(self.regressor, feats[-1])]
        if self.branches:
            regressors += list(zip(self.branches, feats, strict=True))
        return [(w, reg(f)) for w, (reg, f) in zip(self.loss_weights, regressors,
                                                   strict=True)]

    def forward(self, x: Tensor, target: Tensor) -> Tensor:
        if self.training:
            self.start_at_mean_shape(target)
        return landmark_loss(self.predictions(x), target)


class AANLandmarkModel(LandmarkRegressionModel):
    """The AAN network (Sec. 3) in pure PyTorch: :class:`~aan_core.AANFeatureExtractor`,
    the cosine-embedding regressor on the last stage and a linear branch on every stage.

    The arguments and their defaults are those of the registered MMPose modules
    (``AANBackbone`` and ``CosineEmbeddingHead``); ``input_size`` sizes the ``'flatten'``
    inputs (the head's ``feature_sizes``). ``mm_configs/aan_300w.py``'s network is
    ``AANLandmarkModel(final_input='flatten', branch_input='flatten', input_size=256)``.

    Args:
        num_points: ``K``.
        in_channels, stem_channels, stem_stride, stage_channels, blocks_per_stage,
            attention, attention_forms, pool: See :class:`~aan_core.AANFeatureExtractor`.
        embedding_dim: Width of the final regressor's embedding; ``None``: the "w/o
            embedding" ablation.
        embedding_sigma: A number, ``None`` or ``'median'``; see
            :class:`~aan_core.CoordinateRegressor`.
        final_input, branch_input: Regressor inputs (``'gap'``, ``'flatten'``,
            ``'grid<S>'``).
        input_size: Crop side or ``(H, W)``; needed by ``'flatten'``.
        branches: Intermediate supervision on (one branch per stage) or off.
        stage_weights: Loss weight of each branch (default 1 each).
        final_weight: Loss weight of the final prediction.
        output_init: ``'normal'`` or ``'mean_shape'``: how every regressor starts (see
            :class:`~aan_core.CoordinateRegressor`).
        normalise_weights: See :class:`LandmarkRegressionModel`.

    Shape:
        - x: :math:`(B, 3, H, W)`, target: :math:`(B, K, 2)`
        - forward: the training loss; predict: :math:`(B, K, 2)`

    Example:
        >>> import torch
        >>> model = AANLandmarkModel(num_points=5, stem_channels=8,
        ...                          stage_channels=(8, 16, 16, 32), embedding_dim=16)
        >>> x = torch.randn(2, 3, 64, 64)
        >>> model.predict(x).shape
        torch.Size([2, 5, 2])
        >>> model(x, torch.rand(2, 5, 2)).ndim  # the training loss
        0
    """

    def __init__(
        self,
        num_points: int = 68,
        *,
        in_channels: int = 3,
        stem_channels: int = DEFAULT_STEM_CHANNELS,
        stem_stride: int = 4,
        stage_channels: Sequence[int] = DEFAULT_STAGE_CHANNELS,
        blocks_per_stage: int = 1,
        attention: AttentionSpec = "aan",
        attention_forms: Mapping[str, Callable[..., nn.Module]] | None = None,
        pool: str = "max",
        embedding_dim: int | None = EMBEDDING_DIM,
        embedding_sigma: float | str | None = None,
        final_input: str = "gap",
        branch_input: str = "gap",
        input_size: int | Sequence[int] | None = None,
        branches: bool = True,
        stage_weights: Sequence[float] | None = None,
        final_weight: float = 1.0,
        output_init: str = "normal",
        normalise_weights: bool = False,
    ) -> None:
        features = AANFeatureExtractor(
            in_channels=in_channels, stem_channels=stem_channels, stem_stride=stem_stride,
            stage_channels=stage_channels, blocks_per_stage=blocks_per_stage,
            attention=attention, attention_forms=attention_forms, pool=pool)
        if input_size is None:
            if "flatten" in (final_input, branch_input):
                raise ValueError("AANLandmarkModel: regressor input 'flatten' needs "
                                 "input_size (the crop side or (H, W))")
            sizes = None
        else:
            hw = (input_size, input_size) if isinstance(input_size, int) else input_size
            sizes = features.feature_sizes(tuple(hw))
        regressor, branch_list = make_regressors(
            tuple(stage_channels), num_points, branches=branches, embedding_dim=embedding_dim,
            embedding_sigma=embedding_sigma, final_input=final_input,
            branch_input=branch_input, feature_sizes=sizes, output_init=output_init)
        super().__init__(features, regressor, branch_list, stage_weights,
                         normalise_weights, final_weight)
