"""One extension point for the attention after a stage, in the style of timm's
``create_attn``: a form is chosen by name, or by a dict with options, and anything else is
refused naming the forms it knows.

The forms of this package (pure PyTorch):

- ``'aan'``: the paper's gate ``F = (1 + M) * H``, ``M = sigmoid(ReLU(BN(conv1x1 H)))``;
- ``'aan-norelu'``: the same without the ReLU (``M`` in ``(0, 1)``);
- ``'aan-mean-one'``: the paper's gain rescaled to a mean of 1 over each sample's positions,
  ``F = (1 + M) / mean_xy(1 + M) * H``: it redistributes, it cannot amplify;
- ``'fixed-gain'``: ``F = g * H``, the paper's average gain at initialisation without its map
  (option ``gain``; default :data:`~aan_core.network.attention.AAN_INIT_GAIN`);
- ``'none'``: ``F = H``, no parameters (the "w/o attention" ablation).

``timm_hooks.ATTENTION_FORMS`` adds timm's own ``'se'``, ``'eca'`` and ``'cbam'`` (created by
``timm.layers.create_attn``); this package does not import timm.

The switches of earlier versions still load: ``attention=True`` is ``'aan'``, ``False`` is
``'none'``, and the config-level ``attention_relu=False`` is ``'aan-norelu'``
(:func:`legacy_attention`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from types import MappingProxyType

from torch import nn

from .attention import AttentionGate, FixedGain
from .attention_spec import AttentionSpec, attention_name, legacy_attention

__all__ = ["ATTENTION_FORMS", "AttentionSpec", "attention_name", "create_attention",
           "legacy_attention"]

def _no_attention(channels: int) -> nn.Module:
    return nn.Identity()


ATTENTION_FORMS: Mapping[str, Callable[..., nn.Module]] = MappingProxyType({
    "aan": AttentionGate,
    "aan-norelu": partial(AttentionGate, relu=False),
    "aan-mean-one": partial(AttentionGate, mean_one=True),
    "fixed-gain": FixedGain,
    "none": _no_attention,
})
"""Form name -> ``builder(channels, **options)`` returning the module that maps ``H`` to
``F``. A form with a spatial map keeps it in the module's ``attention_map``."""


def create_attention(attention: AttentionSpec, channels: int,
                     forms: Mapping[str, Callable[..., nn.Module]] | None = None) -> nn.Module:
    """The module of an attention form for a ``channels``-channel stage output.

    Args:
        attention: A form's name, ``dict(type=name, **options)`` (the options go to the
            form's builder), or an earlier version's ``True`` / ``False``.
        channels: Channels of the stage output ``H``.
        forms: The forms to choose from (default :data:`ATTENTION_FORMS`;
            ``timm_hooks.ATTENTION_FORMS`` adds timm's).

    Raises:
        ValueError: An unknown form, or options the form does not take; one line naming
            the forms it knows.

    Shape:
        - Input of the module: :math:`(B, C, H, W)`
        - Output of the module: :math:`(B, C, H, W)`

    Example:
        >>> import torch
        >>> gate = create_attention(dict(type='fixed-gain', gain=2.0), 8)
        >>> h = torch.ones(1, 8, 2, 2)
        >>> float(gate(h).mean())
        2.0
        >>> create_attention('none', 8)
        Identity()
        >>> create_attention('sea', 8)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: attention='sea' is not a known form; known forms: 'aan', 'aan-mean-one', ...
    """
    forms = ATTENTION_FORMS if forms is None else forms
    name = attention_name(attention)
    options = {k: v for k, v in attention.items() if k != "type"} if isinstance(
        attention, Mapping) else {}
    known = ", ".join(repr(k) for k in sorted(forms))
    if name not in forms:
        raise ValueError(f"attention={name!r} is not a known form; known forms: {known}")
    if not options:
        return forms[name](channels)
    try:
        return forms[name](channels, **options)
    except TypeError as err:
        raise ValueError(f"attention={dict(attention)!r}: form {name!r} does not take these "
                         f"options ({err})") from err
