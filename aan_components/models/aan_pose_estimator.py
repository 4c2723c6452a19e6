"""``AANPoseEstimator``: a TopdownPoseEstimator whose head is sized by its backbone."""

from __future__ import annotations

import copy

from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS


def _backbone_class(backbone: dict, method: str, what: str):
    cls = MODELS.get(backbone["type"])
    if cls is None or not hasattr(cls, method):
        raise ValueError(
            f"head.{what}='auto' needs a backbone that can tell its {what.replace('_', ' ')} "
            f"({'AANBackbone, TimmAttentionBackbone' if what == 'in_channels' else 'AANBackbone'}"
            f"); {backbone['type']} cannot, so give head.{what} explicitly")
    return cls


def backbone_channels(backbone: dict) -> tuple[int, ...]:
    """Output channels of a backbone config, from the backbone class's
    ``channels_from_config`` (``AANBackbone``; ``TimmAttentionBackbone`` reads timm's
    ``feature_info`` on the meta device): nothing is built or loaded."""
    return tuple(_backbone_class(backbone, "channels_from_config", "in_channels")
                 .channels_from_config(backbone))


def backbone_feature_sizes(backbone: dict, input_size) -> tuple[tuple[int, int], ...]:
    """``(H, W)`` of every output of a backbone config for an ``input_size = (W, H)`` crop
    (MMPose's order, as the codec gives it), from the backbone's own geometry (its stem
    stride and stages: ``AANBackbone.feature_sizes_from_config``), nothing typed by hand."""
    cls = _backbone_class(backbone, "feature_sizes_from_config", "feature_sizes")
    width, height = input_size
    return tuple(tuple(s) for s in cls.feature_sizes_from_config(backbone, (height, width)))


def resolve_head_sizes(model: dict) -> dict:
    """``model`` (a pose estimator config) with the head's ``'auto'`` sizes filled in:
    ``in_channels`` from the backbone's outputs and ``feature_sizes`` from the backbone's
    geometry at the codec's crop (``head.decoder.input_size``), so a config states its crop
    size once, in its codec. Other values are returned as given.

    Example:
        >>> import aan_components.plugin
        >>> model = dict(backbone=dict(type='AANBackbone', stem_stride=4),
        ...              head=dict(in_channels='auto', feature_sizes='auto',
        ...                        decoder=dict(type='RegressionLabel', input_size=(128, 96))))
        >>> head = resolve_head_sizes(model)['head']
        >>> head['in_channels'], head['feature_sizes']
        ((128, 256, 512, 1024), ((12, 16), (6, 8), (3, 4), (2, 2)))
    """
    head = model.get("head")
    if head is None or "auto" not in (head.get("in_channels"), head.get("feature_sizes")):
        return model
    if MODELS.get(model["backbone"]["type"]) is None:
        return model  # building the backbone names the unknown type
    model, head = copy.deepcopy(model), copy.deepcopy(head)
    if head.get("in_channels") == "auto":
        head["in_channels"] = backbone_channels(model["backbone"])
    if head.get("feature_sizes") == "auto":
        input_size = (head.get("decoder") or {}).get("input_size")
        if input_size is None:
            raise ValueError("head.feature_sizes='auto' reads the crop size from "
                             "head.decoder.input_size (the codec); the head has no decoder "
                             "with an input_size")
        head["feature_sizes"] = backbone_feature_sizes(model["backbone"], input_size)
    model["head"] = head
    return model


@MODELS.register_module()
class AANPoseEstimator(TopdownPoseEstimator):
    """MMPose's ``TopdownPoseEstimator``, plus a head sized by its backbone:
    ``head.in_channels='auto'`` gets the channels of every backbone output (one intermediate
    branch each; timm's ``feature_info`` for ``TimmAttentionBackbone``), and
    ``head.feature_sizes='auto'`` the size of every output map at the codec's crop
    (``head.decoder.input_size``), from the backbone's stem stride and stages
    (:func:`resolve_head_sizes`). Swapping backbones, stem strides or crop sizes then
    retypes no channel list or map size.

    All arguments are ``TopdownPoseEstimator``'s.
    """

    def __init__(self, backbone: dict, neck: dict | None = None, head: dict | None = None,
                 **kwargs) -> None:
        head = resolve_head_sizes(dict(backbone=backbone, head=head))["head"]
        super().__init__(backbone=backbone, neck=neck, head=head, **kwargs)
        built = getattr(self.backbone, "out_channels", None)
        if built is not None and head is not None and not isinstance(
                head.get("in_channels"), int) and tuple(built) != tuple(head["in_channels"]):
            raise ValueError(
                f"head.in_channels={tuple(head['in_channels'])} but the backbone gives "
                f"{tuple(built)} channels; use head.in_channels='auto'")
