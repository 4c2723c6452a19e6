"""``bench.reproduce_pretrained``: the card's command run again. Its pieces are checked on
inputs built here (a fake training command, state dicts that differ by one value), and its
committed result is checked against the shipped model's."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from conftest import REPO

from bench import reproduce_pretrained as rp
from bench.pretrained_model import RECIPE_COMMAND

RESULT = REPO / "bench" / "results" / "reproduce_pretrained.json"


def test_compare_states_counts_a_one_ulp_difference_and_refuses_other_tensors():
    """Wrong inputs caught: a tensor one float16 step off is not bitwise equal; a missing
    tensor or another dtype is refused, naming it."""
    a = {"w": torch.linspace(0, 1, 5, dtype=torch.float16), "b": torch.ones(2, dtype=torch.float16)}
    a["n"] = torch.tensor(7)  # a counter (BN's num_batches_tracked): not compared
    b = {k: v.clone() for k, v in a.items()}
    assert rp.compare_states(a, b) == dict(tensors=2, bitwise_equal=2, max_abs_difference=0.0,
                                           median_relative_difference=0.0)
    b["w"][1] = torch.nextafter(b["w"][1], torch.tensor(2.0, dtype=torch.float16))
    result = rp.compare_states(a, b)
    assert result["bitwise_equal"] == 1 and result["max_abs_difference"] > 0
    assert result["tensors"] == 2  # the counter is not counted, equal or not
    with pytest.raises(ValueError, match="differ"):
        rp.compare_states({"w": a["w"]}, b)
    with pytest.raises(ValueError, match="b:.*float32"):
        rp.compare_states(a, dict(b, b=b["b"].float()))


def test_the_card_command_is_run_from_this_environment_with_the_data_where_it_is(tmp_path):
    """The card's command runs as given where the data is at ``data/300w``; elsewhere, every
    dataset of the config is pointed at the root given. Its work dir is read from it."""
    here = rp.run_command(RECIPE_COMMAND, REPO / "data" / "300w")
    assert here[0].endswith("mim") and here[1:] == RECIPE_COMMAND.split()[1:]
    elsewhere = rp.run_command(RECIPE_COMMAND, tmp_path)
    roots = [w for w in elsewhere if "data_root=" in w]
    assert len(roots) == 3 and all(w.endswith(f"={tmp_path.resolve()}/") for w in roots)
    assert rp.work_dir_of(RECIPE_COMMAND).as_posix() == "work_dirs/aan_300w_cpu_fast"
    with pytest.raises(ValueError, match="no --work-dir"):
        rp.work_dir_of("mim train mmpose mm_configs/aan_300w_cpu_fast.py")


def test_train_follows_the_log_of_this_attempt_and_names_the_log_when_it_fails(tmp_path):
    """A stand-in for `mim train` logs mmengine's iteration lines; an earlier attempt's lines
    in the same log are not read as this one's; a failing command is an error naming its
    log."""
    log = tmp_path / "train.log"
    log.write_text("Iter(train) [ 900/1000]  lr: 1e-3\n")  # a killed earlier attempt
    assert rp.last_iteration(log) == (900, 1000)
    assert rp.last_iteration(log, offset=log.stat().st_size) is None
    script = "import time\nfor i in (10, 20):\n    print(f'Iter(train) [{i:>3}/20]', flush=True)"
    timing = rp.train([sys.executable, "-c", script], tmp_path, progress=False)
    assert timing["wall_minutes"] >= 0 and timing["cpus"] >= 1
    assert rp.last_iteration(log) == (20, 20)
    echo = "import os; print('threads', os.environ.get('OMP_NUM_THREADS'))"
    rp.train([sys.executable, "-c", echo], tmp_path, progress=False, threads=1)
    assert log.read_text().splitlines()[-1] == "threads 1"
    with pytest.raises(RuntimeError, match="train.log"):
        rp.train([sys.executable, "-c", "raise SystemExit(3)"], tmp_path, progress=False)


def test_a_missing_300w_root_is_one_line_naming_the_file(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        rp.main(["--300w-root", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2
    assert "face_landmarks_300w_common.json" in err[-1] and "aan convert 300w" in err[-1]


def test_the_committed_reproduction_is_of_the_shipped_file_and_the_card_command():
    """The result the card embeds was made by the card's command (timed, not read back) and
    compared with the file that ships now."""
    payload = json.loads(RESULT.read_text())
    shipped = json.loads((REPO / "bench" / "results" / "pretrained_model.json").read_text())
    assert payload["recipe_command"] == RECIPE_COMMAND
    assert payload["timing"] is not None, "the committed reproduction was not timed"
    assert payload["shipped"]["sha256"] == shipped["sha256"]
    from aan_components.compat import safe_torch_load

    state = safe_torch_load(str(REPO / shipped["files"]["checkpoint"]), map_location="cpu")
    floating = [v for v in state["state_dict"].values() if v.is_floating_point()]
    assert payload["weights"]["tensors"] == len(floating) > 50


def test_a_killed_tool_stops_its_training(tmp_path):
    """SIGTERM to the tool while it trains: the training command is stopped too, not left
    running on the machine (the wrong outcome: the stand-in's marker file appears after the
    tool has gone)."""
    import signal
    import subprocess
    import time

    started, marker = tmp_path / "started", tmp_path / "still_training"
    stand_in = (f"import time, pathlib\npathlib.Path({str(started)!r}).touch()\n"
                f"time.sleep(3)\npathlib.Path({str(marker)!r}).touch()")
    tool = ("import sys\nfrom pathlib import Path\nfrom bench import reproduce_pretrained as rp\n"
            f"rp.train([sys.executable, '-c', {stand_in!r}], Path({str(tmp_path)!r}), "
            "progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", tool], cwd=REPO)
    deadline = time.time() + 60
    while not started.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert started.exists(), "the stand-in training never started"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) != 0
    time.sleep(4)
    assert not marker.exists(), "the training command outlived the killed tool"


def test_the_committed_one_thread_reproduction_is_the_shipped_file_bit_for_bit():
    """The card says one thread makes the shipped file bit for bit: its JSON must say so,
    of the file that ships now."""
    payload = json.loads((REPO / "bench" / "results"
                          / "reproduce_pretrained_one_thread.json").read_text())
    shipped = json.loads((REPO / "bench" / "results" / "pretrained_model.json").read_text())
    assert payload["timing"]["omp_num_threads"] == "1"
    assert payload["shipped"]["sha256"] == shipped["sha256"]
    w = payload["weights"]
    assert w["bitwise_equal"] == w["tensors"] > 50 and w["max_abs_difference"] == 0


def test_a_finished_work_dir_or_a_command_without_one_is_one_line(tmp_path, capsys,
                                                                   monkeypatch):
    """Training into a work dir that holds a finished run would overwrite it: refused in one
    line (exit 2) naming it and --skip-train, before anything runs; so is a command with no
    --work-dir. Wrong outcome caught: a traceback (FileExistsError, ValueError)."""
    root = tmp_path / "300w"
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "face_landmarks_300w_common.json").write_text("{}")
    work = tmp_path / "done"
    work.mkdir()
    (work / "last_checkpoint").write_text("iter_10.pth")
    monkeypatch.setattr(rp, "REPO", tmp_path)
    for command, expected in [
            ("mim train mmpose c.py --work-dir done", "--skip-train"),
            ("mim train mmpose c.py", "no --work-dir")]:
        with pytest.raises(SystemExit) as exit_:
            rp.main(["--300w-root", str(root), "--command", command])
        err = capsys.readouterr().err.strip().splitlines()
        assert exit_.value.code == 2 and expected in err[-1]
