"""bench/equal_time_study.py, the command line and flow both equal-time studies share
(``bench.peers_real_300w``, ``bench.fast_recipe_300w``): the same options with the same
defaults, ``--300w-root`` required but for ``--tiny``, the ``--tiny`` setup, and the
calibration measured once and kept on resume."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import REPO
from study_runs import usage_error

from bench import fast_recipe_300w as fast
from bench import peers_real_300w as peers
from bench.common import ROOT_HELP
from bench.equal_time_study import (
    parse_study_args,
    recorded_calibration,
    speed_part,
    study_grid,
    study_parser,
)

STUDIES = pytest.mark.parametrize("study", [peers, fast], ids=["peers", "fast"])
SHARED = dict(seeds=None, round_to=50, resume=False, parallel=1, alongside=0, tiny=False)
# each study's calibration (rounds, untimed and timed iterations): the fast recipe's arms
# differ in cost by a few percent, and 3 rounds of 30 measured two arms of one step further
# apart than that; the peers' differ 4-15x
SPEED = {peers: (3, 10, 30), fast: (5, 20, 150)}


@STUDIES
def test_both_studies_take_the_same_options(study, tmp_path):
    args, _ = study.parse_args(["--300w-root", str(tmp_path)])
    assert {k: getattr(args, k) for k in SHARED} == SHARED
    assert (args.speed_rounds, args.speed_warmup, args.speed_iters) == SPEED[study]
    assert args.only == list(study.DEFAULT_PARTS) and args.arms == list(study.ARMS)
    assert args.out.name == f"{study.TOOL}.json"
    assert args.runs_dir == REPO / "work_dirs" / study.TOOL
    args, _ = study.parse_args(["--300w-root", str(tmp_path), "--arms", list(study.ARMS)[1],
                                "--seeds", "1", "--only", "train"])
    assert (args.arms, args.seeds, args.only) == ([list(study.ARMS)[1]], [1], ["train"])


@STUDIES
def test_the_300w_root_is_required_but_for_the_tiny_run(study, capsys):
    usage_error(study.parse_args, [])
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith(f"error: --300w-root is required; --300w-root is {ROOT_HELP}")


@STUDIES
def test_tiny_run_writes_to_a_new_folder_and_calibrates_briefly(study):
    """``--tiny``: a new temporary folder each time for the results and the runs, the two
    faces of tests/data as both the training and the common split, one calibration round of
    2 timed iterations after 1, iterations rounded to 1, and the study's own tiny budget."""
    args, _ = study.parse_args(["--tiny"])
    again, _ = study.parse_args(["--tiny"])
    try:
        assert args.out.parent != again.out.parent
        assert args.out.parent.name.startswith(f"{study.TOOL}_tiny_")
        assert args.out.name == f"{study.TOOL}.json"
        assert args.runs_dir == args.out.parent / "runs"
        ann = args.root / "annotations"
        train = json.loads((ann / "face_landmarks_300w_train.json").read_text())
        assert len(train["images"]) == 2
        assert json.loads((ann / "face_landmarks_300w_common.json").read_text()) == train
        assert (args.speed_rounds, args.speed_warmup, args.speed_iters, args.round_to) == (
            1, 1, 2, 2)
        if study is peers:
            assert (args.budget_iters, args.batch, args.reps, args.latency_reps) == (4, 2, 1, 2)
        else:
            assert args.budget_minutes == 0.05
    finally:
        for a in (args, again):
            shutil.rmtree(a.out.parent)
            shutil.rmtree(a.root)


def _study(tmp_path, *argv: str):
    parser = study_parser("A study.", "demo_study", str, parts=("speed", "train"),
                          default_parts=("speed", "train"), arms=("a", "b"),
                          every_arm="the calibration takes every arm", each="each arm",
                          tiny_unit="an arm")
    args = parse_study_args(parser, ["--300w-root", str(tmp_path), "--out",
                                     str(tmp_path / "s.json"), *argv])
    return args, parser


def test_calibration_is_measured_once_and_kept_on_resume(tmp_path, capsys):
    """The ``speed`` part measures and writes a calibration where the file has none; on
    ``--resume`` it keeps the recorded one (its line says so, with the study's note) and
    never measures another; a new study over the file, or training without a calibration,
    is a one-line error."""
    args, parser = _study(tmp_path)
    usage_error(lambda _: recorded_calibration(study_grid(args, parser, str), parser), [])
    speed_part(study_grid(args, parser, str), lambda: dict(date="2026-01-01 00:00:00", n=1))
    out = tmp_path / "s.json"
    assert json.loads(out.read_text())["calibration"] == dict(date="2026-01-01 00:00:00", n=1)
    usage_error(lambda _: study_grid(args, parser, str), [])  # not a new study over it

    args, parser = _study(tmp_path, "--resume")
    grid = study_grid(args, parser, str)
    capsys.readouterr()
    speed_part(grid, lambda: pytest.fail("measured again"), kept=lambda cal: f" (n {cal['n']})")
    assert capsys.readouterr().out == (
        f"[demo_study] {out} has the calibration of 2026-01-01 00:00:00 (n 1): kept, not "
        f"measured again; a new calibration needs a new --out\n")
    assert recorded_calibration(grid, parser) == dict(date="2026-01-01 00:00:00", n=1)
    assert json.loads(out.read_text())["calibration"]["n"] == 1


def test_training_refuses_a_calibration_measured_on_another_cpu(tmp_path, capsys):
    """A calibration's iterations are equal time on the CPU it was measured on; a grid
    resumed on another CPU model (a session on the other machine kind) stops with one line
    naming the file, the field and both CPUs, unless ``--other-cpu``; the same CPU trains."""
    from bench.common import cpu_model

    args, parser = _study(tmp_path)
    calibration = dict(date="2026-01-01 00:00:00", environment=dict(cpu="Some Other CPU"))
    speed_part(study_grid(args, parser, str), lambda: calibration)
    args, parser = _study(tmp_path, "--resume")
    grid = study_grid(args, parser, str)
    capsys.readouterr()
    usage_error(lambda _: recorded_calibration(grid, parser), [])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"{tmp_path / 's.json'}: calibration.environment.cpu is 'Some Other CPU'" in err
    assert repr(cpu_model()) in err and "--other-cpu" in err
    assert recorded_calibration(grid, parser, other_cpu=True) == calibration
    grid.payload["calibration"]["environment"]["cpu"] = cpu_model()
    assert recorded_calibration(grid, parser)["environment"]["cpu"] == cpu_model()


@STUDIES
def test_both_studies_pass_other_cpu_to_the_calibration_check(study, tmp_path):
    args, _ = study.parse_args(["--300w-root", str(tmp_path), "--other-cpu"])
    assert args.other_cpu is True
    assert study.parse_args(["--300w-root", str(tmp_path)])[0].other_cpu is False
