"""What the tests of the bench's study tools share: a config as its dotted keys, an
equal-time study's tiny run end to end, the rows of finished runs, and the one-line error."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def flat_config(node, prefix: str = "") -> dict:
    """A config (``Config.to_dict()``) as ``{dotted key: leaf}``, lists of dicts by index
    (``merge_from_dict``'s keys); other lists are leaves.

    Example:
        >>> flat_config(dict(a=dict(b=1), c=[dict(d=2)], e=[3, 4]))
        {'a.b': 1, 'c.0.d': 2, 'e': [3, 4]}
    """
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list) and any(isinstance(x, dict) for x in node):
        items = ((str(i), x) for i, x in enumerate(node))
    else:
        return {prefix.rstrip("."): node}
    return {k: v for key, child in items for k, v in flat_config(child, f"{prefix}{key}.").items()}


def tiny_study(tool: str, *args: str) -> tuple[dict, Path]:
    """``python -m bench.<tool> --tiny ARGS`` as a subprocess: it must succeed and write its
    results JSON and the tables generated from it; the JSON and its path."""
    proc = subprocess.run([sys.executable, "-m", f"bench.{tool}", "--tiny", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = [line.split("wrote ", 1)[1] for line in proc.stdout.splitlines()
           if line.startswith("[bench] wrote ") and line.endswith(".json")]
    assert out, proc.stdout[-2000:]
    path = Path(out[-1])
    assert path.with_suffix(".md").read_text().startswith("<!-- Generated from ")
    return json.loads(path.read_text()), path


def calibrated_runs(payload: dict, arms, trained) -> dict[str, dict]:
    """An equal-time study's results after a tiny run: a calibration of every one of
    ``arms`` (each measured), runs of exactly the ``trained`` arms, each reaching its
    calibrated iterations with an NME; the runs by arm."""
    cal = payload["calibration"]
    assert set(cal["arms"]) == set(arms)
    assert all(a["median_images_per_s"] > 0 for a in cal["arms"].values())
    runs = {r["arm"]: r for r in payload["runs"]}
    assert set(runs) == set(trained)
    for arm, run in runs.items():
        assert run["iterations"] == cal["arms"][arm]["iterations"] == run["budget_iterations"]
        assert run["nme_io"] > 0
    return runs


def finished_run(arm: str, seed: int, nme: float, iters: int, part: str = "train") -> dict:
    """A study's row of a finished run, for its table: NME(IO) ``nme``, inter-pupil 1.4x,
    FR@0.1 1% a seed, AUC 0.5, 32 minutes at 40 (+ seed) images/s, two runs at once."""
    return dict(arm=arm, part=part, seed=seed, label=arm, iterations=iters, nme_io=nme,
                nme_ip=1.4 * nme, fr_10=0.01 * seed, auc_08=0.5, train_minutes=32.0,
                images_per_s=40.0 + seed, concurrent_runs=2)


def trained_row(spec: dict, nme: float) -> dict:
    """What ``bench.real_300w.train_one`` returns for ``spec``, trained to its budget, with
    NME(IO) ``nme``: the stand-in for a `mim train` run."""
    return dict(spec, iterations=spec["budget_iterations"], nme_io=nme, nme_ip=1.4 * nme,
                fr_10=0.0, auc_08=0.5, train_minutes=1.0, images_per_s=30.0)


def usage_error(main: Callable[[list[str]], None], argv: list[str]) -> None:
    """``main(argv)`` stops with argparse's one-line error: exit status 2."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
