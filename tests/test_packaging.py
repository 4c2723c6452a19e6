"""aan-components as a package: a light root, the plugin module, the CLI importing only the
chosen tool, one version source, declared torch ranges, and a wheel that runs ``aan demo``.

Import facts are checked in a fresh interpreter each (``sys.modules`` of this test process
already holds everything)."""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest
from conftest import REPO

HEAVY = ("mmpose", "mmengine.runner", "torch", "mmcv")


def pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def imported_after(code: str, cwd=REPO) -> dict[str, bool]:
    """Run ``code`` in a fresh interpreter; which of HEAVY (and the checkpoint loader's
    state) it left imported."""
    probe = (f"{code}\nimport sys, json\n"
             f"print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", probe], cwd=cwd, env=env, text=True,
                          capture_output=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_converters_import_neither_mmpose_nor_torch():
    """Wrong input caught: the old root (``import aan_components`` imported mmpose and
    patched mmengine), or an aan_core root importing its torch layers eagerly."""
    assert not any(imported_after("import aan_components.converters").values())


def test_the_root_imports_nothing_heavy_and_changes_nothing():
    code = ("import aan_components\n"
            "assert not any(n in sys.modules for n in ('mmengine', 'mmpose'))\n"
            "from mmengine.runner.checkpoint import CheckpointLoader\n"
            "from aan_components.compat.safe_checkpoint import safe_torch_load\n"
            "assert CheckpointLoader._schemes[''] is not safe_torch_load")
    assert not imported_after("import sys\n" + code)["mmpose"]


@pytest.mark.parametrize("argv", [["convert", "--help"], ["tables", "--help"], ["--help"],
                                  ["convert", "300w", "--help"]])
def test_light_subcommands_import_no_mmpose_runner_or_torch(argv):
    """``aan convert`` / ``aan tables`` (and ``--help``) start without MMPose, mmengine's
    Runner or torch. Wrong input caught: a ``cli.main`` that imports every tool to build
    its parser (the old one loaded the Runner for ``aan convert --help``)."""
    code = ("from aan_components.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit as e:\n    assert e.code == 0\n")
    assert not any(imported_after(code).values())


def test_aan_tables_reads_work_dirs_without_mmpose(tmp_path):
    """A work dir's saved config names ``aan_components.plugin`` in custom_imports; ``aan
    tables`` reads its values only. Wrong input caught: reading it with
    ``import_custom_modules=True`` (imports MMPose)."""
    from mmengine.config import Config

    wd = tmp_path / "aan_aflw"
    (wd / "20261127_120000").mkdir(parents=True)
    Config.fromfile(str(REPO / "mm_configs" / "aan_aflw.py")).dump(str(wd / "aan_aflw.py"))
    (wd / "20261127_120000" / "face_alignment_metrics.json").write_text(json.dumps(
        dict(dataset_name="aflw", norm_mode="box_size", prefix=None, metrics={"NME": 0.018})))
    out = tmp_path / "tables.md"
    code = ("from aan_components.cli import main\n"
            f"main(['tables', {str(wd)!r}, '--out', {str(out)!r}])")
    assert not any(imported_after(code).values())
    assert "1.80" in out.read_text()


def test_the_plugin_registers_everything_and_installs_the_process_wide_changes():
    code = ("import aan_components.plugin\n"
            "from mmpose.registry import DATASETS, HOOKS, METRICS, MODELS\n"
            "for reg, name in ((MODELS, 'AANBackbone'), (MODELS, 'EuclideanLoss'),\n"
            "                  (MODELS, 'IntermediateSupervisionLoss'),\n"
            "                  (DATASETS, 'SyntheticFaceDataset'),\n"
            "                  (METRICS, 'FaceAlignmentMetric'), (HOOKS, 'TimeBudgetHook')):\n"
            "    assert reg.get(name) is not None, name\n"
            "from mmengine.runner.checkpoint import CheckpointLoader\n"
            "from aan_components.compat.safe_checkpoint import safe_torch_load\n"
            "assert CheckpointLoader._schemes[''] is safe_torch_load\n"
            "import mmengine.dist.utils as d\n"
            "assert hasattr(d._init_dist_pytorch, '__wrapped__')  # the CPU patch\n"
            "import aan_components, mmpose.models\n"
            "assert aan_components.AANBackbone is MODELS.get('AANBackbone')")
    assert imported_after(code)["mmpose"]


def test_an_older_runs_saved_config_still_builds_in_the_tools(tmp_path):
    """A config saved before the plugin names only ``aan_components`` (which now registers
    nothing); ``load_pose_model`` (``aan predict`` / ``attention`` / ``export``) registers
    by itself. Wrong input caught: building without registering (AANPoseEstimator is not
    in the registry)."""
    old = tmp_path / "saved_before_the_plugin.py"
    old.write_text(f"_base_ = [{str(REPO / 'mm_configs' / 'aan_synthetic.py')!r}]\n"
                   "custom_imports = dict(imports=['aan_components'], "
                   "allow_failed_imports=False)\n")
    code = ("from aan_components.inference import load_pose_model\n"
            f"model = load_pose_model({str(old)!r})\n"
            "assert type(model.backbone).__name__ == 'AANBackbone'")
    assert imported_after(code)["mmpose"]


def test_public_names_still_import_from_the_root():
    import aan_components

    for name in aan_components.__all__:
        assert getattr(aan_components, name) is not None, name


def _type_checking_imports(init: Path) -> dict[str, str]:
    """``{name: module}`` of the ``if TYPE_CHECKING:`` imports of a package's ``__init__``
    (``from .network.attention import X`` gives ``{'X': 'network.attention'}``)."""
    tree = ast.parse(init.read_text())
    blocks = [node for node in tree.body if isinstance(node, ast.If)
              and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"]
    return {alias.asname or alias.name: "." * (node.level - 1) + (node.module or "")
            for block in blocks for node in block.body if isinstance(node, ast.ImportFrom)
            for alias in node.names}


@pytest.mark.parametrize("package", ["aan_core", "aan_components"])
def test_the_lazy_roots_show_type_checkers_the_names_they_load(package):
    """What a type checker reads (the ``TYPE_CHECKING`` imports, the literal ``__all__``) is
    what the root loads on first use (``_LAZY_NAMES``), and each name is the object its
    module defines. Catches a name added to one and not the other, or imported for type
    checkers from another module than the one it is loaded from."""
    root = importlib.import_module(package)
    seen = _type_checking_imports(REPO / package / "__init__.py")
    assert seen == root._LAZY_NAMES
    assert set(seen) <= set(root.__all__)
    assert all(name in vars(root) for name in root.__all__ if name not in seen)
    for name, module in seen.items():
        assert getattr(root, name) is getattr(
            importlib.import_module(f".{module}", package), name), name


def test_the_type_checking_imports_are_read_as_written(tmp_path):
    """The reader above sees each form of import in a ``TYPE_CHECKING`` block, and nothing
    outside it."""
    init = tmp_path / "__init__.py"
    init.write_text("from typing import TYPE_CHECKING\nfrom .c import C\n"
                    "if TYPE_CHECKING:\n    from .a import A, B as Bee\n"
                    "    from .sub.d import D\n")
    assert _type_checking_imports(init) == {"A": "a", "Bee": "a", "D": "sub.d"}


def test_one_version_source():
    """``__version__`` is the installed metadata, which pyproject.toml's version writes; no
    second literal version in the package."""
    import aan_components

    project = pyproject()["project"]
    assert aan_components.__version__ == project["version"]
    assert f'"{project["version"]}"' not in (REPO / "aan_components" / "__init__.py").read_text()


def test_declared_torch_ranges_cover_both_pinned_stacks():
    """torch / torchvision / timm are declared, with ranges that hold the exact versions the
    setup scripts pin (scripts/constraints.txt: default stack; -full-mmcv: full mmcv)."""
    from packaging.requirements import Requirement

    declared = {r.name: r for r in map(Requirement, pyproject()["project"]["dependencies"])}
    assert {"torch", "torchvision", "timm"} <= declared.keys()
    for constraints in ("constraints.txt", "constraints-full-mmcv.txt"):
        pins = dict(line.split("==") for line in (REPO / "scripts" / constraints)
                    .read_text().splitlines() if "==" in line and not line.startswith("#"))
        for name in ("torch", "torchvision"):
            assert declared[name].specifier.contains(pins[name]), (constraints, name)
    import timm

    assert declared["timm"].specifier.contains(timm.__version__)


def test_every_config_file_is_package_data():
    """Every config under ``aan_components/configs`` (``mm_configs``), subfolders included,
    matches a package-data glob, so the wheel ships it (globs as setuptools reads them:
    ``*`` stays within one folder). Wrong input caught: ``configs/baselines/`` without its
    own glob (``configs/*.py`` does not reach into it)."""
    import glob

    package = REPO / "aan_components"
    patterns = pyproject()["tool"]["setuptools"]["package-data"]["aan_components"]
    shipped = {path for pattern in patterns
               for path in glob.glob(pattern, root_dir=package)}
    configs = {p.relative_to(package).as_posix() for p in (package / "configs").rglob("*.py")}
    assert "configs/baselines/hrnetv2-w18_300w_cpu.py" in configs
    assert configs - shipped == set()


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_aan_demo_from_an_empty_dir(tmp_path):
    """The wheel built from the repo, installed (without deps) in a fresh venv that sees this
    default stack's site-packages (torch, mmpose, ...) through a .pth file, but not the
    source tree: ``aan_components`` comes from the wheel, finds its shipped config, and
    ``aan demo --minutes 0.2`` runs from an empty directory, and ``aan predict IMAGE`` finds
    the shipped model in the wheel. Wrong input caught: configs not in the wheel (before:
    ``aan demo`` looked for ``<repo>/mm_configs``), the model's files not in it."""
    src, dist, venv, run = (tmp_path / d for d in ("src", "dist", "venv", "run"))
    # build from a copy of the packaged files: building in the checkout would write build/
    # and *.egg-info there
    src.mkdir()
    with tarfile.open(tmp_path / "src.tar", "w") as tar:
        for name in ("pyproject.toml", "README.md", "aan_core", "aan_components", "timm_hooks"):
            tar.add(REPO / name, arcname=name,
                    filter=lambda t: None if "__pycache__" in t.name else t)
    with tarfile.open(tmp_path / "src.tar") as tar:
        tar.extractall(src, filter="data")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    py = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*py, "wheel", str(src), "--no-deps", "--no-build-isolation", "-w",
                    str(dist)], check=True, env=env)
    (wheel,) = dist.glob("aan_components-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    vpy = str(venv / "bin" / "python")
    site = subprocess.run([vpy, "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], check=True, text=True, capture_output=True,
                          env=env).stdout.strip()
    # the default stack, next to the fresh venv (a path entry: its own .pth files, the
    # editable install's finder among them, are not run)
    with open(os.path.join(site, "default_stack.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([*py, "--python", vpy, "install", "--no-deps", str(wheel)], check=True,
                   env=env)
    run.mkdir()
    where = subprocess.run(
        [vpy, "-c", "import aan_components as a; print(a.__file__); print(a.config_path("
         "'aan_300w')); from mmengine.config import Config; "
         "print(Config.fromfile(str(a.config_path('aan_aflw'))).model.head.num_joints)"],
        cwd=run, env=env, check=True, text=True, capture_output=True).stdout.split()
    assert where[0].startswith(str(venv)) and where[1].startswith(str(venv)), where
    assert where[2] == "19"
    result = subprocess.run([str(venv / "bin" / "aan"), "demo", "--minutes", "0.2"], cwd=run,
                            env=env, text=True, capture_output=True)
    assert result.returncode == 0, result.stderr[-3000:]
    (summary_file,) = (run / "work_dirs" / "aan_synthetic_demo").glob("*/summary.json")
    summary = json.loads(summary_file.read_text())
    shipped = os.path.join(site, "aan_components", "configs", "aan_synthetic.py")
    assert os.path.realpath(summary["config"]) == os.path.realpath(shipped)
    assert summary["iterations"] >= 1 and 0 < summary["test_metrics"]["NME"] < 10
    assert os.path.isfile(summary["predictions"]) and os.path.isfile(summary["checkpoint"])
    # the newcomer's line: the shipped model, from the wheel, with no model arguments
    image = REPO / "tests" / "data" / "mmpose_face_samples" / "300w" / "indoor_029.png"
    result = subprocess.run([str(venv / "bin" / "aan"), "predict", str(image), "--out",
                             "preds"], cwd=run, env=env, text=True, capture_output=True)
    assert result.returncode == 0, result.stderr[-3000:]
    landmarks = json.loads((run / "preds" / "landmarks.json").read_text())
    assert landmarks["checkpoint"].startswith(site), landmarks["checkpoint"]
    assert len(landmarks["images"][0]["faces"]) == 1
