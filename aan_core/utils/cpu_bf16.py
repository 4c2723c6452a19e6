"""Whether this CPU computes in bf16 natively: what decides if a CPU trains under bf16
autocast (the CPU switch, ``bench/aan_study.py``) or stays in fp32, as bf16 emulated in
software is slower than fp32.

Example:
    >>> isinstance(cpu_supports_bf16(), bool)
    True
"""

from __future__ import annotations

import torch

__all__ = ["cpu_supports_bf16"]


def cpu_supports_bf16() -> bool:
    """Whether this CPU runs bf16 natively (oneDNN finds AVX512-BF16 or AMX)."""
    check = getattr(getattr(torch.ops, "mkldnn", None), "_is_mkldnn_bf16_supported", None)
    return bool(torch.backends.mkldnn.is_available() and check is not None and check())
