"""timm_hooks: AAN attention stages on any timm backbone (plain PyTorch + timm, no MMPose).

    >>> import torch
    >>> from timm_hooks import attach_attention
    >>> feats = attach_attention('convnext_atto', pretrained=False)
    >>> maps = feats(torch.randn(1, 3, 128, 128))  # F = (1 + M) * H on every level
    >>> [tuple(f.shape) for f in maps]
    [(1, 40, 32, 32), (1, 80, 16, 16), (1, 160, 8, 8), (1, 320, 4, 4)]
    >>> [tuple(m.shape) for m in feats.attention_maps]  # M of each level, to draw
    [(1, 1, 32, 32), (1, 1, 16, 16), (1, 1, 8, 8), (1, 1, 4, 4)]

The MMPose backbone ``TimmAttentionBackbone`` (``aan_components``) builds on it.
"""

from .attention_features import PLACEMENTS, AttentionFeatures, attach_attention, feature_channels
from .attention_forms import ATTENTION_FORMS, TIMM_FORMS

__all__ = ["ATTENTION_FORMS", "AttentionFeatures", "PLACEMENTS", "TIMM_FORMS",
           "attach_attention", "feature_channels"]
