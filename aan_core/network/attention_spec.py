"""How an attention form is named: a form's name, a dict with options, or an earlier
version's switch; pure Python (no torch), so that tools reading configs stay light.
:func:`aan_core.create_attention` builds the forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

__all__ = ["AttentionSpec", "attention_name", "legacy_attention"]

AttentionSpec = Union[str, bool, Mapping[str, Any], None]
"""A form's name, a dict ``dict(type=name, **options)``, or an earlier version's switch
(``True``: ``'aan'``; ``False`` or ``None``: ``'none'``)."""


def attention_name(attention: AttentionSpec) -> str:
    """The form's name of a spec (an earlier version's switch included), as recorded.

    Example:
        >>> attention_name(True), attention_name(dict(type='fixed-gain', gain=1.5))
        ('aan', 'fixed-gain')
    """
    if attention is None or isinstance(attention, bool):
        return "aan" if attention else "none"
    if isinstance(attention, str):
        return attention
    if isinstance(attention, Mapping) and isinstance(attention.get("type"), str):
        return attention["type"]
    raise ValueError(f"attention={attention!r}: give a form's name or a dict with a 'type' "
                     f"(e.g. dict(type='fixed-gain', gain=1.6))")


def legacy_attention(attention: AttentionSpec, attention_relu: bool | None) -> AttentionSpec:
    """``attention`` with an earlier version's ``attention_relu`` switch folded in
    (``attention_relu=False`` with the paper's gate is ``'aan-norelu'``).

    Example:
        >>> legacy_attention(True, False), legacy_attention('none', False)
        ('aan-norelu', 'none')
    """
    if attention_relu is None or attention_relu:
        return attention
    name = attention_name(attention)
    if name in ("aan", "aan-norelu"):
        return "aan-norelu"
    if name == "none":
        return attention
    raise ValueError(f"attention_relu=False is the earlier switch of the paper's gate; with "
                     f"attention={name!r} drop it (or use attention='aan-norelu')")
