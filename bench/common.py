"""Shared by the bench tools: environment facts, seed statistics and mean ± sd cells, the one
FLOP count, a short seeded training run, markdown tables, and the results files (JSON and
its generated ``.md``).

Every tool runs as ``python -m bench.<tool>`` from the repository root and builds its command
line on :class:`BenchParser` (the options every tool shares, the one summarise step). It
writes its JSON to ``bench/results/<name>.json`` and the tables generated from it to
``bench/results/<name>.md`` (``python -m bench.<tool> --summarise bench/results/<name>.json``
regenerates them). Pages under ``docs/`` embed a generated file between
``<!-- include PATH -->`` and ``<!-- /include -->``; ``python -m bench.common docs/*.md``
refreshes those blocks.
``tests/test_bench_results.py`` checks both against their sources.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from aan_core.utils.atomic_io import atomic_write

RESULTS = Path(__file__).resolve().parent / "results"
REPO = RESULTS.parents[1]
# MMPose's real face samples (its tests/data layout: 300w/, aflw/, 300vw/, ...); the repository
# keeps the ones the tests use in tests/data/mmpose_face_samples; AAN_FIXTURES points at others
# (a clone's mmpose/tests/data has all seven sets bench.real_faces reads).
FACE_SAMPLES = Path(os.environ.get("AAN_FIXTURES",
                                   REPO / "tests" / "data" / "mmpose_face_samples"))
_INCLUDE = re.compile(r"(<!-- include (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- /include -->)",
                      re.S)


def cpu_model() -> str:
    """The CPU's model name as ``/proc/cpuinfo`` gives it, else what the platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_text() -> str:
    """A results file's ``machine`` line: ``CPU: <model>, <n> cores``."""
    return f"CPU: {cpu_model()}, {os.cpu_count()} cores"


def environment() -> dict:
    """The machine and software a results file was measured with: CPU model and count, the
    GPU card when there is one, torch and Python versions, threads, host and date."""
    return dict(date=time.strftime("%Y-%m-%d %H:%M:%S"), host=platform.node(),
                cpu=cpu_model(), cpu_count=os.cpu_count(),
                gpu=torch.cuda.get_device_name() if torch.cuda.is_available() else None,
                torch=torch.__version__, torch_threads=torch.get_num_threads(),
                python=platform.python_version())


def seed_stats(runs: list[dict], key: str = "nme_pct") -> dict:
    """A cell's ``key`` over its seeds: mean, sd (0 for one seed), the seeds and each value.

    Example:
        >>> s = seed_stats([dict(seed=0, nme_pct=10.0), dict(seed=1, nme_pct=12.0)])
        >>> s["NME"], s["seeds"], s["per_seed"]
        ('11.00 ± 1.41', [0, 1], '10.00, 12.00')
    """
    vals = [r[key] for r in runs]
    mean = statistics.fmean(vals)
    sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return dict(nme_mean=mean, nme_sd=sd, NME=f"{mean:.2f} ± {sd:.2f}",
                seeds=[r["seed"] for r in runs], per_seed=", ".join(f"{v:.2f}" for v in vals))


def mean_sd(values: list, digits: int = 2, scale: float = 1.0) -> str:
    """A table cell of ``values`` (each times ``scale``; ``None`` left out): ``mean ± sd``,
    the value alone for one, empty for none.

    Example:
        >>> mean_sd([4.0, 4.2]), mean_sd([0.01, None], 1, 100), mean_sd([None])
        ('4.10 ± 0.14', '1.0', '')
    """
    values = [scale * v for v in values if v is not None]
    if not values:
        return ""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def gflops(fn: Callable, x: torch.Tensor) -> float:
    """GFLOPs of ``fn(x)``, counted by ``torch.utils.flop_counter.FlopCounterMode``: matmuls
    and convolutions, a multiply-add = 2 FLOPs (fvcore and mmcv count multiply-adds: half
    these numbers); element-wise operations are not counted. Pass a batch of one for a
    per-image count.

    Example:
        >>> conv = torch.nn.Conv2d(3, 4, 1, bias=False)  # 3 x 4 x (2 x 2) multiply-adds
        >>> round(gflops(conv, torch.zeros(1, 3, 2, 2)) * 1e9)
        96
    """
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn(x)
    return counter.get_total_flops() / 1e9


def inference_params(model: torch.nn.Module, run: Callable[[], object]) -> int:
    """Parameters that run at test time: those of the modules of ``model`` that ``run`` (one
    test-time call, eager) calls. AAN's intermediate-supervision branches, used in training
    only, are not called; HRNet's parallel ``branches`` are. (A rule by name, "all but
    submodules named branches", counted HRNet-w18 as 1.6 M instead of 9.7 M.)

    Example:
        >>> net = torch.nn.ModuleDict(dict(used=torch.nn.Linear(2, 3),
        ...                                unused=torch.nn.Linear(2, 9)))
        >>> inference_params(net, lambda: net["used"](torch.zeros(1, 2)))
        9
    """
    called: dict[int, torch.nn.Parameter] = {}

    def hook(module, args, output):
        called.update((id(p), p) for p in module.parameters(recurse=False))

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    return sum(p.numel() for p in called.values())


def train_checkpoint(config: str | Path, work_dir: Path, iters: int,
                     edit: Callable | None = None) -> str:
    """Train an MMPose config for ``iters`` iterations with mmengine's Runner, seeded (seed
    0), and return its checkpoint at the last iteration. ``edit(cfg)`` changes the config
    before the run (data, schedule, hooks)."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(str(config))
    cfg.train_cfg = dict(by_epoch=False, max_iters=iters, val_interval=10 ** 9)
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", by_epoch=False, interval=iters)
    cfg.default_hooks.logger.interval = max(1, iters // 10)
    cfg.randomness = dict(seed=0)
    cfg.work_dir = str(work_dir)
    if edit is not None:
        edit(cfg)
    Runner.from_cfg(cfg).train()
    return str(Path(cfg.work_dir) / f"iter_{iters}.pth")


def repo_relative(text: str) -> str:
    """``text`` (a command line, a path) with this checkout's paths relative to it, so that a
    result JSON, and the table generated from it, read the same in any clone.

    Example:
        >>> repo_relative(f"{REPO}/.venv/bin/mim train --work-dir {REPO}/work_dirs/a")
        '.venv/bin/mim train --work-dir work_dirs/a'
    """
    return text.replace(f"{REPO}/", "")


def markdown_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """``columns``: (key, header) pairs; values are printed as given (format them first)."""
    head = "| " + " | ".join(h for _, h in columns) + " |"
    sep = "| " + " | ".join("---" for _ in columns) + " |"
    body = ["| " + " | ".join(str(r.get(k, "")) for k, _ in columns) + " |" for r in rows]
    return "\n".join([head, sep, *body])


def _shown(value) -> str:
    """A path as the repository names it (``mm_configs/x.py``), other values as given."""
    text = str(value)
    for folder in ("mm_configs", "bench", "tests", "work_dirs"):
        if f"/{folder}/" in text:
            text = folder + "/" + text.split(f"/{folder}/", 1)[1]
            break
    return shlex.quote(text)  # a value with spaces stays one argument when pasted


def json_args(args: argparse.Namespace | dict) -> dict:
    """A tool's options as its results file records them: paths as text, the rest as parsed
    (``args``: the parsed namespace, or a dict of it already edited).

    Example:
        >>> json_args(argparse.Namespace(out=Path("bench/results/x.json"), threads=2))
        {'out': 'bench/results/x.json', 'threads': 2}
    """
    items = (vars(args) if isinstance(args, argparse.Namespace) else args).items()
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in items}


def command_line(tool: str, args: dict, skip: tuple[str, ...] = (),
                 placeholders: dict[str, str] | None = None) -> str:
    """The command that measured a results file, rebuilt from its recorded ``args``
    (``placeholders``: a name shown instead of a value, e.g. a local checkpoint path); ``root``
    is :class:`BenchParser`'s ``--300w-root``.

    Example:
        >>> command_line("cpu_speed", dict(threads=2, compile=True, tiny=False, out="x.json"))
        'python -m bench.cpu_speed --threads 2 --compile'
        >>> command_line("real_faces", dict(root="/data/300w"), placeholders=dict(root="DIR"))
        'python -m bench.real_faces --300w-root DIR'
    """
    parts = [f"python -m bench.{tool}"]
    for key, value in args.items():
        if key in ("out", "tiny", "summarise", *skip) or value is None or value is False:
            continue
        flag = "--300w-root" if key == "root" else "--" + key.replace("_", "-")
        if placeholders and key in placeholders:
            parts.append(f"{flag} {placeholders[key]}")
        elif value is True:
            parts.append(flag)
        elif isinstance(value, list):
            parts.append(" ".join([flag, *map(_shown, value)]))
        else:
            parts.append(f"{flag} {_shown(value)}")
    return " ".join(parts)


def machine_line(payload: dict) -> str:
    """Where and when a results file was measured (no times of day: the date is enough): the
    GPU a run used, else the CPU model, as its ``environment`` records them."""
    env = payload.get("environment", {})
    device = payload.get("device")
    gpu = device if device and device != "cpu" else None
    cpu = env.get("cpu")
    what = gpu or (f"CPU {cpu}" if cpu == "not recorded" else cpu)
    facts = [what,
             f"{env['cpu_count']} logical CPUs" if env.get("cpu_count") else None,
             f"torch {env['torch']}" if env.get("torch") else None,
             (f"{env['torch_threads']} torch thread{'s' if env['torch_threads'] != 1 else ''}"
              if env.get("torch_threads") else None)]
    date = env.get("date", "").split(" ")[0]
    return ("Machine: " + ", ".join(f for f in facts if f)
            + (f"; measured {date}." if date else "."))


def _header(tool: str, json_path: Path) -> str:
    path = Path(json_path).resolve()
    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    return (f"<!-- Generated from {shown} by `python -m bench.{tool} --summarise {shown}`: "
            f"edit the tool or the JSON, not this file. -->\n")


def results_text(tool: str, json_path: Path, markdown: Callable[[dict], str]) -> str:
    """The generated ``.md`` of a results file: a header naming its source, then
    ``markdown(payload)``."""
    payload = json.loads(Path(json_path).read_text())
    return _header(tool, json_path) + markdown(payload).rstrip("\n") + "\n"


def write_json(path: Path, payload: dict, tool: str | None = None,
               markdown: Callable[[dict], str] | None = None) -> None:
    """Write a results file atomically; with ``markdown``, also its generated ``.md``. Paths
    inside this checkout are written relative to it (:func:`repo_relative`), so the file and
    its tables read the same in every clone.

    A results file (``tool`` given) names the tool that wrote it (``"tool": "bench.<tool>"``)
    and records the machine it ran on: its ``environment`` (:func:`environment` unless the
    payload keeps an earlier one, e.g. a resumed grid's first run) must give the CPU model
    and the torch version.
    """
    path = Path(path)
    if tool is not None:
        payload = {"tool": f"bench.{tool}", **payload}
        payload["environment"] = payload.get("environment") or environment()
        missing = [k for k in ("cpu", "torch") if not payload["environment"].get(k)]
        if missing:
            raise ValueError(f"{path}: the environment records no {' and no '.join(missing)}")
    text = repo_relative(json.dumps(payload, indent=2)) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    print(f"[bench] wrote {path}")
    if markdown is not None:
        write_markdown(path, tool, markdown)


ROOT_HELP = "a folder made by `aan convert 300w`"


class BenchParser(argparse.ArgumentParser):
    """The command line every bench tool starts from: its docstring as the description
    (kept as written), ``--out`` (default ``bench/results/<tool>.json``), ``--summarise
    JSON`` (:func:`summarise_results`, then exit 0, as ``--help`` exits), and, where the tool
    takes them, ``--300w-root`` (``args.root``) and ``--tiny``. The tool adds its own options.

    Args:
        doc: the description, the tool's ``__doc__``.
        tool: the tool's module name under ``bench``.
        markdown: ``markdown(payload) -> str``, the tables of the tool's results file;
            ``None``: the tool writes none (no ``--summarise``).
        out: ``--out``'s default: ``True`` for ``bench/results/<tool>.json``, a path, ``None``
            (the tool chooses one), or ``False`` for no ``--out``.
        root: ``--300w-root``'s help; ``None``: no such option.
        root_required: a run (not ``--summarise``) needs ``--300w-root``: argparse's one-line
            error (exit 2) without it.
        tiny: ``--tiny`` (the tool's smoke run): ``True``, or its help; ``False``: no such
            option.
        derived: ``derived(payload) -> dict``, fields of the JSON computed from its runs:
            ``--summarise`` rewrites them into the JSON before its tables.

    Example:
        >>> parser = BenchParser("What it measures.", "demo_tool", str, root=ROOT_HELP,
        ...                      root_required=True)
        >>> parser.add_argument("--iters", type=int, default=10)  # doctest: +ELLIPSIS
        _StoreAction(...)
        >>> args = parser.parse_args(["--300w-root", "data/300w"])
        >>> args.root, args.out.name, args.iters
        (PosixPath('data/300w'), 'demo_tool.json', 10)
    """

    def __init__(self, doc: str, tool: str, markdown: Callable[[dict], str] | None = None, *,
                 out: Path | bool | None = True, root: str | None = None,
                 root_required: bool = False, tiny: bool | str = False,
                 derived: Callable[[dict], dict] | None = None) -> None:
        super().__init__(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
        self.tool, self.root_required = tool, root_required
        if root is not None:
            self.add_argument("--300w-root", dest="root", type=Path, default=None, help=root)
        if out is not False:
            self.add_argument("--out", type=Path,
                              default=RESULTS / f"{tool}.json" if out is True else out)
        if tiny:
            self.add_argument("--tiny", action="store_true", help="smoke run in seconds "
                              "(numbers mean nothing)" if tiny is True else tiny)
        if markdown is not None:
            self.add_argument("--summarise", type=Path, default=None, metavar="JSON",
                              action=_Summarise, tool=tool, markdown=markdown, derived=derived,
                              help="no run: write the tables of a results file to its .md "
                                   "(bench/results/<name>.md) and print them")

    def parse_args(self, args=None, namespace=None) -> argparse.Namespace:  # noqa: D102
        parsed = super().parse_args(args, namespace)
        if self.root_required and parsed.root is None:
            self.error(f"--300w-root is required; --300w-root is {ROOT_HELP}")
        return parsed


class _Summarise(argparse.Action):
    """``--summarise JSON``: :func:`summarise_results` on a results file of this tool, then
    exit 0; a missing or unreadable file, or one another tool wrote, is a one-line error."""

    def __init__(self, option_strings: list[str], dest: str, *, tool: str,
                 markdown: Callable[[dict], str],
                 derived: Callable[[dict], dict] | None = None, **kwargs) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.tool, self.markdown, self.derived = tool, markdown, derived

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        try:
            writer = json.loads(Path(values).read_text()).get("tool", f"bench.{self.tool}")
        except (OSError, ValueError) as err:
            parser.error(f"--summarise {values}: {err}")
        if writer != f"bench.{self.tool}":
            parser.error(f"--summarise {values}: written by {writer}; run python -m "
                         f"{writer} --summarise {values}")
        summarise_results(values, self.tool, self.markdown, self.derived)
        parser.exit()


def summarise_results(json_path: Path, tool: str, markdown: Callable[[dict], str],
                      derived: Callable[[dict], dict] | None = None) -> Path:
    """What ``--summarise JSON`` does, for every tool: ``<name>.md`` beside the JSON,
    generated from it (with ``derived``, the JSON is first rewritten with
    ``derived(payload)``'s fields), and its tables printed. Returns the ``.md``."""
    payload = json.loads(Path(json_path).read_text())
    if derived is not None:
        payload = {**payload, **derived(payload)}
        write_json(json_path, payload, tool)
    md = write_markdown(json_path, tool, markdown)
    print("\n" + markdown(payload))
    return md


def write_markdown(json_path: Path, tool: str, markdown: Callable[[dict], str]) -> Path:
    """``<name>.md`` beside ``<name>.json``, generated from it (what ``--summarise`` does)."""
    md = Path(json_path).with_suffix(".md")
    text = results_text(tool, json_path, markdown)
    atomic_write(md, lambda tmp: Path(tmp).write_text(text))
    print(f"[bench] wrote {md}")
    return md


def generated_body(text: str) -> str:
    """A generated ``.md`` without its header line: what a docs page embeds."""
    return text.split("\n", 1)[1] if text.startswith("<!-- Generated from ") else text


def included(doc: str, root: Path = REPO) -> list[tuple[str, str, str]]:
    """``(path, embedded text, the file's text now)`` of every include block in ``doc``."""
    return [(m["path"], m["body"], generated_body((root / m["path"]).read_text()))
            for m in _INCLUDE.finditer(doc)]


def refresh_includes(doc_path: Path, root: Path = REPO) -> bool:
    """Rewrite the include blocks of a docs page from their files; True if it changed."""
    text = Path(doc_path).read_text()
    new = _INCLUDE.sub(lambda m: m[1] + generated_body((root / m["path"]).read_text()) + m[4],
                       text)
    if new != text:
        atomic_write(Path(doc_path), lambda tmp: Path(tmp).write_text(new))
    return new != text


def main(argv: list[str] | None = None) -> None:
    parser = BenchParser("Refresh the generated tables embedded in docs pages "
                         "(<!-- include PATH --> blocks).", "common", out=False)
    parser.add_argument("docs", type=Path, nargs="+")
    for doc in parser.parse_args(argv).docs:
        if refresh_includes(doc):
            print(f"[bench] refreshed {doc}")


if __name__ == "__main__":
    main()
