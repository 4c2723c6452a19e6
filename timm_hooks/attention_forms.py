"""The attention forms a stage output can take, timm's own included: ``aan_core``'s (the
paper's gate and its controls) plus timm's ``'se'``, ``'eca'`` and ``'cbam'``, created by
``timm.layers.create_attn`` (not rewritten here)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from types import MappingProxyType

from timm.layers import create_attn
from torch import nn

from aan_core.network import attention_factory

__all__ = ["ATTENTION_FORMS", "TIMM_FORMS"]

TIMM_FORMS = ("se", "eca", "cbam")
"""timm's attention layers that take a ``(B, C, H, W)`` map and return one of the same shape
(squeeze-excitation, efficient channel attention, CBAM's channel + spatial attention)."""

ATTENTION_FORMS: Mapping[str, Callable[..., nn.Module]] = MappingProxyType({
    **attention_factory.ATTENTION_FORMS,
    **{name: partial(create_attn, name) for name in TIMM_FORMS},
})
"""``aan_core``'s forms and timm's, for
:func:`~aan_core.network.attention_factory.create_attention` (``forms=``): a name, or
``dict(type=name, **options)`` whose options go to timm's module (e.g. ``rd_ratio``).

Example:
    >>> from aan_core import create_attention
    >>> type(create_attention('eca', 64, ATTENTION_FORMS)).__name__
    'EcaModule'
"""
