"""``argparse`` types of the ``aan`` tools: a bad number is a usage error (exit 2, one line),
not a traceback later."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["non_negative_float", "positive_float", "positive_int"]


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
