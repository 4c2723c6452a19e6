"""AAN's attention blocks: the spatial map ``M``, the paper's gate ``F = (1 + M) * H`` (and its
variants) and the constant-gain control ``F = g * H``.

Pure PyTorch (no MMPose import): ``timm_hooks`` and the MMPose layer both build on it;
:func:`~aan_core.network.attention_factory.create_attention` chooses among them by name.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["AAN_INIT_GAIN", "AttentionGate", "FixedGain", "SpatialAttention"]

AAN_INIT_GAIN = 1.58
"""The default ``g`` of the ``'fixed-gain'`` form (:class:`FixedGain`): the mean gain
``1 + M`` of the paper's gate at initialisation, measured on real faces. Per stage, over seeds
0-2 of ``mm_configs/aan_300w_cpu.py``'s network as built, on one training batch of 32 300W
training faces (training-mode BatchNorm, fp32): 1.582, 1.581, 1.579, 1.579; mean 1.580.
Command: ``python -m bench.attention_init_gain --300w-root DIR`` (2-core AMD EPYC CPU);
``bench/results/attention_init_gain.json`` holds the values, and a test holds this constant to
it."""


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
    """Weights features by their own attention map: ``F = (1 + M(H)) * H`` (the paper's gate).

    With ``mean_one=True`` the gain ``1 + M`` is divided by its mean over the positions of
    each sample, ``F = (1 + M) / mean_xy(1 + M) * H``: the map redistributes the features
    over the image but cannot amplify them on average (the ``'aan-mean-one'`` form of
    :func:`~aan_core.network.attention_factory.create_attention`). The map ``M`` of the last forward
    is kept in :attr:`attention_map` (detached) for visualisation.

    Args:
        channels: Channels of ``H``.
        relu: See :class:`SpatialAttention`.
        mean_one: Rescale the gain to a mean of 1 per sample (above).

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

    def __init__(self, channels: int, relu: bool = True, mean_one: bool = False) -> None:
        super().__init__()
        self.attention = SpatialAttention(channels, relu=relu)
        self.mean_one = mean_one
        self.attention_map: Tensor | None = None

    def position_gain(self, h: Tensor) -> Tensor:
        """The factor ``F / H`` that :meth:`forward` applies at each position,
        ``(B, 1, H, W)``: ``1 + M(h)`` (divided by its per-sample mean with ``mean_one``). Sets
        :attr:`attention_map`. Lets a caller apply the gate's gain elsewhere than to ``h``
        itself (``timm_hooks`` re-applies it after a next stage's per-position norm, which
        cancels it on ``h``).

        Example:
            >>> gate = AttentionGate(8, mean_one=True)
            >>> h = torch.randn(2, 8, 4, 4)
            >>> torch.allclose(gate.position_gain(h) * h, gate(h))
            True
        """
        m = self.attention(h)
        self.attention_map = m.detach()
        return self.gain_from_map(m)

    def gain_from_map(self, m: Tensor) -> Tensor:
        """The gain ``F / H`` of a map ``M``, ``(B, 1, H, W)``: ``1 + M``, divided by its
        per-sample mean with ``mean_one``.

        Example:
            >>> m = torch.tensor([0.5, 1.0]).view(1, 1, 1, 2)
            >>> AttentionGate(8, mean_one=True).gain_from_map(m).flatten().tolist()
            [0.8571428656578064, 1.1428571939468384]
        """
        gain = 1 + m
        if self.mean_one:
            gain = gain / gain.mean(dim=(2, 3), keepdim=True)
        return gain

    def forward(self, h: Tensor) -> Tensor:
        if self.mean_one:
            return h * self.position_gain(h)
        m = self.attention(h)
        self.attention_map = m.detach()
        # (1 + M) * H == H + M * H; the second form avoids materialising (1 + M).
        return torch.addcmul(h, m, h)


class FixedGain(nn.Module):
    """Multiplies features by a constant: ``F = g * H`` (no map, no parameters).

    The control of the paper's gate: its average gain without its spatial map. The default
    ``g`` is :data:`AAN_INIT_GAIN`, the mean gain ``1 + M`` that
    the paper's gate applies at initialisation.

    Args:
        channels: Channels of ``H`` (unused: the gain is the same for all).
        gain: ``g``.

    Shape:
        - Input: :math:`(B, C, H, W)`
        - Output: :math:`(B, C, H, W)`

    Example:
        >>> h = torch.randn(1, 4, 3, 3)
        >>> torch.equal(FixedGain(4, gain=1.5)(h), 1.5 * h)
        True
    """

    def __init__(self, channels: int | None = None, gain: float | None = None) -> None:
        super().__init__()
        self.gain = float(AAN_INIT_GAIN if gain is None else gain)

    def extra_repr(self) -> str:
        return f"gain={self.gain}"

    def position_gain(self, h: Tensor) -> Tensor:
        """The factor ``F / H`` at each position, ``(B, 1, H, W)``: ``g`` everywhere (see
        :meth:`AttentionGate.position_gain`)."""
        return h.new_full((h.shape[0], 1, *h.shape[2:]), self.gain)

    def forward(self, h: Tensor) -> Tensor:
        return h * self.gain
