"""``AANPoseEstimator``: a TopdownPoseEstimator whose head can be sized by its backbone."""

from __future__ import annotations

import copy

from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS


def backbone_channels(backbone: dict) -> tuple[int, ...]:
    """Output channels of a backbone config, from the backbone class's
    ``channels_from_config`` (``AANBackbone``; ``TimmAttentionBackbone`` reads timm's
    ``feature_info`` on the meta device): nothing is built or loaded."""
    cls = MODELS.get(backbone["type"])
    if cls is None or not hasattr(cls, "channels_from_config"):
        raise ValueError(
            f"head.in_channels='auto' needs a backbone that can tell its channels "
            f"(AANBackbone, TimmAttentionBackbone); {backbone['type']} cannot, so give "
            f"head.in_channels explicitly")
    return tuple(cls.channels_from_config(backbone))


@MODELS.register_module()
class AANPoseEstimator(TopdownPoseEstimator):
    """MMPose's ``TopdownPoseEstimator``, plus ``head.in_channels='auto'``: the head then
    gets the channels of every backbone output (one intermediate branch each), read from
    the backbone (timm's ``feature_info`` for ``TimmAttentionBackbone``), so swapping
    backbones is one config line and no channel list is typed by hand.

    All arguments are ``TopdownPoseEstimator``'s.
    """

    def __init__(self, backbone: dict, neck: dict | None = None, head: dict | None = None,
                 **kwargs) -> None:
        if head is not None and head.get("in_channels") == "auto":
            head = copy.deepcopy(head)
            head["in_channels"] = backbone_channels(backbone)
        super().__init__(backbone=backbone, neck=neck, head=head, **kwargs)
        built = getattr(self.backbone, "out_channels", None)
        if built is not None and head is not None and not isinstance(
                head.get("in_channels"), int) and tuple(built) != tuple(head["in_channels"]):
            raise ValueError(
                f"head.in_channels={tuple(head['in_channels'])} but the backbone gives "
                f"{tuple(built)} channels; use head.in_channels='auto'")
