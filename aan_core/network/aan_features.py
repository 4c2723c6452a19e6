"""AAN's feature extractor: a stem, then four attention residual stages, each followed by 2x
pooling ("four residual blocks and four pooling layers", Sec. 4.2)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from torch import Tensor, nn

from .attention_factory import AttentionSpec
from .attention_stage import AttentionResidualStage

__all__ = ["AANFeatureExtractor", "DEFAULT_STAGE_CHANNELS", "DEFAULT_STEM_CHANNELS", "make_pool",
           "make_stem"]

DEFAULT_STEM_CHANNELS = 64
"""Channels of the stem (the paper leaves them open; ResNet's stem width)."""
DEFAULT_STAGE_CHANNELS = (128, 256, 512, 1024)
"""Output channels of the four stages (the paper leaves them open). The one place the
default widths are written: ``AANBackbone``, :class:`~aan_core.AANLandmarkModel` and the
bench tools import them."""


def make_stem(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """The convolutional stem before the first stage (left open by the paper).

    Args:
        in_channels: Image channels.
        out_channels: Stem channels.
        stride: 4 (ResNet stem: 7x7/2 conv + 3x3/2 max-pool), 2 (7x7/2 conv) or 1 (3x3 conv).
    """
    layers: list[nn.Module]
    if stride in (2, 4):
        layers = [nn.Conv2d(in_channels, out_channels, 7, stride=2, padding=3, bias=False)]
    elif stride == 1:
        layers = [nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1, bias=False)]
    else:
        raise ValueError(f"stem_stride must be 1, 2 or 4, got {stride}")
    layers += [nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
    if stride == 4:
        layers.append(nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    return nn.Sequential(*layers)


def make_pool(kind: str) -> nn.Module:
    """2x spatial pooling after a stage: ``'max'`` or ``'avg'`` (odd sizes round up)."""
    if kind == "max":
        return nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True)
    if kind == "avg":
        return nn.AvgPool2d(kernel_size=2, stride=2, ceil_mode=True)
    raise ValueError(f"pool must be 'max' or 'avg', got {kind!r}")


class AANFeatureExtractor(nn.Module):
    """Stem + one :class:`AttentionResidualStage` per ``stage_channels`` entry, each + 2x pooling.

    Returns the attention-weighted features of every stage, *after* its pooling (what the
    next stage and the intermediate-supervision branch read), as a tuple ordered shallow to
    deep. The attention maps of the last forward are in :attr:`attention_maps`, at each
    stage's own (pre-pooling) resolution.

    Args:
        in_channels: Image channels.
        stem_channels: Channels of the stem.
        stem_stride: Downsampling of the stem (see :func:`make_stem`). 4 (the ResNet stem's
            max-pool plus the four stage poolings: five poolings); 2 leaves exactly the
            paper's "four pooling layers" (the stem's strided conv only).
        stage_channels: Output channels of each stage (multiples of 4).
        blocks_per_stage: Bottleneck blocks per stage (the paper: 1).
        attention: The attention form after every stage: a name or a dict with options
            (:func:`~aan_core.network.attention_factory.create_attention`); ``'aan'`` is the
            paper's, ``'none'`` the "w/o attention" ablation.
        attention_forms: The forms to choose from (default
            :data:`~aan_core.network.attention_factory.ATTENTION_FORMS`; ``timm_hooks`` adds
            timm's).
        pool: ``'max'`` or ``'avg'`` pooling between stages.

    Shape:
        - Input: :math:`(B, C, H, W)`
        - Output: tuple of :math:`(B, C_i, H / (s 2^{i+1}), W / (s 2^{i+1}))`, ``s`` the stem
          stride, ``i = 0..3``.

    Example:
        >>> import torch
        >>> net = AANFeatureExtractor()
        >>> [tuple(f.shape) for f in net(torch.randn(1, 3, 128, 128))]
        [(1, 128, 16, 16), (1, 256, 8, 8), (1, 512, 4, 4), (1, 1024, 2, 2)]
    """

    def __init__(
        self,
        in_channels: int = 3,
        stem_channels: int = DEFAULT_STEM_CHANNELS,
        stem_stride: int = 4,
        stage_channels: Sequence[int] = DEFAULT_STAGE_CHANNELS,
        blocks_per_stage: int = 1,
        attention: AttentionSpec = "aan",
        attention_forms: Mapping[str, Callable[..., nn.Module]] | None = None,
        pool: str = "max",
    ) -> None:
        super().__init__()
        if len(stage_channels) < 1:
            raise ValueError("stage_channels must name at least one stage")
        self.stem = make_stem(in_channels, stem_channels, stem_stride)
        self.stem_stride = stem_stride
        stages, prev = [], stem_channels
        for ch in stage_channels:
            stages.append(AttentionResidualStage(prev, ch, blocks_per_stage, attention,
                                                 attention_forms))
            prev = ch
        self.stages = nn.ModuleList(stages)
        self.pool = make_pool(pool)
        self.out_channels = tuple(stage_channels)
        self.reductions = tuple(stem_stride * 2 ** (i + 1) for i in range(len(stage_channels)))

    def feature_sizes(self, input_size: tuple[int, int]) -> tuple[tuple[int, int], ...]:
        """``(H_i, W_i)`` of every returned feature map for an ``input_size = (H, W)`` image
        (each stride-2 step rounds up), e.g. the ``feature_size`` a ``'flatten'``
        :class:`~aan_core.CoordinateRegressor` needs."""
        h, w = (int(v) for v in input_size)
        steps = {4: 2, 2: 1, 1: 0}[self.stem_stride]
        for _ in range(steps):
            h, w = -(-h // 2), -(-w // 2)
        sizes = []
        for _ in self.stages:
            h, w = -(-h // 2), -(-w // 2)
            sizes.append((h, w))
        return tuple(sizes)

    @property
    def attention_maps(self) -> tuple[Tensor | None, ...]:
        """Each stage's attention map ``M`` from the last forward (``None``: a form without a
        spatial map)."""
        return tuple(stage.attention_map for stage in self.stages)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        x = self.stem(x)
        outs = []
        for stage in self.stages:
            x = self.pool(stage(x))
            outs.append(x)
        return tuple(outs)
