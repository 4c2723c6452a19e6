"""Build a pose model from a config and load a checkpoint into it, strictly by default.

MMPose's ``init_model`` loads with ``strict=False``: a checkpoint of another config runs with
randomly initialised layers after a wall of "size mismatch" warnings. Here any missing,
unexpected or shape-mismatched key is an error naming the checkpoint, the config and the
first keys; ``allow_partial`` loads what fits and reports one line. The dataset meta
(keypoint names, flip pairs) comes from the checkpoint, else from the config's datasets. A
checkpoint must agree with itself: weights that are not finite (a diverged training) and a
meta that names another number of keypoints than the model predicts are refused.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import torch

from aan_core.utils.input_errors import AANInputError

from ..compat.safe_checkpoint import CheckpointFileError, safe_torch_load
from ..config_file import ConfigError, read_config, require_fields, unknown_field_error

__all__ = ["CheckpointMismatchError", "check_device", "dataset_meta_from_config",
           "load_pose_model"]

_SHOW = 3  # keys named per kind of mismatch
# torch.device also names devices that hold no data ('meta') or need other software
RUN_DEVICES = ("cpu", "cuda", "mps")


class CheckpointMismatchError(AANInputError):
    """A checkpoint whose tensors do not fit the model its config builds."""


def check_device(device: str) -> torch.device:
    """``torch.device(device)``, refusing a device this machine does not have.

    Raises:
        AANInputError: not a device name, or CUDA / MPS / that GPU index is not available.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise AANInputError(f"device {device!r}: not a device name ({e})") from None
    if dev.type not in RUN_DEVICES:
        raise AANInputError(f"device {device!r}: not a device to run a model on; use one of "
                            f"cpu, cuda, cuda:N, mps")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise AANInputError(f"device {device!r}: CUDA is not available on this machine "
                                f"(no GPU, or torch {torch.__version__} built without CUDA); "
                                f"use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise AANInputError(f"device {device!r}: this machine has "
                                f"{torch.cuda.device_count()} GPU(s)")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise AANInputError(f"device {device!r}: MPS is not available on this machine")
    return dev


def dataset_meta_from_config(cfg, config_name: str) -> dict:
    """The keypoint meta of the config's first dataset (train, val, test) that states one.

    Raises:
        ConfigError: no dataset of the config has keypoint meta.
    """
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.registry import DATASETS

    from ..datasets.synthetic_face_dataset import METAINFO_BY_LAYOUT, SyntheticFaceDataset

    for split in ("train", "val", "test"):
        ds = (cfg.get(f"{split}_dataloader") or {}).get("dataset") or {}
        metainfo = ds.get("metainfo")
        if metainfo is None:
            cls = ds.get("type")
            cls = cls if isinstance(cls, type) else DATASETS.get(cls) if cls else None
            if cls is not None and issubclass(cls, SyntheticFaceDataset):
                metainfo = dict(from_file=METAINFO_BY_LAYOUT.get(ds.get("num_points", 68)))
            else:
                metainfo = getattr(cls, "METAINFO", None)
        try:
            return parse_pose_metainfo(dict(metainfo))
        except (AssertionError, KeyError, TypeError, ValueError, FileNotFoundError):
            continue
    raise ConfigError(f"{config_name}: none of its datasets states its keypoint meta "
                      f"(dataset_name, keypoint names, flip pairs), and the checkpoint has "
                      f"none (meta.dataset_meta); give a checkpoint saved by mmengine or a "
                      f"config whose train_dataloader.dataset has a type or metainfo")


def _load_state_dict(checkpoint: str) -> tuple[dict, dict | None]:
    """``(state_dict, dataset_meta or None)`` of a checkpoint file."""
    if not os.path.isfile(checkpoint):
        raise CheckpointFileError(f"checkpoint {checkpoint}: file not found")
    ckpt = safe_torch_load(checkpoint, map_location="cpu")
    if not isinstance(ckpt, dict):
        raise CheckpointFileError(f"checkpoint {checkpoint}: holds a {type(ckpt).__name__}, "
                                  f"not a dict of tensors (a state_dict)")
    state = ckpt.get("state_dict", ckpt)
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)} \
        if isinstance(state, dict) else {}
    if not tensors:
        raise CheckpointFileError(f"checkpoint {checkpoint}: holds no model weights (no "
                                  f"'state_dict' of tensors)")
    tensors = {k.removeprefix("module."): v for k, v in tensors.items()}
    bad = [k for k, v in tensors.items()
           if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointFileError(
            f"checkpoint {checkpoint}: {len(bad)} tensors hold non-finite values (NaN or inf), "
            f"e.g. {', '.join(bad[:_SHOW])}: a diverged training saves such weights; use an "
            f"earlier checkpoint")
    meta = ckpt.get("meta")
    return tensors, meta.get("dataset_meta") if isinstance(meta, dict) else None


def _mismatch_summary(model: torch.nn.Module, state: dict) -> tuple[dict, list, list, list]:
    """``(fitting tensors, shape mismatches, missing keys, unexpected keys)``."""
    own = model.state_dict()
    fit, shapes, unexpected = {}, [], []
    for k, v in state.items():
        if k not in own:
            unexpected.append(k)
        elif own[k].shape != v.shape:
            shapes.append(f"{k} {tuple(v.shape)} vs model {tuple(own[k].shape)}")
        else:
            fit[k] = v
    missing = [k for k in own if k not in state]
    return fit, shapes, missing, unexpected


def _listing(shapes: list, missing: list, unexpected: list) -> str:
    parts = []
    for name, keys in (("of another shape", shapes), ("missing from the checkpoint", missing),
                       ("unexpected", unexpected)):
        if keys:
            more = f", ... ({len(keys) - _SHOW} more)" if len(keys) > _SHOW else ""
            parts.append(f"{len(keys)} {name}: {', '.join(keys[:_SHOW])}{more}")
    return "; ".join(parts)


def _model_keypoints(model: torch.nn.Module) -> int | None:
    """The number of keypoints the model's head predicts (``None`` when it does not say)."""
    head = getattr(model, "head", None)
    k = getattr(head, "num_joints", None) or getattr(head, "out_channels", None)
    return int(k) if isinstance(k, int) else None


def _meta_disagreement(meta, model: torch.nn.Module, checkpoint: str,
                       config_name: str) -> str | None:
    """Why a checkpoint's ``meta.dataset_meta`` (which names the points and their flip pairs)
    does not fit the keypoints its model predicts; ``None`` when it does."""
    count = meta.get("num_keypoints") if isinstance(meta, dict) else None
    if isinstance(count, bool) or not isinstance(count, int):
        return (f"checkpoint {checkpoint}: field meta.dataset_meta.num_keypoints: missing or "
                f"not an integer ({count!r})")
    predicted = _model_keypoints(model)
    if predicted is not None and count != predicted:
        return (f"checkpoint {checkpoint}: field meta.dataset_meta.num_keypoints: {count} "
                f"({meta.get('dataset_name', 'unnamed dataset')}), but the model (of "
                f"{config_name}) predicts {predicted} keypoints: the meta names other points")
    return None


def load_pose_model(config, checkpoint: str | None = None, device: str = "cpu",
                    allow_partial: bool = False,
                    report: Callable[[str], None] | None = None) -> torch.nn.Module:
    """An MMPose model (eval mode, on ``device``) with the checkpoint's weights.

    Args:
        config: Config file or ``mmengine.Config``.
        checkpoint: ``.pth`` file (loaded safely, ``weights_only``); ``None`` keeps the
            initial weights.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'``...
        allow_partial: Load the tensors that fit and leave the rest at their initial
            values, reporting one line; otherwise any mismatch is an error.
        report: Receives the ``allow_partial`` summary line (default: printed on stderr).

    Raises:
        CheckpointMismatchError: missing, unexpected or shape-mismatched keys, or a
            ``meta.dataset_meta`` whose keypoint count is not the model's (without
            ``allow_partial``, which then takes the config's meta); the message names the
            checkpoint, the config, the first keys.
        CheckpointFileError: the checkpoint is missing, empty, truncated, not a PyTorch
            file, unsafe (``UnsafeCheckpointError``), or holds non-finite (NaN) weights.
        ConfigError: the config cannot be read, builds no model, or (with a checkpoint
            without ``meta.dataset_meta``) names no dataset meta.
        AANInputError: the device is not available.
    """
    from mmengine.config import Config
    from mmengine.model.utils import revert_sync_batchnorm
    from mmengine.registry import init_default_scope

    from ..registration import register_all_modules

    register_all_modules()  # also for a config (an older run's) that names none of ours
    from mmpose.models.builder import build_pose_estimator

    dev = check_device(device)
    config_name = config.filename if isinstance(config, Config) else os.fspath(config)
    cfg = config if isinstance(config, Config) else read_config(config)
    require_fields(cfg, config_name, "model")
    cfg.model.train_cfg = None
    if "init_cfg" in cfg.model.get("backbone", {}):
        cfg.model.backbone.init_cfg = None  # no pretrained download: weights come next
    init_default_scope(cfg.get("default_scope", "mmpose"))
    try:
        model = revert_sync_batchnorm(build_pose_estimator(cfg.model))
    except TypeError as e:
        from mmpose.registry import MODELS

        raise (unknown_field_error(config_name, e, cfg.model, "model", (MODELS,))
               or ConfigError(f"{config_name}: model: cannot build it: {e}")) from None
    except (KeyError, ValueError, AssertionError) as e:
        raise ConfigError(f"{config_name}: model: cannot build it: {e}") from None
    meta = None
    if checkpoint is not None:
        state, meta = _load_state_dict(os.fspath(checkpoint))
        fit, shapes, missing, unexpected = _mismatch_summary(model, state)
        if shapes or missing or unexpected:
            listing = _listing(shapes, missing, unexpected)
            if not allow_partial:
                raise CheckpointMismatchError(
                    f"checkpoint {checkpoint} does not fit the model of config {config_name} "
                    f"(was it trained with another config?): {listing}. --allow-partial "
                    f"loads the tensors that fit and keeps the rest untrained")
            (report or (lambda m: print(m, file=sys.stderr)))(
                f"--allow-partial: loaded {len(fit)} of {len(model.state_dict())} tensors "
                f"from {checkpoint}; the rest keep their initial values ({listing})")
        model.load_state_dict(fit, strict=False)
    if meta is not None:  # a checkpoint agrees with itself
        problem = _meta_disagreement(meta, model, os.fspath(checkpoint), config_name)
        if problem and not allow_partial:
            raise CheckpointMismatchError(problem)
        if problem:
            (report or (lambda m: print(m, file=sys.stderr)))(
                f"--allow-partial: {problem}; the config's dataset meta is used")
            meta = None
    if meta is None:
        meta = dataset_meta_from_config(cfg, config_name)
    model.dataset_meta = meta
    model.cfg = cfg
    return model.to(dev).eval()
