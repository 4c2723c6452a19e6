"""``aan convert 300w`` on a partial download (some of the six source folders absent): the
sources present are converted, the absent ones named once, only the splits they form are
written, each json records its sources, and ``aan check`` / the datasets say what a missing
split needs and how to test on common instead."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO
from raw_archives import make_300w

from aan_components.cli import main as aan
from aan_components.converters.face300w_protocol import (
    PAPER_COUNTS,
    describe_split,
    is_paper_split,
    split_info,
)
from aan_core.evaluation.face_protocols import FACE300W_SOURCE_FACES

SPLIT_FILES = {s: f"face_landmarks_300w_{s}.json" for s in PAPER_COUNTS}


def partial_raw(root: Path, *absent: str) -> Path:
    """The test archive (one face per source folder) without the ``absent`` folders."""
    make_300w(root)
    for folder in absent:
        shutil.rmtree(root / folder)
    return root


def written(out: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted((out / "annotations").iterdir())}


def convert(capsys, raw: Path, out: Path) -> list[str]:
    aan(["convert", "300w", str(raw), str(out)])
    return capsys.readouterr().out.splitlines()


def test_partial_layout_writes_the_splits_its_sources_form(tmp_path, capsys):
    """The layout of a download without AFW and iBUG (the project's real-face folder): train
    from HELEN and LFPW train, common from both test sets, no challenging or full; the absent
    folders named in one line; each json's info records the sources present and absent.
    Wrong input caught: the converter before this change (it stopped at the first absent
    folder: 'afw: folder not found')."""
    raw, out = partial_raw(tmp_path / "raw", "afw", "ibug"), tmp_path / "out"
    lines = convert(capsys, raw, out)
    absent = [line for line in lines if "absent" in line]
    assert absent == [f"aan convert 300w: absent from {raw}: afw, ibug; not written: "
                      f"challenging (needs ibug), full (needs ibug)"]
    files = written(out)
    assert sorted(files) == [SPLIT_FILES["common"], SPLIT_FILES["train"]]
    train, common = (files[SPLIT_FILES[s]]["info"] for s in ("train", "common"))
    assert train["sources"] == {"helen/trainset": 1, "lfpw/trainset": 1}
    assert train["sources_absent"] == ["afw"] and train["protocol"] == "300W partial"
    assert common["sources"] == {"helen/testset": 1, "lfpw/testset": 1}
    assert common["sources_absent"] == []
    assert train["conversion"] == common["conversion"] == dict(
        sources_present={"helen/trainset": 1, "lfpw/trainset": 1, "helen/testset": 1,
                         "lfpw/testset": 1},
        sources_absent=["afw", "ibug"], splits_written=["train", "common"])
    assert [im["file_name"].rsplit("/", 1)[0] for im in files[SPLIT_FILES["train"]]["images"]] \
        == ["helen/trainset", "lfpw/trainset"]
    assert (out / "images").is_symlink() and (out / "images").resolve() == raw.resolve()
    assert "  train   2  (paper: 3148, differs)" in lines


def test_common_needs_both_test_sets(tmp_path, capsys):
    """Without LFPW's test set there is no common (nor full) split, and the line says what
    common needs; train and challenging are written. Wrong input caught: a converter that
    wrote a common split of HELEN test alone."""
    raw, out = partial_raw(tmp_path / "raw", "lfpw/testset"), tmp_path / "out"
    lines = convert(capsys, raw, out)
    assert [line for line in lines if "absent" in line] == [
        f"aan convert 300w: absent from {raw}: lfpw/testset; not written: common (needs "
        f"lfpw/testset), full (needs lfpw/testset)"]
    assert sorted(written(out)) == [SPLIT_FILES["challenging"], SPLIT_FILES["train"]]
    assert written(out)[SPLIT_FILES["train"]]["info"]["sources_absent"] == []


def test_an_empty_source_folder_is_absent(tmp_path, capsys):
    raw = partial_raw(tmp_path / "raw")
    for f in (raw / "ibug").iterdir():
        f.unlink()
    lines = convert(capsys, raw, tmp_path / "out")
    assert any("absent from" in line and ": ibug;" in line for line in lines)
    assert SPLIT_FILES["full"] not in written(tmp_path / "out")


@pytest.mark.parametrize("make", [
    lambda raw: raw.mkdir(),  # an empty folder
    lambda raw: (raw / "helen" / "trainset").mkdir(parents=True),  # folders, no .pts
    lambda raw: (raw / "unrelated").mkdir(parents=True),
])
def test_no_source_fails_with_one_line(tmp_path, capsys, make):
    raw, out = tmp_path / "raw", tmp_path / "out"
    make(raw)
    with pytest.raises(SystemExit) as e:
        aan(["convert", "300w", str(raw), str(out)])
    assert e.value.code == 2
    assert capsys.readouterr().err == (
        f"aan convert 300w: error: {raw}: no 300W source folder with .pts files under it (expected "
        f"some of afw, helen/trainset, lfpw/trainset, helen/testset, lfpw/testset, ibug)\n")
    assert not out.exists()


def test_raw_dir_that_is_not_a_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        aan(["convert", "300w", str(tmp_path / "nowhere"), str(tmp_path / "out")])
    assert e.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_split_the_new_conversion_cannot_form_is_removed(tmp_path, capsys):
    """Converting a smaller download into the same folder leaves no split of the earlier
    conversion behind (a stale full json would still list iBUG's faces); a file another
    tool wrote under that name is kept. Wrong input caught: a converter that left them."""
    raw, out = partial_raw(tmp_path / "raw"), tmp_path / "out"
    convert(capsys, raw, out)
    assert len(written(out)) == 4
    shutil.rmtree(raw / "ibug")
    (out / "annotations" / SPLIT_FILES["challenging"]).write_text('{"info": {}}')  # not ours
    lines = convert(capsys, raw, out)
    assert "removed the earlier conversion's full" in lines[0]
    assert sorted(written(out)) == sorted(SPLIT_FILES[s] for s in ("challenging", "common",
                                                                   "train"))
    assert written(out)[SPLIT_FILES["challenging"]] == {"info": {}}


def test_paper_split_record_and_description():
    """A complete download is the paper's split; a folder short of faces is partial; a json
    without a record (MMPose's released files) is judged by its count."""
    full = split_info("train", FACE300W_SOURCE_FACES)
    assert full["protocol"] == "300W" and full["faces"] == 3148
    assert describe_split(full) == "300W: train, 3,148 faces (the paper's split)"
    short = split_info("common", dict(FACE300W_SOURCE_FACES, **{"lfpw/testset": 223}))
    assert short["protocol"] == "300W partial" and short["sources_absent"] == []
    assert describe_split(short) == ("300W partial: common from 553 of 554 faces "
                                     "(helen/testset 330, lfpw/testset 223 of 224)")
    assert is_paper_split({"info": full, "annotations": []}, "train")[0]
    assert not is_paper_split({"info": full}, "common")[0]  # another split's record
    assert is_paper_split({"annotations": [{}] * 3148}, "train")[0]
    ok, what = is_paper_split({"annotations": [{}] * 1675}, "train")
    assert not ok and what == "300W partial: train from 1,675 of 3,148 faces (no source record)"


# ---------------------------------------------------------------------------- aan check
def config_options(out: Path, common: bool = False) -> list[str]:
    options = [f"{s}_dataloader.dataset.data_root={out}/" for s in ("train", "val", "test")]
    if common:
        options += [f"{s}_dataloader.dataset.ann_file=annotations/{SPLIT_FILES['common']}"
                    for s in ("val", "test")]
    return options


def test_check_names_the_missing_split_and_the_common_options(tmp_path, capsys):
    """`aan check mm_configs/aan_300w.py` on a conversion without iBUG: its val/test file
    (full) is missing; the error says which split, why, and the --cfg-options that test on
    common; with them the check passes and shows the sources of each file. Wrong input
    caught: the check before this change ('cannot read: No such file or directory')."""
    raw, out = partial_raw(tmp_path / "raw", "afw", "ibug"), tmp_path / "out"
    convert(capsys, raw, out)
    config = str(REPO / "mm_configs" / "aan_300w.py")
    with pytest.raises(SystemExit) as e:
        aan(["check", config, "--cfg-options", *config_options(out)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    suggestion = (f"val_dataloader.dataset.ann_file=annotations/{SPLIT_FILES['common']} "
                  f"test_dataloader.dataset.ann_file=annotations/{SPLIT_FILES['common']}")
    assert err == (f"aan check: error: {config}: field val_dataloader.dataset.ann_file: "
                   f"{out}/annotations/{SPLIT_FILES['full']}: not found: this 300W "
                   f"conversion has no full split (needs ibug; absent from its raw folder: "
                   f"afw, ibug; it has train, common). To validate and test on common: "
                   f"--cfg-options {suggestion}\n")
    aan(["check", config, "--images", "--cfg-options", *config_options(out),
         *suggestion.split()])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("aan check: train: images 2, faces 2, num_keypoints 68; 300W partial: "
                        "train from 2 of 3,148 faces (helen/trainset 1 of 2,000, "
                        "lfpw/trainset 1 of 811; absent: afw)")
    assert lines[1].startswith("aan check: val: images 2, faces 2, num_keypoints 68; "
                               "300W partial: common from 2 of 554 faces")
    assert lines[-1].endswith(": OK")


def test_training_on_a_missing_split_says_the_same(tmp_path, capsys):
    """`mim train` (the dataset itself) on the same conversion: the missing full split is
    explained, not MMPose's bare 'Annotation file does not exist'."""
    from mmengine.config import Config
    from mmpose.registry import DATASETS

    from aan_components.datasets import MissingDataError

    raw, out = partial_raw(tmp_path / "raw", "ibug"), tmp_path / "out"
    convert(capsys, raw, out)
    ds_cfg = Config.fromfile(str(REPO / "mm_configs" / "aan_300w.py")).val_dataloader.dataset
    ds_cfg.data_root = str(out)
    with pytest.raises(MissingDataError) as e:
        DATASETS.build(ds_cfg)
    assert "has no full split (needs ibug" in str(e.value)
    assert (f"--cfg-options val_dataloader.dataset.ann_file=annotations/"
            f"{SPLIT_FILES['common']}") in str(e.value)
    ds_cfg.ann_file = f"annotations/{SPLIT_FILES['common']}"
    assert len(DATASETS.build(ds_cfg)) == 2
