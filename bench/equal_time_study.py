"""The command line and flow an equal-time study shares (``bench.peers_real_300w``,
``bench.fast_recipe_300w``; the arithmetic is ``bench.equal_time``'s). Each tool keeps what
is its own: its arms, budget rule, parts and table.

- :func:`study_parser` and :func:`parse_study_args`: ``--only PART``, ``--arms``,
  ``--seeds``, the calibration's ``--speed-rounds``, ``--speed-warmup``, ``--speed-iters``
  and ``--round-to``, the run options, ``--300w-root`` (required but for ``--tiny``) and
  the ``--tiny`` setup (a temporary results file and runs folder, :func:`tiny_root`, one
  short calibration round);
- :func:`study_grid`: the study's :class:`bench.grid.DeclaredGrid` (a run is an arm and a
  seed), refusing to start a new study over a file that holds one;
- :func:`speed_part`: the calibration measured once and written before any run, kept on
  ``--resume``; :func:`recorded_calibration`: the calibration training needs, refused on
  a CPU model other than the one it was measured on (``--other-cpu`` overrides);
- :func:`selected_pending`: the runs still to train, of the ``--arms`` and ``--seeds``
  asked for.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

from bench.common import ROOT_HELP, BenchParser, cpu_model
from bench.grid import DeclaredGrid
from bench.real_300w import add_run_options


def tiny_root() -> Path:
    """A 300W folder of the two real faces in ``tests/data`` (``bench.cpu_train_speed``'s),
    with them as the common split too."""
    from bench.cpu_train_speed import tiny_300w_root

    root = tiny_300w_root()
    ann = root / "annotations"
    (ann / "face_landmarks_300w_common.json").write_text(
        (ann / "face_landmarks_300w_train.json").read_text())
    return root


def study_parser(doc: str, tool: str, markdown: Callable[[dict], str], *,
                 parts: tuple[str, ...], default_parts: tuple[str, ...], arms: Iterable[str],
                 every_arm: str, each: str, tiny_unit: str,
                 speed: tuple[int, int, int] = (3, 10, 30)) -> BenchParser:
    """The options every equal-time study has, on a :class:`bench.common.BenchParser`:
    ``--only`` (``parts``, default ``default_parts``), ``--arms`` (``every_arm``: the parts
    that take every arm whatever it says), ``--seeds``, and the calibration's
    ``--speed-rounds``, ``--speed-warmup``, ``--speed-iters`` and ``--round-to`` (``each``:
    whose iterations it rounds; ``speed``: their defaults, rounds, untimed and timed
    iterations, which a study whose arms differ in cost by a few percent sets longer).
    ``--tiny`` runs ``a few iterations {tiny_unit}``. The tool adds its own, then calls
    :func:`parse_study_args`.

    Example:
        >>> parser = study_parser("A study.", "demo_study", str, parts=("speed", "train"),
        ...                       default_parts=("speed", "train"), arms=("a", "b"),
        ...                       every_arm="the calibration takes every arm",
        ...                       each="each arm", tiny_unit="an arm")
        >>> args = parse_study_args(parser, ["--300w-root", "data", "--arms", "b"])
        >>> args.only, args.arms, args.seeds, args.speed_rounds, args.round_to, args.parallel
        (['speed', 'train'], ['b'], None, 3, 50, 1)
    """
    parser = BenchParser(doc, tool, markdown, root=ROOT_HELP,
                         tiny=f"smoke run: the two faces of tests/data, seed 0, a few "
                              f"iterations {tiny_unit}")
    parser.add_argument("--only", nargs="+", choices=parts, default=list(default_parts),
                        metavar="PART", help=f"run only these parts ({', '.join(parts)}; "
                                             f"default: {', '.join(default_parts)})")
    parser.add_argument("--arms", nargs="+", choices=list(arms), default=list(arms),
                        help=f"train only these arms ({every_arm})")
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="train only these of the declared seeds (default: all)")
    rounds, warmup, iters = speed
    parser.add_argument("--speed-rounds", type=int, default=rounds,
                        help="calibration rounds (every arm once a round; the median counts)")
    parser.add_argument("--speed-warmup", type=int, default=warmup,
                        help="untimed iterations at the start of each calibration run")
    parser.add_argument("--speed-iters", type=int, default=iters,
                        help="timed iterations of each calibration run")
    parser.add_argument("--round-to", type=int, default=50,
                        help=f"{each}'s iterations are a multiple of this")
    parser.add_argument("--other-cpu", action="store_true",
                        help="train on a CPU model other than the calibration's (its "
                             "iterations are then not equal time here; each row names its "
                             "CPU)")
    return parser


def parse_study_args(parser: BenchParser, argv: list[str] | None) -> argparse.Namespace:
    """``argv`` parsed by a :func:`study_parser` (the run options added last). ``--tiny``
    writes to a new temporary folder (results file and runs), trains on :func:`tiny_root`
    and calibrates with one round of 2 timed iterations after 1, iterations rounded to 2
    (at least 2 a run, however slow the machine is: an EMA of one step is the trained
    weights themselves; the tool sets its own tiny budget); without it ``--300w-root`` is
    required (argparse's one-line error, exit 2)."""
    add_run_options(parser, parser.tool)
    args = parser.parse_args(argv)
    if args.tiny:
        tmp = Path(tempfile.mkdtemp(prefix=f"{parser.tool}_tiny_"))
        args.root, args.out, args.runs_dir = tiny_root(), tmp / f"{parser.tool}.json", tmp / "runs"
        args.speed_rounds, args.speed_warmup, args.speed_iters = 1, 1, 2
        args.round_to = 2
    elif args.root is None:
        parser.error(f"--300w-root is required; --300w-root is {ROOT_HELP}")
    return args


def study_grid(args: argparse.Namespace, parser: BenchParser,
               markdown: Callable[[dict], str]) -> DeclaredGrid:
    """The study's grid in ``args.out`` (a run is an arm and a seed; each recorded run
    prints its iterations and NME), kept on ``--resume``. Without ``--resume``, a file that
    holds a calibration or runs is a one-line error: a new study needs another ``--out``."""
    grid = DeclaredGrid(args.out, parser.tool, markdown, key=lambda r: (r["arm"], r["seed"]),
                        resume=args.resume,
                        progress=lambda r: f"{r['arm']} seed {r['seed']}: {r['iterations']} "
                                           f"iterations, NME(IO) {r['nme_io']:.2f}")
    if not args.resume and args.out.is_file():
        held = json.loads(args.out.read_text())
        if held.get("calibration") or held.get("runs"):
            parser.error(f"{args.out} holds a calibration and {len(held.get('runs', []))} "
                         f"runs of this study: --resume goes on with them; a new study needs "
                         f"another --out (or the file removed)")
    return grid


def speed_part(grid: DeclaredGrid, calibrate: Callable[[], dict],
               kept: Callable[[dict], str] = lambda recorded: "") -> None:
    """The ``speed`` part: a calibration the file already has (``--resume``) is kept, never
    measured again (``kept(recorded)``: what the line says of it besides its date); else
    ``calibrate()`` is measured and written before any run."""
    recorded = grid.previous.get("calibration")
    if recorded:
        print(f"[{grid.tool}] {grid.out} has the calibration of {recorded['date']}"
              f"{kept(recorded)}: kept, not measured again; a new calibration needs a new "
              f"--out", flush=True)
    else:
        grid.payload["calibration"] = calibrate()
        grid.write()


def recorded_calibration(grid: DeclaredGrid, parser: BenchParser,
                         other_cpu: bool = False) -> dict:
    """The calibration the training parts take their iterations from; a one-line error
    where the file has none, or where it was measured on another CPU model than this one
    (its iterations are equal time on that CPU, not on this one: models gain unequally from
    AMX or AVX-512), unless ``other_cpu`` (``--other-cpu``; the rows name their CPU)."""
    calibration = grid.payload.get("calibration")
    if calibration is None:
        parser.error(f"{grid.out} has no calibration: run --only speed first (or with "
                     f"--resume on a file that has one)")
    measured_on = (calibration.get("environment") or {}).get("cpu")
    if measured_on and measured_on != cpu_model() and not other_cpu:
        parser.error(f"{grid.out}: calibration.environment.cpu is {measured_on!r}, this "
                     f"machine's CPU is {cpu_model()!r}: its iterations are equal time on "
                     f"that CPU only; train there, calibrate here into another --out, or "
                     f"pass --other-cpu to train them here anyway")
    return calibration


def selected_pending(grid: DeclaredGrid, specs: Iterable[dict], *,
                     arms: Collection[str] | None = None, seeds: Collection[int] | None = None,
                     arm_of: Callable[[dict], str] = lambda spec: spec["arm"]) -> list[dict]:
    """``specs`` that no finished run has (:meth:`bench.grid.DeclaredGrid.pending`), of
    ``arms`` (``arm_of(spec)``: the arm a spec trains) and ``seeds``; ``None``: all.

    Example:
        >>> import tempfile
        >>> grid = DeclaredGrid(Path(tempfile.mkdtemp()) / "s.json", "demo", str,
        ...                     key=lambda r: (r["arm"], r["seed"]), resume=False)
        >>> grid.runs.append(dict(arm="a", seed=0))
        >>> specs = [dict(arm=a, seed=s) for s in (0, 1) for a in ("a", "b_twice")]
        >>> selected_pending(grid, specs, seeds=[0, 1])
        [{'arm': 'b_twice', 'seed': 0}, {'arm': 'a', 'seed': 1}, {'arm': 'b_twice', 'seed': 1}]
        >>> selected_pending(grid, specs, arms=["b"], seeds=[1],
        ...                  arm_of=lambda s: s["arm"].removesuffix("_twice"))
        [{'arm': 'b_twice', 'seed': 1}]
    """
    return [s for s in grid.pending(specs)
            if (arms is None or arm_of(s) in arms) and (seeds is None or s["seed"] in seeds)]
