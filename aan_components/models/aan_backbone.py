"""``AANBackbone``: the AAN feature extractor as an MMPose backbone."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmpose.models.backbones.base_backbone import BaseBackbone
from mmpose.registry import MODELS
from torch import Tensor

from aan_core import DEFAULT_STAGE_CHANNELS, DEFAULT_STEM_CHANNELS, AANFeatureExtractor
from aan_core.network.attention_factory import AttentionSpec, legacy_attention
from timm_hooks import ATTENTION_FORMS


@MODELS.register_module()
class AANBackbone(BaseBackbone):
    """Stem + four attention residual stages, each followed by 2x pooling (AAN, Sec. 3.1).

    Returns the attention-weighted features (the paper's ``F = (1 + M) * H``) of the stages in
    ``out_indices`` (after each stage's pooling), as a tuple, MMPose's convention. The
    attention maps of the last forward are in :attr:`attention_maps` (Fig. 4).

    Args:
        in_channels: Image channels.
        stem_channels: Channels of the stem.
        stem_stride: 4 (ResNet stem: 7x7/2 conv + 3x3/2 max-pool, so five poolings with the
            stages'), 2 (7x7/2 conv only: exactly the paper's "four pooling layers") or 1.
        stage_channels: Output channels of each stage (multiples of 4).
        blocks_per_stage: Bottleneck blocks per stage (the paper: 1).
        attention: The attention form after every stage, a name or a dict with options
            (``aan_core.create_attention``; timm's ``'se'``, ``'eca'``, ``'cbam'``
            included): ``'aan'`` the paper's, ``'none'`` the "w/o attention" ablation
            (``F = H``), ``'aan-norelu'``, ``'aan-mean-one'``, ``'fixed-gain'``. The
            earlier ``True`` / ``False`` still load as ``'aan'`` / ``'none'``.
        attention_relu: The earlier switch of the paper's ReLU: ``False`` loads as
            ``attention='aan-norelu'`` (old configs); new configs name the form.
        pool: ``'max'`` or ``'avg'`` pooling after each stage.
        out_indices: Stages whose features are returned (default: all).
        init_cfg: mmengine init config (e.g. ``dict(type='Pretrained', checkpoint=...)``).

    Shape:
        - Input: :math:`(B, 3, H, W)`
        - Output: tuple of :math:`(B, C_i, H / r_i, W / r_i)`, ``r_i`` in
          :attr:`reductions`.

    Example:
        >>> import aan_components.plugin, torch
        >>> from mmpose.registry import MODELS
        >>> net = MODELS.build(dict(type='AANBackbone'))
        >>> [f.shape[1] for f in net(torch.randn(1, 3, 128, 128))]
        [128, 256, 512, 1024]
    """

    def __init__(
        self,
        in_channels: int = 3,
        stem_channels: int = DEFAULT_STEM_CHANNELS,
        stem_stride: int = 4,
        stage_channels: Sequence[int] = DEFAULT_STAGE_CHANNELS,
        blocks_per_stage: int = 1,
        attention: AttentionSpec = "aan",
        attention_relu: bool | None = None,
        pool: str = "max",
        out_indices: Sequence[int] = (0, 1, 2, 3),
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.features = AANFeatureExtractor(
            in_channels=in_channels,
            stem_channels=stem_channels,
            stem_stride=stem_stride,
            stage_channels=stage_channels,
            blocks_per_stage=blocks_per_stage,
            attention=legacy_attention(attention, attention_relu),
            attention_forms=ATTENTION_FORMS,
            pool=pool,
        )
        num_stages = len(stage_channels)
        out_indices = tuple(i + num_stages if i < 0 else i for i in out_indices)
        if not out_indices or any(not 0 <= i < num_stages for i in out_indices):
            raise ValueError(
                f"AANBackbone.out_indices={out_indices} must name stages in [0, {num_stages})"
            )
        self.out_indices = out_indices

    @staticmethod
    def channels_from_config(cfg: dict) -> tuple[int, ...]:
        """Output channels for a config of this backbone, without building it."""
        channels = tuple(cfg.get("stage_channels", DEFAULT_STAGE_CHANNELS))
        return tuple(channels[i] for i in cfg.get("out_indices", range(len(channels))))

    @classmethod
    def feature_sizes_from_config(cls, cfg: dict, input_size: Sequence[int]
                                  ) -> tuple[tuple[int, int], ...]:
        """:meth:`feature_sizes` for a config of this backbone, built on the meta device (no
        memory, no weights): the geometry is the backbone's own, whatever its stem stride."""
        with torch.device("meta"):
            net = cls(**{k: v for k, v in cfg.items() if k not in ("type", "init_cfg")})
        return net.feature_sizes(input_size)

    @property
    def out_channels(self) -> tuple[int, ...]:
        """Channels of each returned feature map."""
        return tuple(self.features.out_channels[i] for i in self.out_indices)

    @property
    def reductions(self) -> tuple[int, ...]:
        """Stride of each returned feature map w.r.t. the input."""
        return tuple(self.features.reductions[i] for i in self.out_indices)

    def feature_sizes(self, input_size: Sequence[int]) -> tuple[tuple[int, int], ...]:
        """``(H, W)`` of each returned feature map for an ``input_size = (H, W)`` image (what
        ``CosineEmbeddingHead.feature_sizes`` needs for ``'flatten'``)."""
        sizes = self.features.feature_sizes(tuple(input_size))
        return tuple(sizes[i] for i in self.out_indices)

    @property
    def attention_maps(self) -> tuple[Tensor | None, ...]:
        """Attention map of every stage from the last forward, shallow to deep."""
        return self.features.attention_maps

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        outs = self.features(x)
        return tuple(outs[i] for i in self.out_indices)
