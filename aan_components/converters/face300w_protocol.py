"""300W's protocol as a conversion holds it: which of the six source folders are present,
which splits they form, and whether a split is the paper's or a partial one.

The paper's protocol (Sec. 4.1) trains on AFW + HELEN train + LFPW train (3,148 faces) and
tests on common (HELEN test + LFPW test, 554), challenging (iBUG, 135) and full (both, 689).
A download that lacks some folders (or some faces of a folder) still converts: ``aan convert
300w`` writes the splits that can be formed and records in each json's ``info`` which
sources it holds (``sources``: folder -> faces) and which it lacks (``sources_absent``), and
whether it is the paper's split (``protocol``: ``"300W"`` or ``"300W partial"``).
``aan check`` and ``aan tables`` read that record, never a folder name alone.

Example:
    >>> info = split_info("train", {"helen/trainset": 870, "lfpw/trainset": 805})
    >>> info["protocol"], info["faces"], info["sources_absent"]
    ('300W partial', 1675, ['afw'])
    >>> describe_split(info)
    '300W partial: train from 1,675 of 3,148 faces (helen/trainset 870 of 2,000, lfpw/trainset 805 of 811; absent: afw)'
    >>> formable_splits({"helen/testset": 330, "lfpw/testset": 224})
    {'train': 'needs one of afw, helen/trainset, lfpw/trainset', 'common': None, 'challenging': 'needs ibug', 'full': 'needs ibug'}
"""  # noqa: E501

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from aan_core.evaluation.face_protocols import FACE300W_SOURCE_FACES, FACE300W_SPLIT_SOURCES

__all__ = ["PAPER_COUNTS", "SPLIT_FILE", "describe_split", "formable_splits",
           "is_paper_split", "missing_split_hint", "split_info"]

# The protocol's one table is aan_core.evaluation.face_protocols.FACE300W_PROTOCOL: the folders each
# split is made of (train takes the ones present, the test splits need all) and their faces.
PAPER_COUNTS = {split: sum(FACE300W_SOURCE_FACES[s] for s in sources)
                for split, sources in FACE300W_SPLIT_SOURCES.items()}
SPLIT_FILE = "face_landmarks_300w_{}.json"
_SPLIT_FILE_RE = re.compile(r"face_landmarks_300w_(\w+)\.json$")


def formable_splits(present: Mapping[str, int]) -> dict[str, str | None]:
    """``{split: None}`` for each split the present sources form, ``{split: why not}`` for
    the others.

    Args:
        present: Source folder -> faces, for the folders that hold faces.
    """
    out = {}
    for split, sources in FACE300W_SPLIT_SOURCES.items():
        missing = [s for s in sources if s not in present]
        if split == "train":
            out[split] = f"needs one of {', '.join(sources)}" if len(missing) == len(sources) \
                else None
        else:
            out[split] = f"needs {' and '.join(missing)}" if missing else None
    return out


def split_info(split: str, present: Mapping[str, int]) -> dict:
    """The ``info`` fields that say what a split json holds of 300W.

    Args:
        split: ``train``, ``common``, ``challenging`` or ``full``.
        present: Source folder -> faces, for the folders that hold faces.
    """
    sources = {s: int(present[s]) for s in FACE300W_SPLIT_SOURCES[split] if s in present}
    absent = [s for s in FACE300W_SPLIT_SOURCES[split] if s not in present]
    faces = sum(sources.values())
    complete = not absent and all(n == FACE300W_SOURCE_FACES[s] for s, n in sources.items())
    return dict(split=split, protocol="300W" if complete else "300W partial", faces=faces,
                paper_faces=PAPER_COUNTS[split], sources=sources, sources_absent=absent)


def describe_split(info: Mapping) -> str:
    """One line: ``300W: train, 3,148 faces (the paper's split)`` or ``300W partial: train
    from 1,675 of 3,148 faces (...; absent: afw)``."""
    split, faces, paper = info.get("split", "?"), info.get("faces"), info.get("paper_faces")
    if info.get("protocol") == "300W":
        return f"300W: {split}, {faces:,} faces (the paper's split)"
    release = FACE300W_SOURCE_FACES
    parts = [f"{s} {n:,}" + (f" of {release[s]:,}" if n != release.get(s) else "")
             for s, n in (info.get("sources") or {}).items()]
    detail = ", ".join(parts)
    if info.get("sources_absent"):
        detail += f"{'; ' if detail else ''}absent: {', '.join(info['sources_absent'])}"
    amount = f"{faces:,} of {paper:,}" if isinstance(faces, int) and isinstance(paper, int) \
        else "?"
    return f"300W partial: {split} from {amount} faces ({detail})"


def is_paper_split(data: Mapping, split: str) -> tuple[bool, str]:
    """Whether a 300W annotation json (its parsed content) is the paper's ``split``, and a
    line that says what it holds.

    A json with this converter's ``info`` is judged by it; one without (MMPose's released
    files, older conversions) by its face count against the paper's.
    """
    info = data.get("info") if isinstance(data.get("info"), dict) else {}
    if "protocol" in info and "sources" in info:
        return info["protocol"] == "300W" and info.get("split") == split, describe_split(info)
    faces = len(data.get("annotations") or [])
    paper = PAPER_COUNTS.get(split)
    if faces == paper:
        return True, f"300W: {split}, {faces:,} faces (the paper's count; no source record)"
    return False, (f"300W partial: {split} from {faces:,} of {paper:,} faces (no source "
                   f"record)" if paper else f"300W {split}: {faces:,} faces")


def _conversion_record(folder: Path) -> dict | None:
    """The ``info.conversion`` of any split json this converter wrote in ``folder``."""
    for path in sorted(folder.glob(SPLIT_FILE.format("*")), key=lambda p: p.stat().st_size):
        try:
            info = json.loads(path.read_text()).get("info") or {}
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(info.get("conversion"), dict):
            return info["conversion"]
    return None


def missing_split_hint(ann_file: str | os.PathLike, config_value: str | None = None
                       ) -> str | None:
    """For a missing ``face_landmarks_300w_<split>.json`` beside other splits of a partial
    conversion: which split is missing, why, and the ``--cfg-options`` to test on common
    instead. ``None`` when the file exists or the folder holds no such conversion.

    Args:
        ann_file: The annotation file looked for.
        config_value: The config's ``ann_file`` value (relative to ``data_root``), which
            the suggested ``--cfg-options`` rewrite; ``ann_file`` when not given.
    """
    ann_file = Path(ann_file)
    m = _SPLIT_FILE_RE.search(ann_file.name)
    if ann_file.exists() or m is None or not ann_file.parent.is_dir():
        return None
    record = _conversion_record(ann_file.parent)
    if record is None:
        return None
    split = m.group(1)
    reason = formable_splits(record.get("sources_present") or {}).get(split) or "not written"
    written = record.get("splits_written") or []
    hint = (f"{ann_file}: not found: this 300W conversion has no {split} split ({reason}; "
            f"absent from its raw folder: {', '.join(record.get('sources_absent') or [])}; "
            f"it has {', '.join(written) or 'no split'})")
    if "common" in written and split != "common":
        common = Path(config_value or ann_file).with_name(SPLIT_FILE.format("common"))
        hint += (f". To validate and test on common: --cfg-options "
                 f"val_dataloader.dataset.ann_file={common.as_posix()} "
                 f"test_dataloader.dataset.ann_file={common.as_posix()}")
    return hint
