"""Gather test results of runs into the layout of the paper's Tables 1-5 (markdown).

Each WORK_DIR is an mmengine work dir of a ``mim test`` / ``mim train`` run with
``FaceAlignmentMetric`` (it writes ``face_alignment_metrics*.json`` beside the log); the run's
dataset comes from that file, the model variant (AAN, w/o attention, w/o NE layer, w/o both,
or another model, named by its config) from the config mmengine saved in the work dir
(``WORK_DIR/<work dir name>.py``, else the work dir's only ``.py``: never a guess among
several). A metric that is not a finite number is an error naming file and field. Our
numbers sit beside the paper's, with the difference (ours - paper, NME in %). A run goes into
a paper table only if it was tested on that benchmark: runs on synthetic faces (which borrow
300W's layout and name) and on other datasets get their own table, without paper numbers.

Our rows are meant to be the LAST checkpoint of the fixed schedule (the configs keep no "best"
checkpoint). A run tested with a ``best_*`` checkpoint of a config that validated on its own
test data is marked ``best-on-test`` and gets no difference to the paper: choosing among
checkpoints by their test NME biases that NME down.

A 300W run enters Table 2 only when it followed the paper's protocol: its training json (from
the saved config; found as given, or relative to the work dir's parent folders or the current
folder) is the paper's 3,148 faces (by ``aan convert 300w``'s record of its sources, or by
its count), and a test subset counts only with the paper's number of faces (``full``: all
689). Any other run (a partial download: "300W partial: train from 1,675 of 3,148 faces",
or training data that cannot be found) goes into its own table, named by its data, with no
difference to the paper.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aan_core.evaluation.paper_results import TABLE5, TABLE5_LABELS, TABLE5_VARIANTS, TABLES
from aan_core.network.attention_spec import attention_name
from aan_core.utils.atomic_io import atomic_write
from aan_core.utils.input_errors import AANInputError
from aan_core.utils.json_input import read_json

from ..config_file import read_config
from ..converters.face300w_protocol import PAPER_COUNTS as FACE300W_COUNTS
from ..converters.face300w_protocol import is_paper_split

if TYPE_CHECKING:
    from mmengine.config import Config

PAPER_TABLES = [  # (number, dataset, title, columns)
    (1, "aflw", "AFLW (19 points, NME normalised by the box size)", ["full"]),
    (2, "300w", "300W (68 points)", ["common", "challenging", "full"]),
    (3, "celeba", "CelebA (5 points, NME normalised by the eye-centre distance)", ["full"]),
    (4, "300vw", "300VW (68 points)", ["category1", "category2", "category3"]),
]
COLUMN_NAMES = {"common": "Common", "challenging": "Challenging", "category1": "Category 1",
                "category2": "Category 2", "category3": "Category 3"}
NORM_NAMES = {"inter_ocular": "inter-ocular", "inter_pupil": "inter-pupil",
              "box_size": "box size", "box_area": "box area"}


@dataclass
class Run:
    """One evaluated run: dataset, variant label, normalisation, NME (%) per subset."""

    dataset: str
    variant: str
    norm: str
    nme: dict[str, float]
    source: Path
    note: str = ""  # "best-on-test" when the checkpoint was chosen on the test data
    data: str = ""  # what the run trained and tested on, when not the paper's protocol


def model_variant(cfg: Config | None, name: str) -> str:
    """``AAN`` / ``w/o attention`` / ``w/o NE layer`` / ``w/o both`` for the AAN backbone of
    a run's saved config (attention ``'aan'`` or ``'none'``, or an earlier version's
    ``True`` / ``False``); ``name`` (the config's or the work dir's) otherwise, with the
    attention form when it is another one."""
    if cfg is None:
        return name
    model = cfg.model
    if model.get("backbone", {}).get("type") != "AANBackbone":
        return name
    form = attention_name(model.backbone.get("attention", "aan"))
    if form not in ("aan", "none"):  # another attention form: no Table 5 variant
        return f"{name} (attention={form})"
    embedding = model.head.get("embedding_dim", 256) is not None
    variant = {("aan", True): "aan", ("none", True): "no_attention",
               ("aan", False): "no_embedding", ("none", False): "no_both"}[(form, embedding)]
    return TABLE5_LABELS[variant]


def checkpoint_note(cfg: Config | None) -> str:
    """``'best-on-test'`` when the run's saved config loaded a ``best_*`` checkpoint and
    validated on the same annotation file it tests on; ``''`` otherwise."""
    if cfg is None:
        return ""
    checkpoint = Path(str(cfg.get("load_from") or "")).name
    val, test = cfg.get("val_dataloader") or {}, cfg.get("test_dataloader") or {}
    same_data = (val.get("dataset") or {}).get("ann_file") == \
        (test.get("dataset") or {}).get("ann_file")
    return "best-on-test" if checkpoint.startswith("best_") and same_data else ""


def is_synthetic_run(metrics_file: Path, cfg: Config | None) -> bool:
    """Whether a run was tested on synthetic faces: its saved config tests on
    ``SyntheticFaceDataset``, or its per-image NME file (written beside the metrics file)
    lists ``synthetic://`` images. Synthetic faces use a benchmark's landmark layout and
    dataset name (``300w``), so the name alone cannot tell."""
    if cfg is not None:
        dataset = (cfg.get("test_dataloader") or {}).get("dataset") or {}
        if "Synthetic" in str(dataset.get("type", "")):
            return True
    tag = metrics_file.stem.removeprefix("face_alignment_metrics")
    per_image = metrics_file.with_name(f"per_image_nme{tag}.csv")
    try:
        with per_image.open() as f:
            next(f, None)  # header
            first = next(f, "")
    except OSError:
        return False
    return "synthetic://" in first


def _training_file(cfg: Config, work_dir: Path) -> tuple[Path | None, Path]:
    """The training annotation json of a saved config: ``(found path or None, as named)``.
    A relative path is looked for under the work dir's parent folders, then the current
    folder (``mim train`` runs from the folder above ``work_dirs/NAME``)."""
    dataset = (cfg.get("train_dataloader") or {}).get("dataset") or {}
    while isinstance(dataset.get("dataset"), dict):  # a wrapper: CropCacheDataset, ...
        dataset = dataset["dataset"]
    named = Path(str(dataset.get("data_root") or "")) / str(dataset.get("ann_file") or "")
    if named.is_absolute():
        return (named if named.is_file() else None), named
    for base in (work_dir.resolve().parent, work_dir.resolve().parent.parent, Path.cwd()):
        if (base / named).is_file():
            return base / named, named
    return None, named


def face300w_training(cfg: Config | None, work_dir: Path) -> str:
    """``''`` when a 300W run trained on the paper's 3,148 faces; otherwise what it trained
    on, e.g. ``300W partial: train from 1,675 of 3,148 faces (...)``, or why that is not
    known."""
    if cfg is None:
        return "no saved config: training data unknown"
    path, named = _training_file(cfg, work_dir)
    if path is None:
        return f"training data not found ({named}): protocol not verified"
    ok, what = is_paper_split(read_json(path, AANInputError), "train")
    return "" if ok else what


def face300w_test_subsets(test_counts: dict) -> str:
    """``''`` when each 300W test subset a metrics file counts has the paper's faces."""
    return "; ".join(f"tested on {n} of {FACE300W_COUNTS[subset]} {subset} faces"
                     for subset in ("common", "challenging")
                     if isinstance(n := test_counts.get(subset), int)
                     and n != FACE300W_COUNTS[subset])


def saved_config(work_dir: Path) -> Path | None:
    """The config a run saved in its work dir, by its known name, never by a guess: mmengine
    saves it as the config's file name, and ``mim train`` / ``mim test`` name the work dir
    after the config, so ``WORK_DIR/<work dir name>.py``; otherwise the work dir's only
    ``.py`` file; none: ``None``.

    Raises:
        AANInputError: several ``.py`` files and none of the known name (which is the run's?).
    """
    known = work_dir / f"{work_dir.name}.py"
    if known.is_file():
        return known
    configs = sorted(p for p in work_dir.glob("*.py") if p.is_file())
    if len(configs) > 1:
        names = ", ".join(p.name for p in configs[:3])
        raise AANInputError(f"{work_dir}: {len(configs)} configs ({names}) and none named after "
                            f"the work dir ({known.name}): which one did the run save? Keep "
                            f"only it")
    return configs[0] if configs else None


def collect_runs(work_dirs: list[str | Path]) -> list[Run]:
    """The latest metrics of each work dir (one :class:`Run` per normalisation)."""
    runs = []
    for wd in map(Path, work_dirs):
        if not wd.is_dir():
            raise AANInputError(f"{wd}: not a directory")
        files = sorted(wd.rglob("face_alignment_metrics*.json"), key=lambda p: p.stat().st_mtime)
        if not files:
            raise AANInputError(f"{wd}: no face_alignment_metrics*.json (was the run tested "
                                f"with FaceAlignmentMetric?)")
        latest: dict[str, Path] = {}
        for f in files:
            latest[f.name] = f  # the newest of each normalisation
        saved = saved_config(wd)
        # values only: its custom_imports would import MMPose
        cfg = read_config(saved, import_custom_modules=False) if saved else None
        if cfg is not None and not isinstance(cfg.get("model"), dict):
            raise AANInputError(f"{saved}: field model: missing: not a model config (a work "
                                f"dir's only .py is taken as the run's saved config)")
        variant = model_variant(cfg, saved.stem if saved else wd.name)
        note = checkpoint_note(cfg)
        training = None
        for f in latest.values():
            data = read_json(f, AANInputError)
            metrics = data.get("metrics") if isinstance(data, dict) else None
            if not isinstance(metrics, dict):
                raise AANInputError(f"{f}: not a FaceAlignmentMetric result (no 'metrics')")
            nme = {}
            for k, v in metrics.items():
                if k == "NME" or k.startswith("NME/"):
                    if isinstance(v, bool) or not isinstance(v, (int, float)):
                        raise AANInputError(f"{f}: field metrics.{k}: not a number ({v!r})")
                    if not math.isfinite(v):  # never printed as 'nan' in a table
                        raise AANInputError(f"{f}: field metrics.{k}: not finite ({v}): the "
                                            f"run's test gave no valid NME (diverged "
                                            f"training?); leave this work dir out")
                    nme["full" if k == "NME" else k.split("/", 1)[1]] = 100 * v
            dataset = str(data.get("dataset_name") or "?")
            protocol = ""
            if is_synthetic_run(f, cfg):
                dataset = f"synthetic ({dataset} layout)"
            elif dataset == "300w":
                counts = data.get("num_images") if isinstance(data.get("num_images"),
                                                              dict) else {}
                if counts and counts.get("all") != FACE300W_COUNTS["full"]:
                    nme.pop("full", None)  # the NME over all test images is not full's
                if training is None:  # one look at the training json per work dir
                    training = face300w_training(cfg, wd)
                protocol = "; ".join(p for p in (training, face300w_test_subsets(counts)) if p)
            runs.append(Run(dataset, variant, str(data.get("norm_mode")), nme, f, note,
                            protocol))
    return runs


def _cell(ours: float | None, paper: float | None) -> str:
    if ours is None:
        return "–"
    if paper is None:
        return f"{ours:.2f}"
    return f"{ours:.2f} ({ours - paper:+.2f})"


def render_tables(runs: list[Run]) -> str:
    """Markdown of Tables 1-5 with the paper's rows and ours (difference to the paper's AAN
    in brackets)."""
    out = ["Ours: the last checkpoint of each run's fixed schedule (no checkpoint chosen on "
           "test data; a run that was is marked and left out of the comparison).\n"]
    for number, dataset, title, columns in PAPER_TABLES:
        names = dict(COLUMN_NAMES, full="Full test set" if dataset == "300w" else "NME")
        out.append(f"### Table {number}: {title}\n")
        out.append("| method | " + " | ".join(names[c] for c in columns) + " |")
        out.append("|---|" + "---|" * len(columns))
        for method, row in TABLES[dataset].items():
            cells = [f"{row[c]:.2f}" if c in row else "–" for c in columns]
            out.append(f"| {method} (paper) | " + " | ".join(cells) + " |")
        paper_aan = TABLES[dataset]["AAN"]
        mine = [r for r in runs if r.dataset == dataset and not r.data]
        for r in mine:
            note = f", {r.note} checkpoint: not comparable" if r.note else ""
            label = f"**{r.variant} (ours, {NORM_NAMES.get(r.norm, r.norm)}{note})**"
            compare = r.variant == "AAN" and not r.note
            cells = [_cell(r.nme.get(c), paper_aan.get(c) if compare else None)
                     for c in columns]
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        other_data = [r for r in runs if r.dataset == dataset and r.data]
        if not mine:
            out.append(f"| *(no {dataset} run given)* |" + " |" * len(columns) if not other_data
                       else f"| *(no {dataset} run on the paper's protocol: the runs given are "
                            f"in the next table)* |" + " |" * len(columns))
        out.append("")
        if other_data:  # a partial download or unverified data: never beside the paper
            out.append(f"### {title}: not the paper's protocol (no difference to the paper)\n")
            out.append("| model | data | " + " | ".join(names[c] for c in columns) + " |")
            out.append("|---|---|" + "---|" * len(columns))
            for r in other_data:
                note = f", {r.note} checkpoint" if r.note else ""
                cells = [_cell(r.nme.get(c), None) for c in columns]
                out.append(f"| {r.variant} (ours, {NORM_NAMES.get(r.norm, r.norm)}{note}) | "
                           f"{r.data} | " + " | ".join(cells) + " |")
            out.append("")
    others = [r for r in runs if r.dataset not in TABLES]
    if others:  # synthetic faces and other datasets: never in a paper table
        out.append("### Other runs (not a paper benchmark: no paper numbers to compare)\n")
        out.append("| dataset | model | normalisation | NME |")
        out.append("|---|---|---|---|")
        for r in others:
            full = r.nme.get("full")
            out.append(f"| {r.dataset} | {r.variant} | {NORM_NAMES.get(r.norm, r.norm)} | "
                       f"{'–' if full is None else f'{full:.2f}'} |")
        out.append("")
    out.append("### Table 5: ablation (NME %; ours, then the paper's, then the difference)\n")
    variants = TABLE5_VARIANTS
    out.append("| dataset | " + " | ".join(TABLE5_LABELS[v] for v in variants) + " |")
    out.append("|---|" + "---|" * len(variants))
    for dataset, label, column in (("aflw", "AFLW", "full"), ("300vw", "300VW-Category 3",
                                                              "category3")):
        cells = []
        for v in variants:
            ours = next((r.nme.get(column) for r in runs
                         if r.dataset == dataset and r.variant == TABLE5_LABELS[v]
                         and not r.note and not r.data), None)
            paper = TABLE5[dataset][v]
            cells.append(f"– / {paper:.2f}" if ours is None else
                         f"{ours:.2f} / {paper:.2f} ({ours - paper:+.2f})")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out.append("")
    return "\n".join(out)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("work_dirs", nargs="+", metavar="WORK_DIR",
                        help="work dirs of tested runs (any dataset, any variant)")
    parser.add_argument("--out", help="also write the markdown to this file (atomically)")


def run(args: argparse.Namespace) -> None:
    text = render_tables(collect_runs(args.work_dirs))
    print(text)
    if args.out:
        atomic_write(args.out, lambda tmp: Path(tmp).write_text(text))
