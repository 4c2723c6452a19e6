"""bench/aan_study.py's --init (how runs start and are regularised) and --placement (where
a timm backbone's attention sits): one grid dimension each, recorded in every JSON row, and
results files made before the options still summarised as they were."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from conftest import REPO

from bench import aan_study

LEGACY = ["aan_study", "backbone_study", "backbone_study_resnet18_800"]


@pytest.mark.parametrize("name", LEGACY)
def test_results_made_before_the_options_summarise_unchanged(name, tmp_path):
    """Rows without ``init`` / ``placement`` read as ``paper`` / outputs-only gating and the
    file's tables keep their columns: --summarise rewrites it byte for byte (catches a new
    column or a changed cell label leaking into the old files)."""
    path = tmp_path / f"{name}.json"
    shutil.copy(REPO / "bench" / "results" / f"{name}.json", path)
    before = path.read_bytes()
    payload = json.loads(before)
    assert not any("init" in r or "placement" in r for r in payload["runs"])
    aan_study.report(payload, path)
    assert path.read_bytes() == before


def test_legacy_rows_keep_their_cells():
    assert aan_study.row_init({"variant": "aan"}) == "paper"
    on = dict(backbone="b", attention=True, head="aan", seed=0)
    assert aan_study.row_placement(on) == "outputs_only"
    assert aan_study.row_placement(dict(on, attention=False)) is None
    assert aan_study.cell_key(on) == ("b", True, "outputs_only", "aan", "paper", 0)
    assert aan_study.cell_key(dict(on, placement="in_stage", init="fair")) == (
        "b", True, "in_stage", "aan", "fair", 0)


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
    assert "| regnetx_002 | linear | paper | in-stage |" in payload["table"]
    assert "| regnetx_002 | linear | paper | off |" in payload["table"]
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
