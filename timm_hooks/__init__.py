"""timm_hooks: AAN attention stages on any timm backbone (plain PyTorch + timm, no MMPose).

    >>> from timm_hooks import attach_attention
    >>> feats = attach_attention('convnext_atto', pretrained=False)
    >>> maps = feats(torch.randn(1, 3, 128, 128))   # [(1, C_i, H_i, W_i)], F = (1 + M) * H
    >>> feats.attention_maps                         # M of each level, for visualisation

The MMPose backbone ``TimmAttentionBackbone`` (``aan_components``) builds on it.
"""

from .attention_features import AttentionFeatures, attach_attention, feature_channels

__all__ = ["AttentionFeatures", "attach_attention", "feature_channels"]
