"""``argparse`` types and actions of the ``aan`` tools: a bad number or option is a usage
error (exit 2, one line), not a traceback later."""

from __future__ import annotations

import argparse
import copy
import math
from collections.abc import Callable

__all__ = ["ConfigOptions", "int_in_range", "non_negative_float", "positive_float",
           "positive_int"]


def _bounded(convert: Callable[[str], float], kind: str, minimum: float,
             strict: bool) -> Callable[[str], float]:
    """An ``argparse`` type: ``convert(text)``, finite and > (``strict``) or >= ``minimum``."""
    bound = f"{'>' if strict else '>='} {minimum:g}"

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind} {bound}, got {text!r}") from None
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"must be {kind} {bound}, got {text}")
        return value

    return parse


positive_int = _bounded(int, "an integer", 1, strict=False)
positive_float = _bounded(float, "a number", 0, strict=True)
non_negative_float = _bounded(float, "a number", 0, strict=False)


def int_in_range(low: int, high: int) -> Callable[[str], int]:
    """An ``argparse`` type: an integer from ``low`` to ``high`` (both included).

    Example:
        >>> int_in_range(0, 100)("95")
        95
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer in {low}..{high}, got "
                                             f"{text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer in {low}..{high}, got {text}")
        return value

    return parse


class ConfigOptions(argparse.Action):
    """``--cfg-options KEY=VALUE ...`` as mmengine's ``DictAction`` reads them (values parsed
    the same way), with an item that is not ``KEY=VALUE`` a usage error (``DictAction``
    ended in a traceback: "not enough values to unpack")."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from mmengine.config import DictAction

        options = copy.copy(getattr(namespace, self.dest, None) or {})
        for item in values or ():
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise argparse.ArgumentError(self, f"expected KEY=VALUE (e.g. "
                                                   f"train_cfg.max_iters=100), got {item!r}")
            options[key] = DictAction._parse_iterable(value)
        setattr(namespace, self.dest, options)
