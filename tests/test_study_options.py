"""bench/aan_study.py's --init (how runs start and are regularised) and --placement (where
a timm backbone's attention sits): one grid dimension each, recorded in every JSON row, and
named in the tables where a file varies them."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from conftest import REPO

from bench import aan_study

COMMITTED = ["aan_study", "backbone_study", "backbone_study_resnet18_800"]


@pytest.mark.parametrize("name", COMMITTED)
def test_committed_results_record_every_dimension_and_summarise_unchanged(name, tmp_path):
    """Every committed run names its init (and a backbone run its placement); files whose
    runs are all ``paper`` and outputs-only keep their tables without those columns:
    --summarise rewrites them byte for byte (catches a column or a cell label leaking
    into them)."""
    path = tmp_path / f"{name}.json"
    shutil.copy(REPO / "bench" / "results" / f"{name}.json", path)
    before = path.read_bytes()
    payload = json.loads(before)
    assert all(r["init"] == "paper" for r in payload["runs"])
    assert all(r["placement"] == ("outputs_only" if r["attention"] else None)
               for r in payload["runs"] if "backbone" in r)
    aan_study.report(payload, path)
    assert path.read_bytes() == before


def test_init_and_placement_are_named_where_a_file_varies_them():
    on = dict(backbone="b", attention=True, placement="outputs_only", head="aan",
              init="paper", seed=0)
    off = dict(on, attention=False, placement=None)
    assert aan_study.cell_key(on) == ("b", True, "outputs_only", "aan", "paper", 0)
    assert not aan_study.shows_init([on, off]) and not aan_study.shows_placement([on, off])
    assert aan_study.shows_init([on, dict(off, init="fair")])
    assert aan_study.shows_placement([dict(on, placement="in_stage"), off])
    assert "| in-stage |" in aan_study.markdown_table(
        aan_study.summarise_backbones([dict(on, placement="in_stage", nme_pct=1.0,
                                            params=1, gflops=1.0, train_ips=1.0,
                                            infer_ips=1.0)]),
        aan_study.BACKBONE_COLUMNS)


def test_init_is_a_grid_dimension_recorded_in_every_row(tmp_path, study):
    """``--init paper fair``: one run per init; each row names its init, the protocol
    describes them, the table and verdict keys separate them; --resume adds a third init
    without rerunning the first two."""
    out = tmp_path / "inits.json"
    study("--heads", "gap", "--variants", "aan", "--init", "paper", "fair", "--out", str(out))
    payload = json.loads(out.read_text())
    assert [(r["variant"], r["init"]) for r in payload["runs"]] == [("aan", "paper"),
                                                                    ("aan", "fair")]
    assert set(payload["protocol"]["inits"]) == {"paper", "fair"}
    for init in ("paper", "fair"):
        assert f"| gap | AAN (attention + embedding + branches) | {init} |" in payload["table"]
    again = study("--heads", "gap", "--variants", "aan", "--init", "paper", "fair", "adamw",
                  "--out", str(out), "--resume")
    assert again.count("[study]        gap") == 1 and " adamw " in again
    assert [r["init"] for r in json.loads(out.read_text())["runs"]] == ["paper", "fair",
                                                                        "adamw"]


def test_fair_init_builds_the_fair_model_and_optimiser(monkeypatch):
    """``fair`` = mean-shape start from the training set, median bandwidth, normalised loss
    weights, AdamW; ``paper`` none of them (catches a bundle that drops a part)."""
    fair = aan_study.build("aan", "gap", 0.125, 64, "fair")
    paper = aan_study.build("aan", "gap", 0.125, 64, "paper")
    assert all(r.output_init == "mean_shape" for r in fair.regressors)
    assert fair.regressor.embedding.sigma_from_data and sum(fair.loss_weights) == 1.0
    assert all(r.output_init == "normal" for r in paper.regressors)
    assert not paper.regressor.embedding.sigma_from_data and sum(paper.loss_weights) == 5.0
    assert aan_study.OPTIMISERS[aan_study.INITS["fair"][2]] is torch.optim.AdamW
    assert aan_study.OPTIMISERS[aan_study.INITS["paper"][2]] is torch.optim.Adam


def test_placement_is_a_backbone_grid_dimension(tmp_path, study):
    """``--placement in_stage outputs_only`` x attention on/off: the off cell runs once (no
    gates, nothing to place); rows and the table name the placement; the verdicts compare
    each placement with off."""
    out = tmp_path / "placements.json"
    printed = study("--backbones", "regnetx_002", "--heads", "linear", "--placement",
                    "in_stage", "outputs_only", "--out", str(out))
    assert printed.count("[study]    regnetx_002") == 3
    payload = json.loads(out.read_text())
    cells = [(r["attention"], r["placement"]) for r in payload["runs"]]
    assert cells == [(True, "in_stage"), (True, "outputs_only"), (False, None)]
    assert "| regnetx_002 | linear | in-stage |" in payload["table"]
    assert "| regnetx_002 | linear | off |" in payload["table"]
    assert [v["placement"] for v in payload["verdicts"]] == ["in_stage", "outputs_only"]
    assert set(payload["protocol"]["placements"]) == {"in_stage", "outputs_only"}
    with pytest.raises(SystemExit):
        study("--variants", "aan", "--placement", "in_stage")


def test_arithmetic_follows_the_cpu_switch_and_resume_refuses_a_mix(tmp_path, study,
                                                                    monkeypatch):
    """On a CPU with native bf16 the study trains under bf16 autocast with its regressors in
    fp32 (the CPU switch's rule), ``--fp32`` trains in fp32, the protocol records which, and
    ``--resume`` of an fp32 grid without ``--fp32`` is refused naming the flag."""
    from aan_core.utils.fp32_modules import run_in_fp32

    wrapped = []
    monkeypatch.setattr(aan_study, "run_in_fp32", lambda m: wrapped.append(m) or run_in_fp32(m))
    monkeypatch.setattr(aan_study, "cpu_supports_bf16", lambda: True)
    out = tmp_path / "bf16.json"
    study("--heads", "gap", "--variants", "aan", "--out", str(out))
    assert json.loads(out.read_text())["protocol"]["amp"] == aan_study.AMP
    assert len(wrapped) == 5  # the final regressor and the four branches
    fp32 = tmp_path / "fp32.json"
    wrapped.clear()
    study("--heads", "gap", "--variants", "aan", "--out", str(fp32), "--fp32")
    assert json.loads(fp32.read_text())["protocol"]["amp"] is False and not wrapped
    with pytest.raises(SystemExit, match="add --fp32"):
        study("--heads", "gap", "--variants", "aan", "no_both", "--out", str(fp32), "--resume")
    monkeypatch.setattr(aan_study, "cpu_supports_bf16", lambda: False)
    assert "no native bf16: training in fp32" in study("--heads", "gap", "--variants", "aan",
                                                       "--out", str(tmp_path / "old.json"))


def test_inference_params_counts_what_runs_at_test_time():
    """AAN's intermediate-supervision branches (training only) are left out; a model whose
    own ``branches`` run at test time (HRNet's parallel branches) keeps them (the old rule by
    name counted HRNet-w18 as 1.6 M of its 9.7 M)."""
    from bench.common import inference_params

    aan = aan_study.build("aan", "gap", 0.125, 64, "paper").eval()
    x = torch.rand(1, 3, 64, 64)
    counted = inference_params(aan, lambda: aan.predict(x))
    branch = sum(p.numel() for p in aan.branches.parameters())
    assert branch > 0 and counted == sum(p.numel() for p in aan.parameters()) - branch

    class Parallel(torch.nn.Module):  # 'branches' that run in every forward
        def __init__(self):
            super().__init__()
            self.branches = torch.nn.ModuleList([torch.nn.Linear(4, 4) for _ in range(3)])

        def forward(self, x):
            return sum(b(x) for b in self.branches)

    net = Parallel()
    assert inference_params(net, lambda: net(torch.zeros(1, 4))) == 60
