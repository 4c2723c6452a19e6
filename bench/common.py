"""Shared by the bench scripts: environment facts, a markdown table, atomic JSON output."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import torch

from aan_core.utils.atomic_io import atomic_write

RESULTS = Path(__file__).resolve().parent / "results"


def environment() -> dict:
    return dict(date=time.strftime("%Y-%m-%d %H:%M:%S"), host=platform.node(),
                cpu_count=os.cpu_count(), torch=torch.__version__,
                torch_threads=torch.get_num_threads(), python=platform.python_version())


def markdown_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """``columns``: (key, header) pairs; values are printed as given (format them first)."""
    head = "| " + " | ".join(h for _, h in columns) + " |"
    sep = "| " + " | ".join("---" for _ in columns) + " |"
    body = ["| " + " | ".join(str(r.get(k, "")) for k, _ in columns) + " |" for r in rows]
    return "\n".join([head, sep, *body])


def write_json(path: Path, payload: dict) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(payload, indent=2) + "\n"))
    print(f"[bench] wrote {path}")
