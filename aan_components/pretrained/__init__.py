"""Trained models shipped inside the package (docs/pretrained_model.md).

Each model is two files beside this module: an MMPose config of its test-time network (the
training-only intermediate-supervision branches dropped) and its weights, listed in
``models.json`` with their sha256. The weights' sha256 is checked before they are loaded, so
a damaged or replaced file is refused with one line naming it. ``python -m
bench.pretrained_model`` makes the files from a finished training run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from aan_core.utils.input_errors import AANInputError

__all__ = ["DEFAULT_MODEL", "MANIFEST", "PretrainedModel", "file_sha256", "pretrained_model",
           "pretrained_names"]

PRETRAINED_DIR = Path(__file__).resolve().parent
MANIFEST = PRETRAINED_DIR / "models.json"
DEFAULT_MODEL = "aan_300w_cpu_fast"  # what `aan predict IMAGE` and from_pretrained() use


@dataclass(frozen=True)
class PretrainedModel:
    """A shipped model: ``config`` and ``checkpoint`` files, the checkpoint's ``sha256`` and
    the docs page that describes it (``card``)."""

    name: str
    config: Path
    checkpoint: Path
    sha256: str
    card: str = ""


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes.

    Example:
        >>> import tempfile
        >>> f = Path(tempfile.mkdtemp()) / "x"
        >>> _ = f.write_bytes(b"abc")
        >>> file_sha256(f)[:16]
        'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest(path: Path | None = None) -> dict:
    path = MANIFEST if path is None else Path(path)
    try:
        models = json.loads(path.read_text())["models"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise AANInputError(f"{path}: cannot read the list of shipped models ({e}); "
                            f"reinstall aan-components") from None
    return models


def pretrained_names(manifest: Path | None = None) -> list[str]:
    """The names of the shipped models."""
    return sorted(_manifest(manifest))


def pretrained_model(name: str = DEFAULT_MODEL, verify: bool = True,
                     manifest: Path | None = None) -> PretrainedModel:
    """The files of a shipped model, its checkpoint's sha256 checked.

    Args:
        name: One of :func:`pretrained_names`.
        verify: Check that the checkpoint's sha256 is the one ``models.json`` records.
        manifest: The list of models (``None``: the package's ``models.json``).

    Raises:
        AANInputError: an unknown name; a file that is missing; a checkpoint whose sha256 is
            not the recorded one (one line naming the file).
    """
    manifest = MANIFEST if manifest is None else Path(manifest)
    models = _manifest(manifest)
    if name not in models:
        raise AANInputError(f"{manifest}: no shipped model named {name!r}; shipped: "
                            f"{', '.join(sorted(models)) or 'none'}")
    entry = models[name]
    folder = Path(manifest).resolve().parent
    model = PretrainedModel(name, folder / entry["config"], folder / entry["checkpoint"],
                            entry["sha256"], entry.get("card", ""))
    for path in (model.config, model.checkpoint):
        if not path.is_file():
            raise AANInputError(f"{path}: file not found (the shipped model {name!r} is "
                                f"incomplete); reinstall aan-components")
    if verify:
        actual = file_sha256(model.checkpoint)
        if actual != model.sha256:
            raise AANInputError(f"{model.checkpoint}: sha256 {actual} is not the shipped "
                                f"{model.sha256} (a damaged or replaced file); reinstall "
                                f"aan-components")
    return model
