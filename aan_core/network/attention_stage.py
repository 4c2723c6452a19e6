"""The AAN building block: a residual bottleneck followed by an attention form (the paper's:
``F = (1 + M) * H``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from torch import Tensor, nn
from torchvision.models.resnet import Bottleneck, conv1x1

from .attention_factory import AttentionSpec, create_attention

__all__ = ["AttentionResidualStage", "make_bottleneck"]


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
    """One AAN building block: residual bottleneck block(s) ``H``, then an attention form
    (the paper's: ``F = (1 + M) * H``).

    The paper uses one bottleneck per stage (``num_blocks=1``). Spatial resolution is kept;
    the backbone pools between stages.

    Args:
        in_channels: Input channels.
        out_channels: Output channels (a multiple of 4).
        num_blocks: Bottleneck blocks before the attention block.
        attention: The attention form, a name or a dict with options (see
            :func:`~aan_core.network.attention_factory.create_attention`); ``'none'`` gives
            ``F = H`` (the ablation).
        attention_forms: The forms to choose from (default
            :data:`~aan_core.network.attention_factory.ATTENTION_FORMS`).

    Shape:
        - Input: :math:`(B, C_{in}, H, W)`
        - Output: :math:`(B, C_{out}, H, W)`

    Example:
        >>> import torch
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
        attention: AttentionSpec = "aan",
        attention_forms: Mapping[str, Callable[..., nn.Module]] | None = None,
    ) -> None:
        super().__init__()
        if num_blocks < 1:
            raise ValueError(f"num_blocks must be >= 1, got {num_blocks}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        blocks = [make_bottleneck(in_channels, out_channels)]
        blocks += [make_bottleneck(out_channels, out_channels) for _ in range(num_blocks - 1)]
        self.residual = nn.Sequential(*blocks)
        self.gate = create_attention(attention, out_channels, attention_forms)

    @property
    def attention_map(self) -> Tensor | None:
        """The spatial map ``M`` of the last forward, ``(B, 1, H, W)``, or ``None`` (a form
        without one)."""
        return getattr(self.gate, "attention_map", None)

    def forward(self, x: Tensor) -> Tensor:
        return self.gate(self.residual(x))
