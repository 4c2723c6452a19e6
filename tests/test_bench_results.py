"""Results tables are generated, never pasted: every committed ``bench/results/<name>.md`` is
what its tool makes from ``<name>.json``, every table a docs page embeds is that file, and the
Table 5 study says a grid is partial only while a declared run is missing."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest
from conftest import REPO

from bench import aan_study, headline
from bench.common import RESULTS, included, results_text

RESULT_FILES = sorted(RESULTS.glob("*.json"))
DOC_PAGES = sorted([REPO / "README.md", REPO / "aan_components" / "configs" / "README.md",
                    *(REPO / "docs").glob("*.md")])


def test_there_are_results_and_docs_to_check():
    assert len(RESULT_FILES) >= 5 and any(included(p.read_text()) for p in DOC_PAGES)


@pytest.mark.parametrize("path", RESULT_FILES, ids=[p.stem for p in RESULT_FILES])
def test_committed_table_is_what_its_tool_generates(path):
    """Catches a number edited in a ``.md`` (or a JSON changed without ``--summarise``)."""
    tool = json.loads(path.read_text())["tool"].removeprefix("bench.")
    module = importlib.import_module(f"bench.{tool}")
    md = path.with_suffix(".md")
    assert md.is_file(), f"run: python -m bench.{tool} --summarise {path.relative_to(REPO)}"
    assert md.read_text() == results_text(tool, path, module.results_markdown), (
        f"{md.relative_to(REPO)} differs from what its JSON gives; regenerate it: "
        f"python -m bench.{tool} --summarise {path.relative_to(REPO)}")


@pytest.mark.parametrize("path", RESULT_FILES, ids=[p.stem for p in RESULT_FILES])
def test_committed_json_names_its_tool_and_machine(path):
    """Every results file says which tool wrote it, on which CPU (or GPU) and torch; a file
    measured before the CPU was recorded says so (``not recorded``) or names where the CPU
    was recovered from (``cpu_note``)."""
    payload = json.loads(path.read_text())
    assert "tool" in payload, f"{path.name}: names no tool"
    assert hasattr(importlib.import_module(payload["tool"]), "results_markdown")
    env = payload["environment"]
    assert env.get("torch") and (env.get("cpu") or env.get("gpu")), path.name


def test_write_json_stamps_the_tool_and_refuses_a_results_file_without_its_machine(tmp_path):
    from bench.common import write_json

    out = tmp_path / "r.json"
    write_json(out, {"benchmark": "x"}, "cpu_speed")
    payload = json.loads(out.read_text())
    assert payload["tool"] == "bench.cpu_speed"
    assert payload["environment"]["cpu"] and payload["environment"]["torch"]
    with pytest.raises(ValueError, match="records no cpu"):
        write_json(out, {"benchmark": "x", "environment": {"torch": "2"}}, "cpu_speed")


_CHECKOUT_PATH = re.compile(r'(?:^|[\s="])/[^\s"]*?/(?:\.venv|work_dirs|mm_configs|bench)/')


@pytest.mark.parametrize("path", RESULT_FILES, ids=[p.stem for p in RESULT_FILES])
def test_committed_json_names_no_path_of_the_checkout_it_ran_in(path):
    """A command or folder recorded as ``/abs/checkout/work_dirs/...`` makes the generated
    table differ in every other clone (CI's is elsewhere): record it relative to the repo."""
    absolute = sorted({m.group(0).strip() for m in _CHECKOUT_PATH.finditer(path.read_text())})
    assert not absolute, f"{path.name}: record these relative to the repository: {absolute}"


def test_a_checkout_path_is_caught_and_recorded_relative():
    from bench.common import REPO as TOOL_REPO
    from bench.common import repo_relative
    command = f"{TOOL_REPO}/.venv/bin/mim train mmpose x.py --work-dir {TOOL_REPO}/work_dirs/a"
    assert _CHECKOUT_PATH.search(json.dumps({"command": command}))
    assert repo_relative(command) == ".venv/bin/mim train mmpose x.py --work-dir work_dirs/a"
    assert not _CHECKOUT_PATH.search(json.dumps({"command": repo_relative(command)}))


def test_every_generated_table_has_its_json():
    orphans = [p.name for p in RESULTS.glob("*.md")
               if not p.with_suffix(".json").is_file() and p != headline.OUT]
    assert not orphans


def test_readme_results_are_generated_from_the_jsons():
    """README's results tables (the headline block) are what ``bench.headline`` makes from
    the JSONs now: a re-run or corrected result changes them, a number edited there fails."""
    assert headline.OUT.read_text() == headline.headline_text(), (
        "regenerate: python -m bench.headline && python -m bench.common README.md")
    blocks = [path for path, _, _ in included((REPO / "README.md").read_text())]
    assert blocks == [str(headline.OUT.relative_to(REPO))]


@pytest.mark.parametrize("page", DOC_PAGES, ids=[str(p.relative_to(REPO)) for p in DOC_PAGES])
def test_tables_embedded_in_docs_are_the_generated_files(page):
    """Catches a number edited inside a docs page's ``<!-- include ... -->`` block."""
    for path, embedded, current in included(page.read_text()):
        assert embedded == current, (f"{page.relative_to(REPO)}: the block of {path} is stale "
                                     f"or edited; refresh: python -m bench.common "
                                     f"{page.relative_to(REPO)}")


def _grid(runs: list[tuple[str, str, int]]) -> dict:
    return dict(protocol=dict(grid=[[["gap"], ["aan", "no_both"]]], seeds=[0, 1], size=64,
                              width=0.5, iters=3, batch=2, train_crops=8, test_crops=4,
                              inits={"paper": "the paper's start"}),
                runs=[dict(variant=v, head=h, init="paper", seed=s, nme_pct=10.0 + s)
                      for v, h, s in runs],
                partial=True, device="cpu")


def test_partial_only_while_a_declared_run_is_missing(tmp_path):
    """A merged file of every declared run is complete (it said ``partial: true`` because
    one of the files it was merged from was); one run fewer is partial."""
    every = [(v, "gap", s) for v in ("aan", "no_both") for s in (0, 1)]
    out = tmp_path / "study.json"
    aan_study.report(_grid(every), out)
    assert json.loads(out.read_text())["partial"] is False
    aan_study.report(_grid(every[:-1]), out)
    assert json.loads(out.read_text())["partial"] is True
    assert aan_study.missing_cells(_grid(every[:-1])) == [("no_both", "gap", "paper", 1)]
    assert "Incomplete: 1 declared runs are missing" in Path(out.with_suffix(".md")).read_text()


def test_results_are_written_with_repository_relative_paths(tmp_path):
    """Every tool writes through bench.common.write_json, which drops this checkout's path
    (cpu_speed's recorded ``out`` was absolute)."""
    from bench.common import write_json

    out = tmp_path / "r.json"
    write_json(out, {"out": f"{REPO}/bench/results/r.json", "elsewhere": "/data/300w"})
    assert json.loads(out.read_text()) == {"out": "bench/results/r.json",
                                           "elsewhere": "/data/300w"}


def test_readme_gives_each_peer_with_a_run_and_one_seed_without_a_spread(tmp_path):
    """The peers' study trains across sessions: README shows the arms with a finished run
    (AAN's first), a peer yet to run has no row, and one seed is its value (no "± 0.00").
    Wrong input caught: an arm with no run would raise; a row of one seed given a spread."""
    runs = [dict(arm="hrnetv2-w18", part="train", seed=0, nme_io=4.6563, iterations=400,
                 batch=32),
            dict(arm="aan", part="train", seed=0, nme_io=4.0501, iterations=6000, batch=32),
            dict(arm="aan", part="train", seed=1, nme_io=4.0901, iterations=6000, batch=32),
            dict(arm="rtmpose-s_twice", part="twice", seed=0, nme_io=5.0, iterations=2900,
                 batch=32)]
    for path in RESULTS.glob("*.json"):  # every other result as committed
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "peers_real_300w.json").write_text(json.dumps(dict(
        benchmark="peers_real_300w", runs=runs)))
    entries = headline.peer_entries(tmp_path)
    assert [e[2]["arm"] for e in entries] == ["aan", "hrnetv2-w18"]
    assert entries[1][0] == "MMPose HRNetv2-w18, heatmaps, at AAN's CPU training time"
    rows = {r["model"]: r for r in headline.accuracy_rows(tmp_path)}
    assert (rows[entries[1][0]]["nme"], rows[entries[1][0]]["seeds"]) == ("4.66", "0")
    assert (rows[entries[0][0]]["nme"], rows[entries[0][0]]["seeds"]) == ("4.07 ± 0.03", "0, 1")
    models = list(rows)
    assert models.index(entries[0][0]) == models.index(
        "MMPose ResNet-50 regression, same training time") + 1


def test_readme_gives_the_fast_recipe_pick_once_it_has_every_seed(tmp_path):
    """README's fast-recipe row is the study's pick (``best_arm``): an arm with every seed,
    not one seed's better number, and no row before any arm has them all. Wrong input
    caught: per_sample's single seed (3.40) would be the lowest."""
    for path in RESULTS.glob("*.json"):  # every other result as committed
        (tmp_path / path.name).write_text(path.read_text())
    payload = json.loads((RESULTS / "fast_recipe_300w.json").read_text())
    run = lambda arm, seed, nme: dict(arm=arm, seed=seed, nme_io=nme, iterations=12150,  # noqa: E731
                                      batch=32, options=["model.head.output_init=mean_shape"])
    payload["runs"] = [run("base", 0, 3.80), run("per_sample", 0, 3.40)]
    (tmp_path / "fast_recipe_300w.json").write_text(json.dumps(payload))
    assert headline.fast_entries(tmp_path) == []
    payload["runs"].append(run("base", 1, 3.70))
    (tmp_path / "fast_recipe_300w.json").write_text(json.dumps(payload))
    (entry,) = headline.fast_entries(tmp_path)
    assert entry[2] == dict(arm="base") and "`aan_300w_cpu_fast.py`" in entry[0]
    row = next(r for r in headline.accuracy_rows(tmp_path) if r["model"] == entry[0])
    assert (row["nme"], row["seeds"]) == ("3.75 ± 0.07", "0, 1")
    assert row["data"] == "300W common, 12,150 CPU iterations of 32, fair start"
