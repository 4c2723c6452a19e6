"""One error path for every ``aan`` tool: a user error (any ``AANInputError``, or an
``OSError`` naming a file) becomes one line ``aan <command>: error: <message>`` on stderr and
exit status 2, in ``cli.main`` alone, never a traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import metrics_run

from aan_components.cli import SUBCOMMANDS
from aan_components.cli import main as aan
from aan_core.utils.input_errors import AANInputError

REPO = Path(__file__).resolve().parents[1]

# tool -> (argv after the tool given a temporary folder, what the one error line says)
WRONG_INPUTS = {
    "demo": (lambda t: ["--config", str(t / "missing.py"), "--work-dir", str(t / "wd")],
             "missing.py: config file not found"),
    "demo (a config field)": (lambda t: ["--cfg-options", "model.head.embedding_dim=0",
                                         "--work-dir", str(t / "wd")],
                              "embedding_dim must be >= 1"),
    "convert": (lambda t: ["300w", str(t / "raw"), str(t / "out")],
                "raw: not a folder"),
    "tables": (lambda t: [str(t / "no_run")], "no_run: not a directory"),
    "check": (lambda t: [str(_write(t / "notes.py", "These are my notes.\n"))],
              "notes.py: line 1: syntax error"),
    "check (an evaluator field)": (
        lambda t: [str(REPO / "mm_configs" / "aan_synthetic.py"), "--cfg-options",
                   "test_evaluator.norm_mode=eyes"],
        "field test_evaluator: "),
    "predict": (lambda t: [str(t / "c.py"), str(t / "c.pth"), str(t / "no_image.jpg"),
                           "--out", str(t / "out")], "no_image.jpg: no such file or folder"),
    "attention": (lambda t: [str(t / "c.py"), str(t / "c.pth"), str(t / "no_image.jpg"),
                             "--out", str(t / "o.png")], "no_image.jpg: no such file or folder"),
    "export": (lambda t: [str(t / "missing.py"), str(t / "c.pth"), "--out", str(t / "m.onnx")],
               "missing.py: config file not found"),
    "calibrate": (lambda t: ["--300w-root", str(t / "no_300w"), "--out", str(t / "out")],
                  "face_landmarks_300w_train.json: not found"),
    "calibrate (nothing to fit)": (lambda t: ["--out", str(t / "out")], "nothing to fit"),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_every_tool_is_covered():
    assert {case.split()[0] for case in WRONG_INPUTS} == set(SUBCOMMANDS)


@pytest.mark.parametrize("case", sorted(WRONG_INPUTS))
def test_a_user_error_is_one_line_and_exit_2(case, tmp_path, capsys):
    """Wrong input caught: a tool whose user error escapes as a traceback (exit 1; e.g.
    ``aan demo`` with a config field that builds no model, before it checked the config),
    or is printed by the tool itself in its own wording, or leaves output behind."""
    tool = case.split()[0]
    make_argv, message = WRONG_INPUTS[case]
    argv = [tool, *make_argv(tmp_path)]
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        aan(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1, err
    prog = f"aan {tool} 300w" if tool == "convert" else f"aan {tool}"
    assert errors[0].startswith(f"{prog}: error: ") and message in errors[0], errors
    assert "Traceback" not in err
    assert not any(p.name in ("out", "wd", "o.png", "m.onnx") for p in tmp_path.iterdir())


def test_any_input_error_of_a_tool_goes_through_main(monkeypatch, capsys):
    """cli.main is the one place: an AANInputError raised anywhere in a tool's run (here
    injected) is worded and exits like every other."""
    from aan_components.tools import tables

    def fail(args):
        raise AANInputError("somewhere.json: field x: wrong")

    monkeypatch.setattr(tables, "run", fail)
    with pytest.raises(SystemExit) as e:
        aan(["tables", "anything"])
    assert e.value.code == 2
    assert capsys.readouterr().err == "aan tables: error: somewhere.json: field x: wrong\n"


def test_the_installed_command_exits_2_without_traceback(tmp_path):
    """The real process: exit status 2 and the error as the last line of stderr."""
    proc = subprocess.run([sys.executable, "-m", "aan_components.cli", "tables",
                           str(tmp_path / "no_run")], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"aan tables: error: {tmp_path}/no_run: " \
                                                   f"not a directory"


# Error types of the packages that are not input errors, and why
NOT_INPUT_ERRORS = {
    "NonFiniteLossError": "training diverged (FiniteLossHook): not the user's input",
    "MissingCompiledOpError": "the installed mmcv lacks a compiled op: an environment limit",
}


def test_every_error_type_of_the_packages_is_an_input_error():
    """Catches an error type added without the common base (``aan`` would print its
    traceback): every exception class defined in aan_core, timm_hooks and aan_components
    derives from AANInputError, but for the listed non-input ones."""
    import importlib
    import inspect
    import pkgutil

    found = {}
    for package in ("aan_core", "timm_hooks", "aan_components"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            module = importlib.import_module(info.name)
            for name, obj in vars(module).items():
                if (inspect.isclass(obj) and issubclass(obj, BaseException)
                        and obj.__module__ == module.__name__):
                    found[name] = obj
    assert len(found) >= 12, sorted(found)  # the walk did find them
    stray = sorted(n for n, cls in found.items()
                   if not issubclass(cls, AANInputError) and n not in NOT_INPUT_ERRORS)
    assert not stray, f"error types without the AANInputError base: {stray}"


# ---------------------------------------------------------------- hostile input, second pass
SYNTHETIC = REPO / "mm_configs" / "aan_synthetic.py"


def _child_of(base: Path) -> str:
    return f"_base_ = ['{base}']\n"


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


# case id -> (argv after "aan", given a temporary folder; what the one error line says).
# Each ended in a traceback, or (the last ones) named a temporary file instead of the
# user's path.
HOSTILE_INPUTS = {
    "check: broken yaml": (lambda t: ["check", str(_write(t / "bad.yaml", "a: [1, 2\n"))],
                           "bad.yaml: line 2: invalid YAML: did not find expected ',' or ']'"),
    "check: broken json": (lambda t: ["check", str(_write(t / "bad.json", '{"a": 1,\n'))],
                           "bad.json: line 2: invalid JSON: Expecting property name"),
    "check: config raises": (
        lambda t: ["check", str(_write(t / "raises.py", "x = 1\ny = 1 / 0\n"))],
        "raises.py: line 2: cannot read this config: ZeroDivisionError: division by zero"),
    "check: undefined name": (
        lambda t: ["check", str(_write(t / "undefined.py", "model = undefined_name\n"))],
        "undefined.py: line 1: cannot read this config: NameError: name 'undefined_name' is "
        "not defined"),
    "check: a _base_ raises": (
        lambda t: ["check", str(_write(t / "child.py", _child_of(_write(
            t / "base.py", "x = 1\nx = [][3]\n"))))],
        "base.py: line 2: cannot read this config: IndexError: list index out of range"),
    "check: custom_imports missing": (
        lambda t: ["check", str(_write(t / "imports.py", "custom_imports = dict(imports=["
                                       "'no_such_module'], allow_failed_imports=False)\n"))],
        "imports.py: field custom_imports: cannot import it: ModuleNotFoundError: No module "
        "named 'no_such_module'"),
    "check: no model": (lambda t: ["check", str(_write(t / "plain.py", "x = 1\n"))],
                        "plain.py: field model: missing"),
    "demo: --config without model": (
        lambda t: ["demo", "--config", str(_write(t / "plain.py", "x = 1\n")), "--work-dir",
                   str(t / "wd")], "plain.py: field model: missing"),
    "check: dataloader field typo": (
        lambda t: ["check", str(_write(t / "typo.py", f"_base_ = ['{SYNTHETIC}']\n"
                                       f"train_dataloader = dict(_delete_=True, batch_size=2, "
                                       f"datset=dict(type='SyntheticFaceDataset'))\n"))],
        "typo.py: field train_dataloader.datset: unknown field of a dataloader (did you mean "
        "'dataset'?)"),
    "check: dataset field typo": (
        lambda t: ["check", str(SYNTHETIC), "--cfg-options",
                   "test_dataloader.dataset.ann_fle=x.json"],
        "field test_dataloader.dataset.ann_fle: unknown field of SyntheticFaceDataset (did "
        "you mean 'ann_file'?)"),
    "check: transform field typo": (
        lambda t: ["check", str(_write(t / "typo.py", f"_base_ = ['{SYNTHETIC}']\n"
                                       f"test_dataloader = dict(dataset=dict(pipeline=["
                                       f"dict(type='LoadFaceImage', on_eror='skip')]))\n"))],
        "field test_dataloader.dataset.pipeline[0].on_eror: unknown field of LoadFaceImage "
        "(did you mean 'on_error'?)"),
    "check: --cfg-options without =": (
        lambda t: ["check", str(SYNTHETIC), "--cfg-options", "train_cfg.max_iters"],
        "argument --cfg-options: expected KEY=VALUE (e.g. train_cfg.max_iters=100), got "
        "'train_cfg.max_iters'"),
    "demo: --cfg-options without =": (
        lambda t: ["demo", "--cfg-options", "model", "--work-dir", str(t / "wd")],
        "argument --cfg-options: expected KEY=VALUE"),
    "export: --opset out of range": (
        lambda t: ["export", str(SYNTHETIC), "--opset", "99", "--out", str(t / "m.onnx")],
        "argument --opset: must be an integer in 7.."),
    "export: --opset without an operator": (
        lambda t: ["export", str(SYNTHETIC), "--opset", "9", "--out", str(t / "m.onnx")],
        "opset 9: cannot export this model: Exporting the operator 'aten::flip' to ONNX "
        "opset version 9 is not supported"),
    "export: --out an existing folder": (
        lambda t: ["export", str(SYNTHETIC), "--no-check", "--out", str(_folder(t / "f"))],
        "/f: is a folder; give a file name"),
    "tables: --out an existing folder": (
        lambda t: ["tables", str(metrics_run(t)), "--out", str(_folder(t / "f"))],
        "/f: is a folder; give a file name"),
}


def _exit_2_stderr(argv: list[str], capsys) -> str:
    """What ``aan argv`` writes on stderr; it must exit with status 2."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        aan(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2, err
    return err


@pytest.mark.parametrize("case", sorted(HOSTILE_INPUTS))
def test_hostile_inputs_are_one_line_and_exit_2(case, tmp_path, capsys):
    """Wrong input caught: each case of the second hostile-input pass that ended
    in a traceback or named a temporary file; now one line naming the user's file and the
    field, exit 2, and nothing written."""
    make_argv, message = HOSTILE_INPUTS[case]
    err = _exit_2_stderr(make_argv(tmp_path), capsys)
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1 and message in errors[0], err
    assert "Traceback" not in err and ".tmp" not in errors[0]
    assert not (tmp_path / "wd").exists() and not (tmp_path / "m.onnx").exists()
    if (tmp_path / "f").exists():
        assert not list((tmp_path / "f").iterdir())


# ------------------------------------------------- the last two bad inputs of that pass
def _only_helen_testset(t: Path) -> Path:
    """A 300W download holding only helen/testset: no split can be formed from it."""
    from raw_archives import make_300w

    raw = t / "raw"
    make_300w(raw)
    for folder in ("afw", "helen/trainset", "lfpw", "ibug"):
        shutil.rmtree(raw / folder)
    return raw


def _run_with_helper_script(t: Path) -> Path:
    """A tested run's work dir whose only .py is a helper script, not a config."""
    run = metrics_run(t)
    _write(run / "plot_losses.py", "import sys\nprint(sys.argv)\n")
    return run


LAST_BAD_INPUTS = {
    "convert 300w: no split can be formed": (
        lambda t: ["convert", "300w", str(_only_helen_testset(t)), str(t / "out")],
        "raw: only helen/testset present: no split can be formed (train needs one of afw, "
        "helen/trainset, lfpw/trainset; common needs lfpw/testset; challenging needs ibug; "
        "full needs lfpw/testset and ibug)"),
    "tables: the only .py is not a config": (
        lambda t: ["tables", str(_run_with_helper_script(t))],
        "plot_losses.py: field model: missing: not a model config (a work dir's only .py "
        "is taken as the run's saved config)"),
}


@pytest.mark.parametrize("case", sorted(LAST_BAD_INPUTS))
def test_last_bad_inputs_are_one_line_and_exit_2(case, tmp_path, capsys):
    """Wrong input caught: ``aan convert 300w`` with only helen/testset ended in a traceback
    (``max()`` of no split) and left ``OUT/images``; ``aan tables`` on a work dir whose only
    ``.py`` is a helper script ended in ``AttributeError`` (no ``model``)."""
    make_argv, message = LAST_BAD_INPUTS[case]
    err = _exit_2_stderr(make_argv(tmp_path), capsys)
    assert err.count("\n") == 1 and ": error: " in err and message in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
