"""Every bench tool's command line starts from ``bench.common.BenchParser``: the same
description and formatter, ``--out``, ``--300w-root`` and ``--tiny`` spelled alike, and one
``--summarise`` step (the table written from its JSON, then exit 0)."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil

import pytest
from conftest import REPO

import bench
from bench import common
from bench.common import ROOT_HELP, BenchParser

MAINS = sorted(m.name for m in pkgutil.iter_modules(bench.__path__)
               if hasattr(importlib.import_module(f"bench.{m.name}"), "main"))
RESULTS_TOOLS = [m for m in MAINS
                 if hasattr(importlib.import_module(f"bench.{m}"), "results_markdown")]


class _Parsed(Exception):
    """Raised where a tool parses its command line, carrying the parser."""


def test_the_tools_are_found():
    assert {"aan_study", "cpu_speed", "headline", "real_300w", "common"} <= set(MAINS)
    assert "headline" not in RESULTS_TOOLS and len(RESULTS_TOOLS) >= 15


@pytest.mark.parametrize("tool", MAINS)
def test_every_tool_parses_its_command_line_with_the_common_parser(tool, monkeypatch):
    """Catches a tool that builds its own ``argparse.ArgumentParser``."""
    def capture(parser, args=None, namespace=None):
        raise _Parsed(parser)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", capture)
    with pytest.raises(_Parsed) as parsed:
        importlib.import_module(f"bench.{tool}").main([])
    parser = parsed.value.args[0]
    assert isinstance(parser, BenchParser) and parser.tool == tool
    assert parser.formatter_class is argparse.RawDescriptionHelpFormatter


@pytest.mark.parametrize("tool", RESULTS_TOOLS)
def test_summarise_is_the_one_shared_step(tool, tmp_path, monkeypatch):
    """``--summarise JSON`` reaches ``bench.common.summarise_results`` with the tool's own
    table, and needs no other option (not even a required ``--300w-root``)."""
    module = importlib.import_module(f"bench.{tool}")
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"tool": f"bench.{tool}"}))
    calls = []

    def record(json_path, name, markdown, derived=None):
        calls.append((json_path, name, markdown))

    monkeypatch.setattr(common, "summarise_results", record)
    with pytest.raises(SystemExit) as done:
        module.main(["--summarise", str(path)])
    assert done.value.code == 0
    assert calls == [(path, tool, module.results_markdown)]


def test_summarise_refuses_a_missing_file_and_another_tools_file(tmp_path, capsys):
    parser = BenchParser("doc", "cpu_speed", lambda payload: "table")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"tool": "bench.gpu_train"}))
    for path, says in [(tmp_path / "none.json", "No such file"),
                       (other, "written by bench.gpu_train; run python -m bench.gpu_train")]:
        with pytest.raises(SystemExit) as refused:
            parser.parse_args(["--summarise", str(path)])
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert refused.value.code == 2 and f"--summarise {path}: " in err and says in err
    assert not other.with_suffix(".md").exists()


def test_summarise_writes_the_table_and_rewrites_derived_fields(tmp_path, capsys):
    """aan_study's summary fields are derived from its runs: ``--summarise`` restores them
    in the JSON (byte for byte) and writes and prints the same table."""
    from bench import aan_study

    committed = REPO / "bench" / "results" / "aan_study.json"
    path = tmp_path / "aan_study.json"
    payload = json.loads(committed.read_text())
    path.write_text(json.dumps({k: v for k, v in payload.items()
                                if k not in ("summary", "verdicts", "table")}))
    with pytest.raises(SystemExit):
        aan_study.main(["--summarise", str(path)])
    assert path.read_bytes() == committed.read_bytes()
    table = common.generated_body(committed.with_suffix(".md").read_text())
    assert common.generated_body(path.with_suffix(".md").read_text()) == table
    assert table.strip() in capsys.readouterr().out


def test_300w_root_when_required_is_a_one_line_error_unless_summarising(tmp_path, capsys):
    parser = BenchParser("doc", "demo_tool", lambda p: "t", root=ROOT_HELP, root_required=True)
    with pytest.raises(SystemExit) as refused:
        parser.parse_args([])
    assert refused.value.code == 2
    assert capsys.readouterr().err.strip().endswith(
        "--300w-root is required; --300w-root is a folder made by `aan convert 300w`")
    assert parser.parse_args(["--300w-root", "d"]).out == common.RESULTS / "demo_tool.json"
