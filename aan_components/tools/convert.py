"""Convert a raw official dataset download to MMPose COCO-style json.

Each dataset has its own options: ``aan convert 300w --help``. Errors name the file and the
line or field at fault; the command then exits with status 2 and leaves existing outputs as
they were. The conversion is written into a staged copy of OUT_DIR beside it, which replaces
OUT_DIR in one step only when complete: a run that fails, is interrupted or killed leaves
OUT_DIR as it was (a killed run's stage is removed by the next run), and a second conversion
into the same OUT_DIR while one runs is refused.
"""

from __future__ import annotations

import argparse
import importlib

from aan_components.converters import CONVERTERS
from aan_core.utils.staged_folder import staged_folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="dataset", required=True, metavar="DATASET")
    for name, (module, help_text) in CONVERTERS.items():
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=help_text,
                           description=mod.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("raw_dir", metavar="RAW_DIR", help="the unpacked official download")
        p.add_argument("out_dir", metavar="OUT_DIR",
                       help="where annotations/ (and images/) are written")
        mod.add_arguments(p)
        p.set_defaults(_prog=p.prog, _convert=mod.convert,
                       _paper_counts=getattr(mod, "PAPER_COUNTS", {}))


def run(args: argparse.Namespace) -> None:
    options = {k: v for k, v in vars(args).items()
               if k not in ("command", "dataset", "raw_dir", "out_dir") and not k.startswith("_")}
    with staged_folder(args.out_dir, args._prog) as stage:  # errors: see aan.cli
        counts = args._convert(args.raw_dir, stage, **options)
    width = max(len(k) for k in counts)
    print(f"aan convert {args.dataset}: wrote {args.out_dir}/annotations")
    for split, n in counts.items():
        paper = args._paper_counts.get(split)
        note = "" if paper is None else f"  (paper: {paper}{'' if paper == n else ', differs'})"
        print(f"  {split:<{width}}  {n}{note}")
