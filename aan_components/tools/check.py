"""Check a config and its data before a long run: the config parses, every ``type`` exists,
the model and the evaluators' metrics build, the model's ``num_joints`` matches each
dataset's keypoints, and each annotation file is well formed (``--images``: every image file
exists too). A 300W file of ``aan convert 300w`` is named by what it holds (the paper's split,
or "300W partial" with the sources present and absent).

Errors name the config file and the field (``model.backbone.type``...), or the annotation
file, the entry and the field; the command then exits with status 2. A misspelt field of a
dataloader, dataset, transform or model is named by its dotted path with the nearest valid
field (``train_dataloader.datset: unknown field of a dataloader (did you mean 'dataset'?)``).
"""

from __future__ import annotations

import argparse
import inspect
import re
from pathlib import Path

from ..config_file import (
    ConfigError,
    nearest_name,
    read_config,
    require_fields,
    unknown_field_error,
)
from .argument_types import ConfigOptions


def _find_field(node, value, prefix: str) -> str | None:
    """Dotted path of the first ``type`` field equal to ``value`` under ``node``."""
    if isinstance(node, dict):
        if node.get("type") == value:
            return f"{prefix}.type"
        for k, v in node.items():
            found = _find_field(v, value, f"{prefix}.{k}")
            if found:
                return found
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            found = _find_field(v, value, f"{prefix}[{i}]")
            if found:
                return found
    return None


def _unknown_type(config: str, error: KeyError, node, prefix: str) -> ConfigError:
    """A registry miss (``X is not in the ... registry``) named by its field in ``node``."""
    m = re.search(r"(\w+) is not in the [\w:]+ registry", str(error))
    field = _find_field(node, m.group(1), prefix) if m else None
    return ConfigError(f"{config}: field {field or prefix}: unknown type "
                            f"{m.group(1) if m else ''!r} ({error})")


# The fields mmengine's Runner.build_dataloader reads itself and does not pass on
MMENGINE_DATALOADER_FIELDS = {"num_batch_per_epoch", "disable_subprocess_warning"}


def _dataloader_fields() -> set[str]:
    """The fields of a ``*_dataloader``: torch's DataLoader arguments (mmengine builds
    ``dataset``, ``sampler``, ``collate_fn``... and passes the rest on to it) and
    :data:`MMENGINE_DATALOADER_FIELDS`."""
    from torch.utils.data import DataLoader

    return set(inspect.signature(DataLoader).parameters) | MMENGINE_DATALOADER_FIELDS


def _check_dataloader(config: str, split: str, loader) -> None:
    """A ``{split}_dataloader`` is a dict of DataLoader fields with a ``dataset``.

    Raises:
        ConfigError: naming the field and the nearest valid one.
    """
    key = f"{split}_dataloader"
    if not isinstance(loader, dict):
        raise ConfigError(f"{config}: field {key}: expected a dict of DataLoader fields, "
                               f"got {type(loader).__name__}")
    valid = _dataloader_fields()
    for field in loader:
        if field not in valid:
            raise ConfigError(f"{config}: field {key}.{field}: unknown field of a "
                                   f"dataloader{nearest_name(field, valid)}")
    if not isinstance(loader.get("dataset"), dict):
        raise ConfigError(f"{config}: field {key}.dataset: missing (or not a dict)")


def check_config(config: str, cfg_options: dict | None = None, images: bool = False) -> dict:
    """Run the checks; returns a summary ``{split: {"images", "faces", ...}}``.

    Raises:
        ConfigError, AnnotationError: the first problem found.
    """
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS, METRICS, MODELS, TRANSFORMS

    from ..converters.face300w_protocol import missing_split_hint
    from ..datasets import AnnotationError, check_face_annotations
    from ..registration import register_all_modules

    register_all_modules()  # also for a config that names no aan_components module
    cfg = read_config(config, cfg_options)
    require_fields(cfg, config, "model")
    init_default_scope(cfg.get("default_scope", "mmpose"))
    try:
        model = MODELS.build(cfg.model)
    except KeyError as e:
        raise _unknown_type(config, e, cfg.model, "model") from None
    except TypeError as e:
        raise (unknown_field_error(config, e, cfg.model, "model", (MODELS,))
               or ConfigError(f"{config}: model: {e}")) from None
    except (ValueError, AssertionError) as e:
        raise ConfigError(f"{config}: model: {e}") from None
    num_joints = getattr(getattr(model, "head", None), "num_joints", None)
    for key in ("val_evaluator", "test_evaluator"):
        evaluator = cfg.get(key)
        metrics = evaluator.get("metrics", evaluator) if isinstance(evaluator, dict) \
            else evaluator or []
        for i, metric in enumerate([metrics] if isinstance(metrics, dict) else metrics):
            field = key if isinstance(metrics, dict) else f"{key}[{i}]"
            try:
                METRICS.build(metric)
            except KeyError as e:
                raise _unknown_type(config, e, metric, field) from None
            except (ValueError, TypeError, AssertionError) as e:
                raise ConfigError(f"{config}: field {field}: {e}") from None
    summary = {}
    for split in ("train", "val", "test"):
        loader = cfg.get(f"{split}_dataloader")
        if not loader:
            continue
        _check_dataloader(config, split, loader)
        ds_cfg = loader.dataset
        try:
            dataset = DATASETS.build(dict(ds_cfg, lazy_init=True))
        except KeyError as e:
            raise _unknown_type(config, e, ds_cfg, f"{split}_dataloader.dataset") from None
        except TypeError as e:
            problem = unknown_field_error(config, e, ds_cfg, f"{split}_dataloader.dataset",
                                           (DATASETS, TRANSFORMS))
            if problem is None:
                raise ConfigError(f"{config}: field {split}_dataloader.dataset: "
                                       f"{e}") from None
            raise problem from None
        k = dataset.metainfo.get("num_keypoints")
        if num_joints is not None and k is not None and k != num_joints:
            raise ConfigError(
                f"{config}: field model.head.num_joints: {num_joints}, but "
                f"{split}_dataloader.dataset ({ds_cfg.type}) has {k} keypoints")
        files = ds_cfg
        while isinstance(files.get("dataset"), dict):  # a wrapper: CropCacheDataset, ...
            files = files["dataset"]
        ann = files.get("ann_file")
        if ann:
            root = Path(files.get("data_root") or "")
            hint = missing_split_hint(root / ann, ann)
            if hint:  # a split a partial 300W conversion could not form
                raise AnnotationError(f"{config}: field {split}_dataloader.dataset.ann_file: "
                                      f"{hint}")
            image_dir = root / ((files.get("data_prefix") or {}).get("img") or "") \
                if images else None
            summary[split] = check_face_annotations(root / ann, num_joints or k, image_dir)
        else:
            summary[split] = {"num_keypoints": k}
    return summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="MMPose config to check")
    parser.add_argument("--images", action="store_true", help="also check every image exists")
    parser.add_argument("--cfg-options", nargs="+", action=ConfigOptions, default={},
                        help="config overrides, as in mim train")


def describe_data(info: dict | None) -> str:
    """What an annotation file holds, from its converter's ``info``: for ``aan convert 300w``
    the split and its sources (``300W partial: train from 1,675 of 3,148 faces (...)``);
    ``''`` for other files."""
    from ..converters.face300w_protocol import describe_split

    if isinstance(info, dict) and info.get("dataset") == "300W" and "protocol" in info:
        return describe_split(info)
    return ""


def run(args: argparse.Namespace) -> None:
    summary = check_config(args.config, args.cfg_options, args.images)
    for split, s in summary.items():
        data = describe_data(s.pop("info", None))
        print(f"aan check: {split}: " + ", ".join(f"{k} {v}" for k, v in s.items())
              + (f"; {data}" if data else ""))
    print(f"aan check: {args.config}: OK")
