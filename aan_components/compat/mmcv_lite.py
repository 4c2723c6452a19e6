"""Make MMPose importable on ``mmcv-lite`` (mmcv without compiled ops).

``import mmpose.models`` imports ``mmcv.ops`` unconditionally (EDPose's deformable attention),
and ``mmcv.ops`` fails on mmcv-lite because ``mmcv._ext`` does not exist. When, and only
when, that is the failure, :func:`install_missing_ops_module` puts a module at ``mmcv.ops``
whose names are classes that raise :class:`MissingCompiledOpError` when used. Every MMPose
model that needs no compiled op then works; one that does fails when it is built, with an
error naming the op and how to get it. With full mmcv nothing is touched.
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings

from torch import nn

__all__ = ["MissingCompiledOpError", "install_missing_ops_module", "mmcv_has_compiled_ops"]

FULL_MMCV_HINT = (
    "install full mmcv with compiled ops (docs/install.md, 'The two supported stacks': "
    "scripts/setup_full_mmcv.sh)"
)


class MissingCompiledOpError(ImportError):
    """An MMPose/MMDetection part needs an mmcv compiled op that mmcv-lite lacks."""


def mmcv_has_compiled_ops() -> bool:
    """True when ``mmcv.ops`` imports for real (full mmcv), False on mmcv-lite."""
    module = sys.modules.get("mmcv.ops")
    if isinstance(module, _MissingOpsModule):
        return False
    try:
        importlib.import_module("mmcv.ops")
    except ModuleNotFoundError as err:
        if err.name != "mmcv._ext":
            raise
        return False
    return True


def _missing_op(name: str, mmcv_version: str) -> type:
    message = (
        f"mmcv.ops.{name} is a compiled mmcv op, but the installed mmcv {mmcv_version} has no "
        f"compiled ops (mmcv-lite: mmcv._ext is missing), so the model part that uses it "
        f"cannot be built; {FULL_MMCV_HINT}"
    )

    def __init__(self, *args, **kwargs):  # noqa: N807 - the placeholder's constructor
        raise MissingCompiledOpError(message)

    # An nn.Module subclass, so `class X(mmcv.ops.Op)` and isinstance() keep working.
    return type(name, (nn.Module,), {"__init__": __init__, "__doc__": message,
                                     "__module__": "mmcv.ops"})


class _MissingOpsModule(types.ModuleType):
    """Stands in for ``mmcv.ops`` on mmcv-lite; see the module docstring."""

    def __init__(self, mmcv_version: str) -> None:
        super().__init__("mmcv.ops", doc=__doc__)
        self._mmcv_version = mmcv_version
        self._ops: dict[str, type] = {}

    def __getattr__(self, name: str) -> type:
        if name.startswith("__") or name.startswith("_mmcv") or name == "_ops":
            raise AttributeError(name)
        if name not in self._ops:
            self._ops[name] = _missing_op(name, self._mmcv_version)
        return self._ops[name]


def install_missing_ops_module() -> bool:
    """Install the ``mmcv.ops`` stand-in if mmcv lacks compiled ops.

    Returns:
        True if the stand-in is (now) installed, False if mmcv has its compiled ops.
    """
    if mmcv_has_compiled_ops():
        return False
    import mmcv

    module = sys.modules.get("mmcv.ops")
    if not isinstance(module, _MissingOpsModule):
        module = _MissingOpsModule(mmcv.__version__)
        sys.modules["mmcv.ops"] = module
        mmcv.ops = module  # type: ignore[attr-defined]
    # mmcv's own warning says the same as the error above, on every import: keep ours only.
    warnings.filterwarnings("ignore", message="Fail to import ``MultiScaleDeformableAttention``",
                            category=UserWarning)
    return True
