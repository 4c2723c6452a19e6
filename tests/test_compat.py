"""Both stacks and safe checkpoints: the mmcv-lite stand-in and weights_only loading."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

from aan_components.compat import (
    MissingCompiledOpError,
    UnsafeCheckpointError,
    mmcv_has_compiled_ops,
    safe_torch_load,
)

FULL_MMCV = mmcv_has_compiled_ops()


def test_mmpose_models_import_on_this_stack():
    import mmpose.models  # noqa: F401
    from mmpose.registry import MODELS

    assert MODELS.get("RegressionHead") is not None
    assert MODELS.get("AANBackbone") is not None


@pytest.mark.skipif(FULL_MMCV, reason="this stack has full mmcv: real ops, no stand-in")
def test_lite_stack_models_needing_compiled_ops_fail_clearly():
    from mmpose.models.heads.transformer_heads.transformers.deformable_detr_layers import (
        DeformableDetrTransformerEncoderLayer,
    )

    with pytest.raises(MissingCompiledOpError) as err:
        DeformableDetrTransformerEncoderLayer()
    msg = str(err.value)
    assert "MultiScaleDeformableAttention" in msg and "mmcv-lite" in msg
    assert "setup_full_mmcv.sh" in msg
    from mmcv.ops import DeformConv2d

    with pytest.raises(MissingCompiledOpError, match="DeformConv2d"):
        DeformConv2d(4, 4, 3)
    assert not isinstance(torch.nn.Conv2d(1, 1, 1), DeformConv2d)


@pytest.mark.skipif(not FULL_MMCV, reason="needs the full-mmcv stack")
def test_full_stack_uses_real_compiled_ops():
    import mmcv.ops

    assert type(mmcv.ops).__name__ == "module"
    assert hasattr(mmcv.ops, "nms")


def _checkpoint_like_mmengine(path):
    buf = HistoryBuffer()
    buf.update(1.5)
    buf.update(0.5)
    torch.save({
        "meta": {"dataset_meta": {"flip_indices": np.arange(4), "sigmas": np.ones(4, np.float32),
                                  "scale": np.float64(2.0)}},
        "state_dict": {"w": torch.ones(2)},
        "message_hub": {"log_scalars": {"train/loss": buf}},
    }, path)


def test_mmengine_style_checkpoint_loads_safely(tmp_path):
    path = tmp_path / "ok.pth"
    _checkpoint_like_mmengine(path)
    with pytest.raises(pickle.UnpicklingError):  # plain safe loading refuses it (the bug)
        torch.load(path, weights_only=True)
    ck = _load_checkpoint(str(path))  # mmengine's path, through our loader
    assert ck["message_hub"]["log_scalars"]["train/loss"].min() == 0.5
    assert ck["meta"]["dataset_meta"]["flip_indices"].tolist() == [0, 1, 2, 3]
    assert ck["meta"]["dataset_meta"]["scale"] == 2.0


class _WritesMarker:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _GetattrEscape:
    def __reduce__(self):
        return (getattr, (HistoryBuffer, "__init__"))


def test_malicious_checkpoint_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "payload": _WritesMarker(marker)}, path)
    with pytest.raises(UnsafeCheckpointError) as err:
        _load_checkpoint(str(path))
    assert str(path) in str(err.value) and "system" in str(err.value)
    assert not marker.exists()
    # control: the payload is real, loading it unsafely does write the marker
    code = f"import torch; torch.load({str(path)!r}, weights_only=False)"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert marker.exists()


def test_getattr_is_only_allowed_for_history_buffer_statistics(tmp_path):
    path = tmp_path / "escape.pth"
    torch.save({"x": _GetattrEscape()}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"escape.pth.*getattr call other than"):
        safe_torch_load(str(path))


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        safe_torch_load(str(tmp_path / "nope.pth"))


@pytest.mark.parametrize("content, cause", [
    (b"", "the file is empty (0 bytes)"),  # was a bare EOFError without the file name
    (b"\x93\x00 random bytes" * 300, "not a PyTorch checkpoint"),  # was "outside the allowlist"
    (b"hello\n", "not a PyTorch checkpoint"),  # was a bare KeyError
    ("zip-half", "the file is truncated"),  # was a RuntimeError from miniz
    ("legacy-half", "the file is truncated"),  # was a bare EOFError
])
def test_broken_checkpoint_names_the_file_and_cause(tmp_path, content, cause):
    """The cause is named (not mistaken for an unsafe object), and no chained torch error
    carries its advice to retry with weights_only=False."""
    from aan_components.compat import CheckpointFileError

    path = tmp_path / "broken.pth"
    if isinstance(content, str):
        torch.save({"w": torch.zeros(1000, 100)}, path,
                   _use_new_zipfile_serialization=content == "zip-half")
        content = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(content)
    with pytest.raises(CheckpointFileError) as err:
        safe_torch_load(str(path))
    assert str(err.value).startswith(f"checkpoint {path}: {cause}")
    assert not isinstance(err.value, UnsafeCheckpointError)
    assert err.value.__cause__ is None and err.value.__context__ is None
