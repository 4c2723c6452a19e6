"""The AAN building block: a residual bottleneck followed by a spatial attention block.

Pure PyTorch (no MMPose import): ``timm_hooks`` and the MMPose layer both build on it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.models.resnet import Bottleneck, conv1x1

__all__ = ["SpatialAttention", "AttentionGate", "AttentionResidualStage", "make_bottleneck"]


class SpatialAttention(nn.Module):
    """The paper's attention block: ``M(x) = sigmoid(ReLU(BN(conv1x1(x))))``.

    One map per sample, shared by all channels (a *spatial* attention map).

    The paper puts a ReLU before the sigmoid, which confines the map to ``[0.5, 1)``; with
    ``relu=False`` the map spans ``(0, 1)``. Both keep ``F = (1 + M) * H`` within ``[H, 2H]``.

    Args:
        in_channels: Channels of the features the map is computed from.
        relu: Apply the paper's ReLU between BN and sigmoid.

    Shape:
        - Input: :math:`(B, C, H, W)`
        - Output: :math:`(B, 1, H, W)`, values in ``[0, 1]``.

    Example:
        >>> att = SpatialAttention(64)
        >>> att(torch.randn(2, 64, 16, 16)).shape
        torch.Size([2, 1, 16, 16])
    """

    def __init__(self, in_channels: int, relu: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 1, kernel_size=1, bias=False)
        self.bn = nn.BatchNorm2d(1)
        self.act = nn.ReLU(inplace=True) if relu else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.act(self.bn(self.conv(x))))


class AttentionGate(nn.Module):
    """Weights features by their own attention map: ``F = (1 + M(H)) * H``.

    With ``enabled=False`` it returns ``H`` unchanged and owns no parameters (the
    "w/o attention" ablation). The map of the last forward is kept in
    :attr:`attention_map` (detached) for visualisation.

    Args:
        channels: Channels of ``H``.
        enabled: Apply attention; ``False`` makes the gate an identity.
        relu: See :class:`SpatialAttention`.

    Shape:
        - Input: :math:`(B, C, H, W)`
        - Output: :math:`(B, C, H, W)`

    Example:
        >>> gate = AttentionGate(32)
        >>> h = torch.randn(1, 32, 8, 8)
        >>> out = gate(h)
        >>> torch.allclose(out, (1 + gate.attention_map) * h)
        True
    """

    def __init__(self, channels: int, enabled: bool = True, relu: bool = True) -> None:
        super().__init__()
        self.enabled = enabled
        self.attention = SpatialAttention(channels, relu=relu) if enabled else None
        self.attention_map: Tensor | None = None

    def forward(self, h: Tensor) -> Tensor:
        if self.attention is None:
            self.attention_map = None
            return h
        m = self.attention(h)
        self.attention_map = m.detach()
        # (1 + M) * H == H + M * H; the second form avoids materialising (1 + M).
        return torch.addcmul(h, m, h)


def make_bottleneck(in_channels: int, out_channels: int) -> Bottleneck:
    """One ResNet bottleneck block (He et al., "the same as [6]") from ``in`` to ``out``.

    The block's width is ``out_channels // 4`` (ResNet's expansion of 4); a 1x1 projection
    shortcut is added when the channel count changes.
    """
    if out_channels % Bottleneck.expansion:
        raise ValueError(
            f"out_channels={out_channels} must be a multiple of {Bottleneck.expansion} "
            "(the bottleneck expansion)"
        )
    downsample = None
    if in_channels != out_channels:
        downsample = nn.Sequential(conv1x1(in_channels, out_channels), nn.BatchNorm2d(out_channels))
    return Bottleneck(in_channels, out_channels // Bottleneck.expansion, downsample=downsample)


class AttentionResidualStage(nn.Module):
    """One AAN building block: residual bottleneck block(s) ``H``, then ``F = (1 + M) * H``.

    The paper uses one bottleneck per stage (``num_blocks=1``). Spatial resolution is kept;
    the backbone pools between stages.

    Args:
        in_channels: Input channels.
        out_channels: Output channels (a multiple of 4).
        num_blocks: Bottleneck blocks before the attention block.
        attention: Apply the attention block; ``False`` gives ``F = H`` (ablation).
        attention_relu: See :class:`SpatialAttention`.

    Shape:
        - Input: :math:`(B, C_{in}, H, W)`
        - Output: :math:`(B, C_{out}, H, W)`

    Example:
        >>> stage = AttentionResidualStage(64, 128)
        >>> stage(torch.randn(2, 64, 32, 32)).shape
        torch.Size([2, 128, 32, 32])
        >>> stage.attention_map.shape
        torch.Size([2, 1, 32, 32])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_blocks: int = 1,
        attention: bool = True,
        attention_relu: bool = True,
    ) -> None:
        super().__init__()
        if num_blocks < 1:
            raise ValueError(f"num_blocks must be >= 1, got {num_blocks}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        blocks = [make_bottleneck(in_channels, out_channels)]
        blocks += [make_bottleneck(out_channels, out_channels) for _ in range(num_blocks - 1)]
        self.residual = nn.Sequential(*blocks)
        self.gate = AttentionGate(out_channels, enabled=attention, relu=attention_relu)

    @property
    def attention_map(self) -> Tensor | None:
        """The attention map ``M`` of the last forward, ``(B, 1, H, W)``, or ``None``."""
        return self.gate.attention_map

    def forward(self, x: Tensor) -> Tensor:
        return self.gate(self.residual(x))
