"""``TimmAttentionBackbone``: any timm backbone with AAN attention stages, for MMPose."""

from __future__ import annotations

from collections.abc import Sequence

from mmpose.models.backbones.base_backbone import BaseBackbone
from mmpose.registry import MODELS
from torch import Tensor

from aan_core.network.attention_factory import AttentionSpec, legacy_attention
from timm_hooks import attach_attention, feature_channels


@MODELS.register_module()
class TimmAttentionBackbone(BaseBackbone):
    """A timm model's feature maps, each through an attention form (AAN's ``(1 + M) * H`` by
    default).

    One config line swaps the AAN backbone for any timm family (CNNs, hierarchical
    transformers with NHWC features, plain ViTs). Use it with ``AANPoseEstimator`` and
    ``head.in_channels='auto'`` to size the head from timm's ``feature_info``.

    With ``placement='in_stage'`` (default) each selected stage's gated map feeds the next
    stage, as in AAN's own network; ``'outputs_only'`` gates only the maps the head reads
    (see ``timm_hooks.AttentionFeatures``). Both have the same parameters: a checkpoint
    does not tell them apart, so load one into the placement it was trained with.

    Args:
        model_name: timm model name.
        pretrained: Load timm's pretrained weights (local cache or hub).
        out_indices: Feature levels (timm's meaning); ``None``: timm's default.
        attention: The form, a name or a dict with options
            (``timm_hooks.ATTENTION_FORMS``: ``'aan'``, ``'none'`` (the plain timm
            features), ``'aan-norelu'``, ``'aan-mean-one'``, ``'fixed-gain'``, timm's
            ``'se'``, ``'eca'``, ``'cbam'``). The earlier ``True`` / ``False`` still load as
            ``'aan'`` / ``'none'``.
        attention_relu: The earlier switch of the paper's ReLU: ``False`` loads as
            ``attention='aan-norelu'`` (old configs).
        placement: ``'in_stage'`` or ``'outputs_only'`` (above).
        timm_kwargs: Extra ``timm.create_model`` arguments (e.g. ``img_size`` for ViTs).
        init_cfg: mmengine init config.
    """

    def __init__(self, model_name: str, pretrained: bool = False,
                 out_indices: Sequence[int] | None = None, attention: AttentionSpec = "aan",
                 attention_relu: bool | None = None, placement: str = "in_stage",
                 timm_kwargs: dict | None = None, init_cfg: dict | list | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.body = attach_attention(model_name, out_indices=out_indices, pretrained=pretrained,
                                     attention=legacy_attention(attention, attention_relu),
                                     placement=placement, **(timm_kwargs or {}))

    @staticmethod
    def channels_from_config(cfg: dict) -> tuple[int, ...]:
        """Output channels for a config of this backbone, without building it."""
        return feature_channels(cfg["model_name"], cfg.get("out_indices"),
                                **(cfg.get("timm_kwargs") or {}))

    @property
    def feature_info(self):
        return self.body.feature_info

    @property
    def out_channels(self) -> tuple[int, ...]:
        return self.body.out_channels

    @property
    def attention_maps(self) -> tuple[Tensor | None, ...]:
        return self.body.attention_maps

    def init_weights(self) -> None:
        # timm initialised (or loaded) its weights already; only an explicit init_cfg (e.g.
        # a Pretrained checkpoint) changes them.
        if self.init_cfg:
            super().init_weights()

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.body(x))
