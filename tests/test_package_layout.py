"""The package layout: the layers import only downwards, the bench imports no command-line
module, and the modules that moved out of ``aan_core``'s top (issue 14) keep working at their
old paths, with a DeprecationWarning, while nothing in the repository imports an old path."""

from __future__ import annotations

import ast
import importlib
import os
import re
import sys
from pathlib import Path

import pytest

from aan_core._moved_module import MOVED_MODULES

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("old, new", sorted(MOVED_MODULES.items()))
def test_old_path_gives_the_new_names_and_warns(old, new, monkeypatch):
    """Catches an alias that fails to import, misses a public name, hands out copies
    instead of the same objects, or does not warn."""
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=rf"{re.escape(old)} moved to {re.escape(new)}"):
        alias = importlib.import_module(old)
    module = importlib.import_module(new)
    assert module.__all__ and alias.__all__ == module.__all__
    for name in module.__all__:
        assert getattr(alias, name) is getattr(module, name), name


def test_old_module_names_its_public_names(monkeypatch):
    """``from aan_core.input_errors import AANInputError`` (what users wrote) still works and
    catches the errors the library raises."""
    monkeypatch.delitem(sys.modules, "aan_core.input_errors", raising=False)
    with pytest.warns(DeprecationWarning):
        from aan_core.input_errors import AANInputError
    from aan_core.utils.json_input import read_json

    with pytest.raises(AANInputError):
        read_json(REPO / "no_such_file.json", AANInputError)


def _repo_sources():
    """``(relative path, path)`` of the repo's code and docs (no venvs, runs or build output)."""
    skip = {"shared", "work_dirs", "build", "dist", "__pycache__", "node_modules"}
    for folder, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in skip
                   and not d.endswith(".egg-info")]
        for name in files:
            if name.endswith((".py", ".md", ".sh", ".toml")):
                path = Path(folder) / name
                yield path.relative_to(REPO), path


def test_nothing_in_the_repo_imports_an_old_path():
    """Catches a repo file (library, bench, tests, scripts, configs) that imports a module by
    its old path (it would warn, and break when the alias goes), or a doc or script that
    names an old file path. The alias modules and this test are the only places they live."""
    allowed = {Path(*old.split(".")).with_suffix(".py") for old in MOVED_MODULES}
    allowed |= {Path("tests/test_package_layout.py")}
    names = "|".join(re.escape(old) for old in MOVED_MODULES)
    short = "|".join(old.rpartition(".")[2] for old in MOVED_MODULES)
    files = "|".join(re.escape(old.replace(".", "/")) + r"\.py" for old in MOVED_MODULES)
    pattern = re.compile(rf"^\s*(?:from|import)\s+(?:{names})\b(?!\.)"
                         rf"|^\s*from\s+aan_core\s+import\s+.*\b(?:{short})\b"
                         rf"|\b(?:{files})")
    found = [f"{rel}:{n}: {line.strip()}" for rel, path in _repo_sources() if rel not in allowed
             for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
             if pattern.search(line)]
    assert not found, "old module paths in use:\n" + "\n".join(found)


def _imports(path: Path) -> set[str]:
    """Every module a file imports (absolute names; relative imports resolved)."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


# folder -> module prefixes none of its files may import
FORBIDDEN = {
    "aan_core": ("timm_hooks", "aan_components", "timm", "mmpose", "mmengine", "mmcv"),
    "timm_hooks": ("aan_components", "mmpose", "mmengine", "mmcv"),
    "bench": ("aan_components.cli", "aan_components.tools"),
}


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_no_upward_imports_and_the_bench_imports_no_cli_module(folder):
    """Catches an import against the layering (e.g. ``aan_core`` importing ``aan_components``,
    or a bench script importing a function out of ``aan_components.tools.predict``: it
    imported ``smooth_tracks`` from there before issue 14)."""
    bad = [f"{path.relative_to(REPO)}: {name}" for path in sorted((REPO / folder).rglob("*.py"))
           for name in sorted(_imports(path))
           if any(name == p or name.startswith(p + ".") for p in FORBIDDEN[folder])]
    assert not bad, "imports against the layering:\n" + "\n".join(bad)
