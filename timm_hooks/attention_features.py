"""Attention stages on any timm backbone: ``F = (1 + M) * H`` on each selected feature map."""

from __future__ import annotations

from collections.abc import Sequence

import timm
import torch
from timm.models._features import FeatureGetterNet, FeatureInfo
from torch import Tensor, nn

from aan_core import AttentionGate

__all__ = ["AttentionFeatures", "attach_attention", "feature_channels"]


def feature_channels(model_name: str, out_indices: Sequence[int] | None = None,
                     **timm_kwargs) -> tuple[int, ...]:
    """Channels of each feature level of a timm model, from its ``feature_info``, without
    allocating or loading weights (the model is built on the ``meta`` device)."""
    kwargs = dict(timm_kwargs)
    if out_indices is not None:
        kwargs["out_indices"] = tuple(out_indices)
    with torch.device("meta"):
        model = timm.create_model(model_name, pretrained=False, features_only=True, **kwargs)
    return tuple(model.feature_info.channels())


def _is_nhwc(features: nn.Module) -> bool:
    fmt = getattr(features, "output_fmt", "NCHW")
    return getattr(fmt, "value", str(fmt)) == "NHWC"


class AttentionFeatures(nn.Module):
    """A timm feature extractor whose every output map is weighted by its own spatial
    attention map (AAN's attention block, from ``aan_core``).

    Outputs are NCHW whatever the family (Swin-like models emit NHWC; they are permuted).
    ``feature_info`` is the wrapped model's (channels, reduction, module of each output), so
    code written for timm's ``features_only`` models works unchanged.

    Args:
        features: A timm feature extractor (``features_only=True``, or a ``FeatureGetterNet``).
        attention: Apply attention; ``False`` returns the backbone's own maps (ablation).
        attention_relu: The paper's ReLU before the sigmoid (map in ``[0.5, 1)``).

    Shape:
        - Input: :math:`(B, 3, H, W)`
        - Output: list of :math:`(B, C_i, H / r_i, W / r_i)` with ``C_i, r_i`` from
          ``feature_info``.

    Example:
        >>> feats = attach_attention('resnet18', out_indices=(1, 2, 3, 4))
        >>> [f.shape[1] for f in feats(torch.randn(1, 3, 64, 64))]
        [64, 128, 256, 512]
        >>> feats.feature_info.reduction()
        [4, 8, 16, 32]
    """

    def __init__(self, features: nn.Module, attention: bool = True,
                 attention_relu: bool = True) -> None:
        super().__init__()
        info = getattr(features, "feature_info", None)
        if not isinstance(info, FeatureInfo):
            raise TypeError(
                f"AttentionFeatures needs a timm feature extractor (a model created with "
                f"features_only=True); {type(features).__name__} has no timm FeatureInfo. "
                f"Use attach_attention(), which converts a regular timm model.")
        self.features = features
        self.feature_info = info
        self.nhwc = _is_nhwc(features)
        self.gates = nn.ModuleList(
            AttentionGate(c, enabled=attention, relu=attention_relu) for c in info.channels())

    @property
    def out_channels(self) -> tuple[int, ...]:
        return tuple(self.feature_info.channels())

    @property
    def attention_maps(self) -> tuple[Tensor | None, ...]:
        """Each output's attention map ``M`` from the last forward (``None`` if disabled)."""
        return tuple(g.attention_map for g in self.gates)

    def forward(self, x: Tensor) -> list[Tensor]:
        feats = self.features(x)
        if isinstance(feats, dict):
            feats = list(feats.values())
        if len(feats) != len(self.gates):
            raise RuntimeError(
                f"{type(self.features).__name__} returned {len(feats)} feature maps but its "
                f"feature_info lists {len(self.gates)}")
        out = []
        for f, gate in zip(feats, self.gates, strict=True):
            if self.nhwc:
                f = f.permute(0, 3, 1, 2)
            out.append(gate(f))
        return out


def attach_attention(model: str | nn.Module, out_indices: Sequence[int] | None = None,
                     pretrained: bool = False, attention: bool = True,
                     attention_relu: bool = True, **timm_kwargs) -> AttentionFeatures:
    """Put AAN attention on the feature maps of a timm backbone.

    Args:
        model: A timm model name (created with ``features_only=True``), a timm
            ``features_only`` model, or a regular timm model that supports
            ``forward_intermediates`` (wrapped with timm's ``FeatureGetterNet``, which drops
            its classifier). Existing weights (pretrained or trained) are kept as they are;
            only the new attention blocks are initialised.
        out_indices: Which feature levels to return (timm's meaning); ``None``: timm's
            default. Not allowed with an already built ``features_only`` model (its levels
            are fixed).
        pretrained: With a name: load timm's pretrained weights (from the local cache or
            the hub; this project never downloads them itself).
        attention: ``False``: no attention (ablation), same outputs as the backbone.
        attention_relu: See :class:`AttentionFeatures`.
        **timm_kwargs: Passed to ``timm.create_model`` (e.g. ``img_size`` for ViTs).

    Raises:
        TypeError: ``model`` is neither a name nor a timm model that can give features; the
            message says why.
    """
    if isinstance(model, str):
        kwargs = dict(timm_kwargs)
        if out_indices is not None:
            kwargs["out_indices"] = tuple(out_indices)
        try:
            features = timm.create_model(model, pretrained=pretrained, features_only=True,
                                         **kwargs)
        except RuntimeError as err:
            raise TypeError(f"timm model {model!r} cannot give feature maps "
                            f"(features_only): {err}") from err
    elif isinstance(getattr(model, "feature_info", None), FeatureInfo):
        if out_indices is not None:
            raise ValueError(
                "out_indices cannot be changed on an already built features_only model; "
                "create it with the out_indices you need")
        features = model
    elif hasattr(model, "forward_intermediates"):
        features = FeatureGetterNet(model, out_indices=tuple(out_indices) if out_indices
                                    else 4, output_fmt="NCHW")
    else:
        raise TypeError(
            f"{type(model).__name__} is not a timm model with feature maps: it is neither "
            f"features_only nor supports forward_intermediates; create it with "
            f"timm.create_model(name, features_only=True)")
    return AttentionFeatures(features, attention=attention, attention_relu=attention_relu)
