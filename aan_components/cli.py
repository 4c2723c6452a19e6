"""``aan``: the command-line entry point (``aan SUBCOMMAND --help`` for each).

A user error (any :class:`aan_core.utils.input_errors.AANInputError`: a bad file, field or option;
or an ``OSError`` about a named file, e.g. an ``--out`` that cannot be written) ends the
command here, in one place, with one line ``aan <command>: error: <message>`` on stderr and
exit status 2, never a traceback. Ctrl-C (SIGINT) ends it the same way, with one line
``aan <command>: interrupted`` and exit status 130 (128 + SIGINT, as a shell reports it);
every tool leaves its outputs as they were on the way out.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from aan_core.utils.input_errors import AANInputError

# subcommand -> (module, one-line help); each module has add_arguments(parser) and run(args)
SUBCOMMANDS = {
    "demo": ("aan_components.tools.demo",
             "train + test AAN on synthetic faces (CPU, bounded time), draw the figures"),
    "convert": ("aan_components.tools.convert",
                "raw 300W / AFLW / CelebA / 300VW downloads -> MMPose COCO-style json"),
    "tables": ("aan_components.tools.tables",
               "test results of work dirs -> the paper's Tables 1-5 (markdown), paper beside"),
    "check": ("aan_components.tools.check",
              "check a config and its annotations before a long run (file + field errors)"),
    "predict": ("aan_components.tools.predict",
                "landmarks on an image, a folder or a video -> JSON + drawn images/video"),
    "attention": ("aan_components.tools.attention",
                  "draw each stage's attention maps over faces (the paper's Fig. 4)"),
    "export": ("aan_components.tools.export",
               "inference graph -> ONNX (dynamic batch), checked in onnxruntime"),
    "calibrate": ("aan_components.tools.calibrate",
                  "fit each face detector's box calibration -> the shipped calibration file"),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The ``aan`` parser, with only the chosen subcommand's module imported.

    Every subcommand is listed (``aan --help``), but only the one named by ``argv``'s first
    word gets its module's arguments: ``aan convert --help`` imports the converters, not the
    tools that import MMPose, mmengine's Runner or torch.
    """
    parser = argparse.ArgumentParser(prog="aan", description="aan-components tools")
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    chosen = argv[0] if argv and not argv[0].startswith("-") else None
    for name, (module, help_text) in SUBCOMMANDS.items():
        if name != chosen:
            sub.add_parser(name, help=help_text)  # listed, never parsed
            continue
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=help_text, description=mod.__doc__)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return _run(argv)
    except KeyboardInterrupt:  # also while the tool's modules import (torch: seconds)
        words = [w for w in argv[:1] if not w.startswith("-")]
        print(f"{' '.join(['aan', *words])}: interrupted", file=sys.stderr)
        raise SystemExit(130) from None


def _run(argv: list[str]) -> int:
    args = build_parser(argv).parse_args(argv)
    try:
        args._run(args)
    except (AANInputError, OSError) as e:
        if isinstance(e, OSError) and e.filename is None:
            raise  # not about a file the user named: a bug, keep its traceback
        message = f"{e.filename}: {e.strerror}" if isinstance(e, OSError) else str(e)
        prog = getattr(args, "_prog", f"aan {args.command}")
        print(f"{prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
