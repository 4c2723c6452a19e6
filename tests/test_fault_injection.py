"""Every ``aan`` tool that writes, killed (SIGKILL) at points of its own progress and
interrupted (SIGINT) once: the output is as it was or complete, never half-written; the
user's earlier content is unchanged; a rerun succeeds and removes what the killed run left;
Ctrl-C is one line and exit 130. Also: two runs writing one output folder, and a full disk.

The kill points are reached through ``tests/kill_points.py`` (the process stops inside the
named function and the test kills it there), never by a guessed delay. ``aan demo`` trains,
so its kill test is in tests/test_training_kill.py with the training runs (marked slow).
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO, metrics_run

from aan_components.cli import main as aan

TESTS = Path(__file__).resolve().parent
SYNTHETIC = str(REPO / "mm_configs" / "aan_synthetic.py")
_markers = itertools.count()

# where the tools put what a killed run may leave: staged copies and the lock beside OUT,
# temporary files beside a single output file
LEFTOVER_PATTERNS = (".*.aan-stage.*", ".*.lock", ".*.tmp")


# ------------------------------------------------------------------------------ harness
def start_and_stop_at(argv: list[str], tmp_path: Path, at: str, *, call: int = 1,
                      when: str = "before", match: str | None = None,
                      env: dict | None = None,
                      command: list[str] | None = None) -> subprocess.Popen:
    """Start ``aan ARGV`` (or ``command + argv``) in its own process group, stopping at the
    ``call``-th call of ``at`` (see kill_points.py); returns once it stands there."""
    marker = tmp_path / "markers" / f"{next(_markers)}"
    marker.parent.mkdir(exist_ok=True)
    path = [str(TESTS / "kill_site"), str(TESTS), str(REPO), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(path),
           "AAN_KILL_AT": at, "AAN_KILL_CALL": str(call), "AAN_KILL_WHEN": when,
           "AAN_KILL_MARKER": str(marker), "OMP_NUM_THREADS": "1",
           "PYTHONWARNINGS": "ignore"}
    if match is not None:
        env["AAN_KILL_MATCH"] = match
    command = command or [sys.executable, "-m", "aan_components.cli"]
    # Ctrl-C's default action in the tool, as a terminal gives it: a shell without job control
    # starts background jobs (``pytest ... &`` in a script) with SIGINT ignored, and Python
    # keeps an inherited SIG_IGN, so the interrupt tests would wait out their timeout there
    proc = subprocess.Popen([*command, *argv], env=env,
                            start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 600
    while not marker.exists():  # the tool's own progress, watched; not a timed guess
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"{at} (call {call}) was never reached; exit {proc.returncode}\n"
                        f"{out[-2000:]}\n{err[-3000:]}")
        assert time.monotonic() < deadline, f"{at} not reached in time"
        time.sleep(0.02)
    return proc


def stop(proc: subprocess.Popen, sig: int) -> tuple[int, str]:
    """Send ``sig`` to the tool's process group; its exit status and stderr."""
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=300)
    return proc.returncode, err


def interrupted(argv, tmp_path, at, **kw) -> None:
    """Ctrl-C at ``at``: one line ``aan <tool>: interrupted``, exit 130, no traceback."""
    rc, err = stop(start_and_stop_at(argv, tmp_path, at, **kw), signal.SIGINT)
    assert rc == 130, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert err.strip().splitlines()[-1] == f"aan {argv[0]}: interrupted", err[-3000:]


def killed(argv, tmp_path, at, **kw) -> None:
    rc, err = stop(start_and_stop_at(argv, tmp_path, at, **kw), signal.SIGKILL)
    assert rc == -signal.SIGKILL, err[-3000:]


def snapshot(path: Path) -> dict[str, bytes | str]:
    """Every file under ``path`` (or ``path`` itself) -> its bytes; a link -> its target."""
    if path.is_symlink():
        return {".": f"-> {os.readlink(path)}"}
    if path.is_file():
        return {".": path.read_bytes()}
    if not path.exists():
        return {}
    out: dict[str, bytes | str] = {}
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path).as_posix()
        if p.is_symlink():
            out[rel] = f"-> {os.readlink(p)}"
        elif p.is_file():
            out[rel] = p.read_bytes()
    return out


def leftovers(folder: Path) -> list[str]:
    """What a killed run may leave in ``folder`` (stages, locks, temporary files)."""
    return sorted(p.name for pattern in LEFTOVER_PATTERNS for p in folder.glob(pattern))


def same_result(a: dict, b: dict) -> bool:
    """Two complete outputs of the same run: the same files; JSON equal up to float noise
    (another process may round the last digit differently), images of the same size and
    nearly the same pixels, everything else byte for byte."""
    if a.keys() != b.keys():
        return False
    for name in a:
        x, y = a[name], b[name]
        if x == y:
            continue
        if name.endswith(".json"):
            jx, jy = json.loads(x), json.loads(y)
            if json.dumps(jx, sort_keys=True) != json.dumps(jy, sort_keys=True):
                flat = [np.array(_numbers(jx)), np.array(_numbers(jy))]
                if flat[0].shape != flat[1].shape or not np.allclose(*flat, atol=1e-2):
                    return False
        elif isinstance(x, bytes) and isinstance(y, bytes) and name.endswith((".png", ".jpg")):
            ix = cv2.imdecode(np.frombuffer(x, np.uint8), cv2.IMREAD_COLOR)
            iy = cv2.imdecode(np.frombuffer(y, np.uint8), cv2.IMREAD_COLOR)
            if ix is None or iy is None or ix.shape != iy.shape or \
                    np.abs(ix.astype(int) - iy).mean() > 2:
                return False
        elif not name.endswith(".mp4"):  # a video: its frames are checked by the caller
            return False
    return True


def _numbers(node) -> list[float]:
    if isinstance(node, dict):
        return [v for k in sorted(node) for v in _numbers(node[k])]
    if isinstance(node, list):
        return [v for item in node for v in _numbers(item)]
    return [float(node)] if isinstance(node, (int, float)) and not isinstance(node, bool) \
        else []


def check_killed_run(out: Path, before: dict, rerun) -> None:
    """After a kill: ``out`` as it was, or the complete output of the run; the rerun
    succeeds and leaves no stage, lock or temporary file."""
    after_kill = snapshot(out)
    rerun()
    complete = snapshot(out)
    assert after_kill == before or same_result(after_kill, complete), \
        sorted(set(after_kill) ^ set(before))
    assert not leftovers(out.parent), leftovers(out.parent)
    if out.is_dir():
        assert not [p for p in out.rglob(".*") if "partial" in p.name or p.suffix == ".tmp"]


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def model(tmp_path_factory) -> tuple[str, str]:
    """(config, checkpoint): the synthetic demo model at its initial weights, saved as a
    bare state_dict (predict takes the keypoint meta from the config); no training."""
    import torch

    from aan_components.inference import load_pose_model

    path = tmp_path_factory.mktemp("model") / "initial.pth"
    torch.save(load_pose_model(SYNTHETIC, None, "cpu", False).state_dict(), path)
    return SYNTHETIC, str(path)


def _faces(folder: Path, names: list[str]) -> Path:
    from conftest import FIXTURES

    folder.mkdir(parents=True, exist_ok=True)
    face = cv2.imread(str(FIXTURES / "300w" / "indoor_029.png"))
    for i, name in enumerate(names):
        cv2.imwrite(str(folder / name), np.roll(face, 7 * i, axis=1))
    return folder


def _video(path: Path, frames: int = 4) -> Path:
    from conftest import FIXTURES

    face = cv2.imread(str(FIXTURES / "300w" / "indoor_029.png"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25,
                             (face.shape[1], face.shape[0]))
    for i in range(frames):
        writer.write(np.roll(face, 5 * i, axis=0))
    writer.release()
    return path


@pytest.fixture
def earlier_predictions(model, tmp_path) -> tuple[Path, dict]:
    """An output folder holding an earlier run's results and a file of the user's."""
    out = tmp_path / "predictions"
    aan(["predict", *model, str(_faces(tmp_path / "before", ["old.jpg"])), "--whole-image",
         "--out", str(out)])
    (out / "notes.txt").write_text("mine")
    return out, snapshot(out)


# ------------------------------------------------------------------------------ convert
CONVERT_POINTS = {  # point -> (function, its call, stop before/after it)
    "early: before anything is written": ("aan_core.utils.staged_folder:output_lock", 1,
                                          "before"),
    "writing: second split json": ("aan_components.converters.coco_face_json:atomic_write",
                                   2, "before"),
    "writing: a split json half-written": ("json:dump", 2, "half"),
    "end: swapped in, old copy not yet removed": (
        "aan_core.utils.staged_folder:exchange_folders", 1, "after"),
}


@pytest.mark.parametrize("point", sorted(CONVERT_POINTS))
def test_convert_killed(point, tmp_path):
    """Wrong input caught: ``aan convert`` wrote into OUT file by file; killed, it left
    ``OUT/images`` and an ``annotations/`` holding only a temporary file."""
    from raw_archives import make_300w

    raw, out = tmp_path / "raw", tmp_path / "data" / "300w"
    make_300w(raw)
    aan(["convert", "300w", str(raw), str(out)])
    (out / "README.txt").write_text("the user's note")
    before = snapshot(out)
    argv = ["convert", "300w", str(raw), str(out), "--keep-pts-values"]  # a new result
    at, call, when = CONVERT_POINTS[point]
    killed(argv, tmp_path, at, call=call, when=when)
    check_killed_run(out, before, lambda: aan(argv))
    assert (out / "README.txt").read_text() == "the user's note"
    info = json.loads((out / "annotations" / "face_landmarks_300w_full.json").read_text())
    assert info["info"]["coordinates"] == "pts values unchanged (1-based)"


def test_convert_killed_into_a_new_folder_leaves_no_folder(tmp_path):
    from raw_archives import make_300w

    raw, out = tmp_path / "raw", tmp_path / "data" / "300w"
    make_300w(raw)
    argv = ["convert", "300w", str(raw), str(out)]
    killed(argv, tmp_path, "aan_components.converters.coco_face_json:atomic_write", call=3)
    assert not out.exists()
    check_killed_run(out, {}, lambda: aan(argv))
    assert len(list((out / "annotations").glob("*.json"))) == 4


def test_convert_interrupted(tmp_path):
    from raw_archives import make_300w

    raw, out = tmp_path / "raw", tmp_path / "out"
    make_300w(raw)
    interrupted(["convert", "300w", str(raw), str(out)], tmp_path,
                "aan_components.converters.coco_face_json:atomic_write", call=2)
    assert not out.exists() and not leftovers(tmp_path)


# ------------------------------------------------------------------------------ predict
PREDICT_POINTS = {
    "early: before anything is written": ("aan_core.utils.staged_folder:output_lock", 1,
                                          "before"),
    "writing: second drawing": ("aan_components.tools.predict:save_image", 2, "before"),
    "writing: complete, not yet moved in": ("aan_components.tools.predict:_move_into", 1,
                                            "after"),
    "end: swapped in, old copy not yet removed": (
        "aan_core.utils.staged_folder:exchange_folders", 1, "after"),
}


@pytest.mark.parametrize("point", sorted(PREDICT_POINTS))
def test_predict_images_killed(point, model, earlier_predictions, tmp_path):
    out, before = earlier_predictions
    images = _faces(tmp_path / "images", ["a.jpg", "b.png", "c.jpg"])
    argv = ["predict", *model, str(images), "--whole-image", "--out", str(out)]
    at, call, when = PREDICT_POINTS[point]
    killed(argv, tmp_path, at, call=call, when=when)
    check_killed_run(out, before, lambda: aan(argv))
    assert (out / "notes.txt").read_text() == "mine" and (out / "vis" / "old.jpg").is_file()
    assert [r["image"] for r in json.loads((out / "landmarks.json").read_text())["images"]] \
        == ["a.jpg", "b.png", "c.jpg"]


def test_predict_images_interrupted(model, earlier_predictions, tmp_path):
    out, before = earlier_predictions
    images = _faces(tmp_path / "images", ["a.jpg", "b.png", "c.jpg"])
    interrupted(["predict", *model, str(images), "--whole-image", "--out", str(out)], tmp_path,
                "aan_components.tools.predict:save_image", call=2)
    assert snapshot(out) == before and not leftovers(out.parent)


VIDEO_POINTS = {
    "writing: third frame of the video": ("aan_components.tools.predict:draw_faces", 3,
                                          "before"),
    "end: swapped in, old copy not yet removed": (
        "aan_core.utils.staged_folder:exchange_folders", 1, "after"),
}


@pytest.mark.parametrize("point", sorted(VIDEO_POINTS))
def test_predict_video_killed(point, model, earlier_predictions, tmp_path):
    out, before = earlier_predictions
    video = _video(tmp_path / "clip.avi")
    argv = ["predict", *model, str(video), "--whole-image", "--out", str(out)]
    at, call, when = VIDEO_POINTS[point]
    killed(argv, tmp_path, at, call=call, when=when)
    check_killed_run(out, before, lambda: aan(argv))
    cap = cv2.VideoCapture(str(out / "clip_landmarks.mp4"))
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    assert frames == 4


def test_predict_video_interrupted(model, earlier_predictions, tmp_path):
    out, before = earlier_predictions
    interrupted(["predict", *model, str(_video(tmp_path / "clip.avi")), "--whole-image",
                 "--out", str(out)], tmp_path, "aan_components.tools.predict:draw_faces",
                call=3)
    assert snapshot(out) == before and not leftovers(out.parent)


# ------------------------------------------------------------- single-file outputs
def _png_ok(path: Path) -> None:
    assert cv2.imread(str(path)) is not None


def _onnx_ok(path: Path) -> None:
    import onnxruntime as ort

    ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _markdown_ok(path: Path) -> None:
    assert path.read_text().rstrip().endswith("|") and "### Table 5" in path.read_text()


# tool -> (argv given (model, tmp_path, out), output file name, check of a complete file)
SINGLE_FILE_TOOLS = {
    "attention": (lambda m, t, out: ["attention", *m, str(_faces(t / "faces", ["a.jpg"])),
                                     "--out", str(out)], "attention.png", _png_ok),
    "export": (lambda m, t, out: ["export", *m, "--out", str(out)], "model.onnx", _onnx_ok),
    "tables": (lambda m, t, out: ["tables", str(metrics_run(t)), "--out", str(out)],
               "tables.md", _markdown_ok),
}
# tool -> {point: (function, call, when, only calls with an argument holding this)}
SINGLE_FILE_POINTS = {
    "attention": {
        "early: before writing": ("aan_components.tools.attention:save_png", 1, "before", None),
        "writing: written, not yet renamed": ("aan_core.utils.atomic_io:os.replace", 1,
                                              "before", ".tmp"),
    },
    "export": {
        "early: before writing": ("aan_components.tools.export:export_onnx", 1, "before",
                                  None),
        "writing: the graph half-written": ("torch.onnx:export", 1, "half", None),
        "end: written, checking in onnxruntime": (
            "aan_components.tools.export:max_abs_difference", 1, "before", None),
    },
    "tables": {
        "early: before writing": ("aan_components.tools.tables:render_tables", 1, "before",
                                  None),
        "writing: written, not yet renamed": ("aan_core.utils.atomic_io:os.replace", 1,
                                              "before", ".tmp"),
    },
}


@pytest.mark.parametrize("tool, point", [(tool, point) for tool, points
                                         in sorted(SINGLE_FILE_POINTS.items())
                                         for point in sorted(points)])
def test_single_file_tool_killed(tool, point, model, tmp_path):
    """The user's earlier file stays as it was until the new one is complete; a killed
    writer's temporary file is removed by the rerun. Wrong input caught: atomic_write's
    temporary files named no writer, so nothing could tell a killed writer's apart."""
    make_argv, name, complete = SINGLE_FILE_TOOLS[tool]
    out = tmp_path / "results" / name
    out.parent.mkdir()
    out.write_bytes(b"the user's earlier file")
    argv = make_argv(model, tmp_path, out)
    at, call, when, match = SINGLE_FILE_POINTS[tool][point]
    killed(argv, tmp_path, at, call=call, when=when, match=match)
    check_killed_run(out, {".": b"the user's earlier file"}, lambda: aan(argv))
    complete(out)
    assert sorted(p.name for p in out.parent.iterdir()) == [name]


@pytest.mark.parametrize("tool", sorted(SINGLE_FILE_TOOLS))
def test_single_file_tool_interrupted(tool, model, tmp_path):
    make_argv, name, _ = SINGLE_FILE_TOOLS[tool]
    out = tmp_path / "results" / name
    out.parent.mkdir()
    out.write_bytes(b"the user's earlier file")
    at, call, when, match = next(p for label, p in SINGLE_FILE_POINTS[tool].items()
                                 if label.startswith("writing"))
    interrupted(make_argv(model, tmp_path, out), tmp_path, at, call=call, when=when,
                match=match)
    assert out.read_bytes() == b"the user's earlier file"
    assert sorted(p.name for p in out.parent.iterdir()) == [name]


# ------------------------------------------------------------ two writers, full disk
def test_a_second_predict_into_the_same_folder_is_refused(model, earlier_predictions,
                                                         tmp_path):
    """The first run holds OUT (stopped while drawing); the second refuses in one line,
    exit 2, touching nothing; the first then completes. A killed holder's lock is stale:
    the next run takes it over."""
    out, before = earlier_predictions
    images = _faces(tmp_path / "images", ["a.jpg", "b.png"])
    argv = ["predict", *model, str(images), "--whole-image", "--out", str(out)]
    first = start_and_stop_at(argv, tmp_path, "aan_components.tools.predict:save_image")
    second = subprocess.run([sys.executable, "-m", "aan_components.cli", *argv],
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert second.returncode == 2, second.stderr[-3000:]
    line = second.stderr.strip().splitlines()[-1]
    assert line.startswith(f"aan predict: error: {out}: another aan predict run (process "
                           f"{first.pid}) is writing this output folder now"), line
    assert "Traceback" not in second.stderr and snapshot(out) == before
    # the holder is killed: its lock is released with it, the next run goes ahead
    assert stop(first, signal.SIGKILL)[0] == -signal.SIGKILL
    check_killed_run(out, before, lambda: aan(argv))


def test_lock_is_exclusive_and_released_on_exit(tmp_path):
    from aan_core.utils.output_lock import OutputBusyError, lock_path, output_lock

    out = tmp_path / "out"
    with output_lock(out, "aan x") as lock:
        assert lock == lock_path(out) and lock.read_text().strip() == str(os.getpid())
        with pytest.raises(OutputBusyError, match="another aan x run"), \
                output_lock(out, "aan x"):
            pass
    assert not lock_path(out).exists()
    with output_lock(out, "aan x"):  # free again
        pass


@pytest.mark.parametrize("tool", ["predict", "convert", "tables"])
def test_full_disk_is_one_line_naming_the_file(tool, model, tmp_path, monkeypatch, capsys):
    """A write that fails with ENOSPC part-way: one line naming the user's path (not a
    temporary file), exit 2, the earlier output unchanged, nothing half-written left.
    Wrong input caught: ENOSPC from a file's write() carries no file name, and ``aan``
    printed its traceback."""
    import builtins
    import io

    real_open = builtins.open

    class FullDisk:
        def __init__(self, f):
            self.f, self.written = f, 0

        def write(self, data):
            if self.written + len(data) > 64:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.written += len(data)
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def full_open(file, mode="r", *a, **k):
        f = real_open(file, mode, *a, **k)
        return FullDisk(f) if "w" in mode and str(file).endswith(".tmp") else f

    if tool == "predict":
        out = tmp_path / "predictions"
        aan(["predict", *model, str(_faces(tmp_path / "before", ["old.jpg"])),
             "--whole-image", "--out", str(out)])
        argv = ["predict", *model, str(_faces(tmp_path / "images", ["a.jpg"])),
                "--whole-image", "--out", str(out)]
        named = str(out / "vis" / "a.jpg")
    elif tool == "convert":
        from raw_archives import make_300w

        out = tmp_path / "data"
        make_300w(tmp_path / "raw")
        aan(["convert", "300w", str(tmp_path / "raw"), str(out)])
        argv = ["convert", "300w", str(tmp_path / "raw"), str(out), "--keep-pts-values"]
        named = str(out / "annotations" / "face_landmarks_300w_")
    else:
        out = tmp_path / "tables.md"
        out.write_text("earlier")
        argv = ["tables", str(metrics_run(tmp_path)), "--out", str(out)]
        named = str(out)
    before = snapshot(out)
    monkeypatch.setattr(builtins, "open", full_open)
    monkeypatch.setattr(io, "open", full_open)  # pathlib's write_text
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        aan(argv)
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert e.value.code == 2, err
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert errors[0].startswith(f"aan {tool}") and f"error: {named}" in errors[0], err
    assert "No space left on device" in err and ".tmp" not in err and "aan-stage" not in err
    assert snapshot(out) == before and not leftovers(out.parent)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs (where mounting is allowed: root on Linux)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the patched-write "
                    f"test above covers the same path")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


@pytest.mark.parametrize("kind", ["images", "video"])
def test_a_really_full_disk(kind, model, tiny_disk, tmp_path, capsys):
    """Predict into a 64 KiB file system: one line naming the file under OUT that did not
    fit, exit 2, and the disk left empty."""
    src = _faces(tmp_path / "images", ["a.png", "b.png"]) if kind == "images" \
        else _video(tmp_path / "clip.avi", frames=8)
    out = tiny_disk / "out"
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        aan(["predict", *model, str(src), "--whole-image", "--out", str(out)])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert e.value.code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert f"error: {out}/" in errors[0] and ("No space left" in errors[0]
                                              or "disk full" in errors[0]), errors[0]
    assert not list(tiny_disk.iterdir())


def test_a_video_the_writer_cut_short_is_an_error(model, tmp_path, monkeypatch, capsys):
    """OpenCV's video writer reports no error when a write fails (a full disk): the drawn
    video is read back before it is moved into OUT. Wrong input caught: a video missing
    frames was moved into OUT and the run exited 0."""
    import aan_components.tools.predict as predict

    video = _video(tmp_path / "clip.avi")  # before the writer is replaced
    real_writer = cv2.VideoWriter

    class DropsFrames:  # writes the first frame only, silently, as on a full disk
        def __init__(self, *args):
            self.writer, self.frames = real_writer(*args), 0

        def write(self, frame):
            self.frames += 1
            if self.frames == 1:
                self.writer.write(frame)

        def release(self):
            self.writer.release()

    monkeypatch.setattr(predict.cv2, "VideoWriter", DropsFrames)
    out = tmp_path / "out"
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        aan(["predict", *model, str(video), "--whole-image", "--out", str(out)])
    err = capsys.readouterr().err
    assert e.value.code == 2, err
    assert f"error: {out}/clip_landmarks.mp4: the drawn video holds 1 of its 4 frames" in err
    assert not out.exists() and not leftovers(tmp_path)
