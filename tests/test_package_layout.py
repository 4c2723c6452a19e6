"""The package layout: the layers import only downwards (and so do aan_core's subpackages),
no module imports itself through others, the bench imports no command-line module and runs
as a package, and the project's files name nothing a user does not have."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _repo_sources(results: bool = False):
    """``(relative path, path)`` of the repo's code and docs (no venvs, runs or build output;
    with ``results``, the bench's JSON results too)."""
    skip = {"work_dirs", "build", "dist", "__pycache__", "node_modules"}
    suffixes = (".py", ".md", ".sh", ".toml", ".txt", ".cfg") + ((".json",) if results else ())
    for folder, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in skip
                   and not d.endswith(".egg-info")]
        for name in files:
            if name.endswith(suffixes):
                path = Path(folder) / name
                yield path.relative_to(REPO), path


# what users do not have: the team's design notes and the folder beside the checkout that held
# them and the test samples (now tests/data); the project's own docs state what the code cites
NOT_SHIPPED = re.compile("|".join(["AAN" + "_SPEC", r"\.\./" + "shared", "/work/" + "shared",
                                   r"parent\s*/\s*[\"']" + "shared"]))


def _offending(pattern: re.Pattern, sources) -> list[str]:
    return [f"{rel}:{n}: {line.strip()}" for rel, path in sources
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
            if pattern.search(line)]


def test_no_project_file_names_what_users_do_not_have():
    """Catches a file (code, docs, configs, scripts, results) that points at the design
    notes or at ``../shared``: a fresh clone has neither."""
    found = _offending(NOT_SHIPPED, [(rel, p) for rel, p in _repo_sources(results=True)
                                     if rel != Path("tests/test_package_layout.py")])
    assert not found, "names a file users do not have:\n" + "\n".join(found)


def test_the_check_sees_each_form(tmp_path):
    """The pattern of the check above matches each form a path to them can take."""
    lines = ["see AAN" + "_SPEC.md", "F=../" + "shared/fixtures", "REPO.parent / " + '"shared"',
             "/work/" + "shared/paper"]
    path = tmp_path / "x.md"
    path.write_text("\n".join(lines))
    assert len(_offending(NOT_SHIPPED, [(Path("x.md"), path)])) == len(lines)


def test_the_bench_is_a_package_and_nothing_edits_sys_path():
    """Catches a ``sys.path.insert`` / ``append`` in the bench or the tests: the bench runs
    as ``python -m bench.<tool>`` and is imported as ``bench.<tool>``."""
    edits = re.compile(r"sys\.path\.(insert|append)\(")
    found = _offending(edits, [(rel, p) for rel, p in _repo_sources()
                               if rel.parts[0] in ("bench", "tests") and rel.suffix == ".py"
                               and rel != Path("tests/test_package_layout.py")])
    assert (REPO / "bench" / "__init__.py").is_file() and not found, "\n".join(found)


def _import_statements(path: Path, package: str):
    """Each import of a file as ``(module, names)``: ``import a.b`` is ``("a.b", [])``, and
    ``from .x import y`` in ``package`` is ``("package.x", ["y"])`` (relative resolved)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[:len(parts) - node.level + 1], *([base] if base else [])])
            yield base, [alias.name for alias in node.names]


def _imports(path: Path, root: Path = REPO) -> set[str]:
    """Every module a file imports (absolute names; relative imports resolved)."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    return {name for base, names in _import_statements(path, package)
            for name in (base, *(f"{base}.{n}" for n in names))}


# folder -> module prefixes none of its files may import
FORBIDDEN = {
    "aan_core": ("timm_hooks", "aan_components", "timm", "mmpose", "mmengine", "mmcv"),
    "timm_hooks": ("aan_components", "mmpose", "mmengine", "mmcv"),
    "bench": ("aan_components.cli", "aan_components.tools"),
}


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_no_upward_imports_and_the_bench_imports_no_cli_module(folder):
    """Catches an import against the layering (e.g. ``aan_core`` importing ``aan_components``,
    or a bench script importing a function out of ``aan_components.tools.predict``)."""
    bad = [f"{path.relative_to(REPO)}: {name}" for path in sorted((REPO / folder).rglob("*.py"))
           for name in sorted(_imports(path))
           if any(name == p or name.startswith(p + ".") for p in FORBIDDEN[folder])]
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


# aan_core's subpackages -> the others their modules may import: utils <- data, network,
# evaluation <- inference (a trained network at work). No module sits at aan_core's root
# beside its lazy __init__, and no subpackage imports that root (an upward import).
AAN_CORE_LAYERS = {
    "utils": (),
    "data": ("utils",),
    "network": ("utils",),
    "evaluation": ("utils",),
    "inference": ("network", "utils"),
}


def _aan_core_against_its_layers(root: Path) -> list[str]:
    bad = []
    for path in sorted((root / "aan_core").rglob("*.py")):
        rel = path.relative_to(root)
        group = rel.parts[1] if len(rel.parts) > 2 else None
        if group is None:
            if rel.name != "__init__.py":
                bad.append(f"{rel}: a module outside aan_core's subpackages")
            continue
        if group not in AAN_CORE_LAYERS:
            bad.append(f"{rel}: in a subpackage not in AAN_CORE_LAYERS")
            continue
        for name in sorted(_imports(path, root)):
            parts = name.split(".")
            if parts[0] == "aan_core" and (len(parts) == 1 or parts[1] != group
                                           and parts[1] not in AAN_CORE_LAYERS[group]):
                bad.append(f"{rel}: {name}")
    return bad


def test_aan_core_subpackages_import_only_downwards():
    """Catches an import against aan_core's grouping (``evaluation`` importing the network,
    ``network`` importing ``inference``, any subpackage importing the root), and a module
    added at aan_core's root instead of in the subpackage of its concern."""
    bad = _aan_core_against_its_layers(REPO)
    assert not bad, "aan_core imports against its layers:\n" + "\n".join(bad)


def test_the_aan_core_layer_check_sees_each_wrong_import(tmp_path):
    """The check above finds each kind of wrong module or import, relative or absolute, and
    lets the allowed ones pass."""
    files = {
        "__init__.py": "",
        "stray.py": "",  # outside the subpackages
        "network/ok.py": "from ..utils.atomic_io import atomic_write\nfrom . import ok\n",
        "network/up.py": "from aan_core import AANLandmarkModel\n",  # the lazy root
        "evaluation/side.py": "from ..network.attention import AttentionGate\n",
        "network/down.py": "def f():\n    import aan_core.inference.temporal_smoothing\n",
        "inference/ok.py": "from aan_core.network.attention import AttentionGate\n",
        "extra/x.py": "",  # a subpackage without a layer
    }
    for name, text in files.items():
        path = tmp_path / "aan_core" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert {line.split(":")[0] for line in _aan_core_against_its_layers(tmp_path)} == {
        "aan_core/evaluation/side.py", "aan_core/extra/x.py", "aan_core/network/down.py",
        "aan_core/network/up.py", "aan_core/stray.py"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_imports(path: Path, modules: set[str]) -> set[str]:
    """The modules of ``modules`` a file imports, at any depth (imports inside functions too),
    each named as the module it loads: ``from . import x`` is ``pkg.x`` where ``x`` is a
    module, else ``pkg`` (the package's ``__init__``)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = {base for base, names in _import_statements(path, package) if not names}
    found.update(f"{base}.{n}" if f"{base}.{n}" in modules else base
                 for base, names in _import_statements(path, package) for n in names)
    return (found & modules) - {name}


def _import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph`` (module -> the modules it imports): its strongly
    connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(graph[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while not component or component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


def _package_graph(root: Path, packages=("aan_core", "timm_hooks", "aan_components")):
    files = {_module_name(p): p for package in packages for p in (root / package).rglob("*.py")}
    return {name: _module_imports(path, set(files)) for name, path in files.items()}


def test_no_import_cycles():
    """Catches two modules of the packages importing each other, directly or through
    others, at any depth (a package's ``__init__`` and a module it imports count too)."""
    cycles = _import_cycles(_package_graph(REPO))
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_check_sees_a_cycle():
    """The check above finds a cycle through a package's ``__init__`` (``from . import x``
    in a module the package imports inside a function), and none in a chain."""
    assert _import_cycles({"a": {"a.b"}, "a.b": {"a.c"}, "a.c": {"a"}}) == [["a", "a.b", "a.c"]]
    assert _import_cycles({"a": {"a.b"}, "a.b": {"a.c"}, "a.c": set()}) == []
