"""bench/real_300w.py and bench/cpu_train_speed.py: reading finished runs back, the mean-shape
row, the generated table, and the speed bench's tiny mode."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO
from raw_archives import make_300w
from study_runs import flat_config

from bench import real_300w


def _fake_run(work: Path, nme: float, with_val: bool = True) -> Path:
    """A work dir as `mim train` leaves it: the saved config and vis_data/scalars.json."""
    stamp = work / "20260101_000000" / "vis_data"
    stamp.mkdir(parents=True)
    (stamp / "config.py").write_text("train_dataloader = dict(batch_size=32)\n")
    lines = [dict(loss=1.0, time=0.5, iter=100, step=100),
             dict(loss=0.00123456, time=0.25, iter=300, step=300)]
    if with_val:
        lines.append({"NME": nme / 100, "inter_pupil/NME": 1.4 * nme / 100, "FR@0.1": 0.01,
                      "AUC@0.08": 0.5, "step": 300})
    (stamp / "scalars.json").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return work


def test_read_run_gives_the_final_metrics_and_training_time(tmp_path):
    row = real_300w.read_run(_fake_run(tmp_path / "run", 4.5))
    assert row["nme_io"] == pytest.approx(4.5) and row["nme_ip"] == pytest.approx(6.3)
    assert row["iterations"] == 300 and row["batch"] == 32
    # 100 iterations at 0.5 s, then 200 at 0.25 s: 100 s of training
    assert row["train_minutes"] == pytest.approx(100 / 60, abs=0.05)
    assert row["images_per_s"] == pytest.approx(300 * 32 / 100, rel=1e-3)
    assert row["train_loss"] == [[100, 1.0], [300, 0.001235]]  # 4 significant digits


@pytest.mark.parametrize("ending", ["last_checkpoint", "max_iters"])
def test_read_run_counts_the_iterations_after_the_last_log(tmp_path, ending):
    # a 350-iteration run logging every 100 iterations: its last log is at 300
    work = _fake_run(tmp_path / "run", 4.5)
    if ending == "last_checkpoint":
        (work / "last_checkpoint").write_text(str(work / "iter_350.pth"))
    else:
        config = next(work.glob("*/vis_data/config.py"))
        config.write_text(config.read_text() + "train_cfg = dict(max_iters=350)\n")
    row = real_300w.read_run(work)
    assert row["iterations"] == 350
    # the 50 iterations after the last log at its 0.25 s: 112.5 s of training
    assert row["train_minutes"] == pytest.approx(112.5 / 60, abs=0.05)
    assert row["images_per_s"] == pytest.approx(350 * 32 / 112.5, rel=1e-3)


def test_read_run_refuses_a_run_without_its_final_validation(tmp_path):
    work = _fake_run(tmp_path / "run", 4.5, with_val=False)
    with pytest.raises(ValueError, match="scalars.json: no final validation"):
        real_300w.read_run(work)
    with pytest.raises(FileNotFoundError, match="did not end"):
        real_300w.read_run(tmp_path / "empty")


def test_table_lists_every_seed_with_mean_and_sd():
    payload = dict(machine="CPU: test", anchors=real_300w.ANCHORS, runs=[
        dict(arm="aan_aug", label="AAN aug", seed=1, nme_io=4.0, nme_ip=5.6, fr_10=0.0,
             auc_08=0.5, train_minutes=30.0, images_per_s=100.0, machine="CPU: test"),
        dict(arm="aan_aug", label="AAN aug", seed=0, nme_io=4.2, nme_ip=5.8, fr_10=0.002,
             auc_08=0.48, train_minutes=29.0, images_per_s=102.0, machine="CPU: test"),
        dict(arm="mean_shape", label="Mean shape", nme_io=16.9, nme_ip=23.5, fr_10=0.9,
             auc_08=0.0, machine="CPU: test")])
    table = real_300w.results_markdown(payload)
    row = next(line for line in table.splitlines() if line.startswith("| AAN aug"))
    assert "| 0, 1 |" in row and "4.10 ± 0.14" in row and "5.70 ± 0.14" in row
    assert "| 16.90 |" in table  # one value: no spread
    assert "4.38" in table and "(published)" in table  # the cited anchors


def test_mean_shape_row_on_a_converted_folder(tmp_path):
    """The mean shape of the training faces placed in the test boxes: the NME a model that
    ignores its image reaches."""
    from aan_components.converters import face300w

    make_300w(tmp_path / "raw")
    face300w.convert(tmp_path / "raw", tmp_path / "data")
    row = real_300w.mean_shape_row(tmp_path / "data")
    assert 0 < row["nme_io"] < row["nme_ip"] < 100
    assert 0 <= row["fr_10"] <= 1


@pytest.mark.slow
def test_cpu_train_speed_tiny_mode():
    proc = subprocess.run([sys.executable, "-m", "bench.cpu_train_speed", "--tiny"], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = [line for line in proc.stdout.splitlines()
           if line.startswith("[bench] wrote ") and line.endswith(".json")]
    payload = json.loads(Path(out[-1].split("wrote ", 1)[1]).read_text())
    cell = payload["cells"]["demo, 128 px"]
    assert set(cell["arms"]) == {"fp32", "switch"}
    assert "annotation file" in cell["plain_left_out"]  # synthetic faces: no plain arm
    assert cell["parts"]["model_images_per_s"] > 0
    real = payload["cells"]["real_aug, 128 px"]  # the two faces of tests/data
    assert set(real["arms"]) == {"fp32", "switch", "plain"}
    assert all(a["runs"][0]["images_per_s"] > 0 for a in real["arms"].values())
    assert real["arms"]["plain"]["runs"][0]["compute_threads"] >= 1
    assert "load_average_before" in real["arms"]["plain"]["runs"][0]
    table = Path(out[-1].split("wrote ", 1)[1]).with_suffix(".md").read_text()
    assert "| demo, 128 px | switch |" in table
    assert "| real_aug, 128 px | switch vs plain |" in table


def test_cpu_train_speed_batch_augment_cell_against_its_peer():
    """real_batchaug runs at its own 128 px only (its cache is sized for it), and its table
    gives its switch arm against real_aug's in the same run."""
    from mmengine.config import Config

    from bench import cpu_train_speed as speed

    cfg = Config.fromfile(str(REPO / "mm_configs" / "aan_300w_cpu_batchaug.py"))
    assert speed.runs_at(cfg, 128) and not speed.runs_at(cfg, 256)
    assert speed.runs_at(Config.fromfile(str(REPO / "mm_configs" / "aan_300w_cpu_aug.py")), 256)
    with pytest.raises(ValueError, match="its own 128 px"):
        speed.build_cfg("real_batchaug", 256, "switch", Path("/d"), 3)
    arm = dict(switch=dict(runs=[dict(images_per_s=150.0)], median_images_per_s=150.0))
    payload = dict(args={}, cells={
        "real_aug, 128 px": dict(size=128, arms=dict(
            switch=dict(runs=[dict(images_per_s=100.0)], median_images_per_s=100.0))),
        "real_batchaug, 128 px": dict(size=128, arms=arm)})
    assert "| real_batchaug, 128 px | switch vs real_aug's switch |  |  | 1.50x |" in \
        speed.results_markdown(payload)


def test_parity_fp32_arm_is_the_config_without_the_switch(tmp_path):
    """Only the arithmetic differs between the parity arms: the fp32 config keeps the data
    path and everything else of the shipped one."""
    from mmengine.config import Config

    from bench import cpu_switch_parity

    for cell in ("demo", "real"):
        shipped = Config.fromfile(str(cpu_switch_parity._config(cell, "switch", tmp_path)))
        fp32 = Config.fromfile(str(cpu_switch_parity._config(cell, "fp32", tmp_path / cell)))
        assert fp32.optim_wrapper.type == "OptimWrapper"
        assert "fused" not in fp32.optim_wrapper.optimizer
        assert "channels_last" not in fp32.default_hooks
        assert "cpu_threads" not in fp32.default_hooks
        for key in ("model", "train_dataloader", "train_cfg", "param_scheduler"):
            assert fp32[key] == shipped[key], (cell, key)


def test_parity_table_gives_each_seed_and_the_spread():
    from bench import cpu_switch_parity

    runs = [dict(cell="demo", arm=arm, seed=s, nme_io=v, iterations=800, images_per_s=50)
            for arm, s, v in [("fp32", 0, 7.0), ("fp32", 1, 7.4), ("switch", 0, 7.2),
                              ("switch", 1, 7.1)]]
    table = cpu_switch_parity.results_markdown(dict(runs=runs))
    assert "| demo | fp32 | 0, 1 | 7.00, 7.40 | 7.20 ± 0.28 |" in table
    assert "| demo | switch | 0, 1 | 7.20, 7.10 | 7.15 ± 0.07 |" in table


def test_metrics_of_predictions_normalise_by_each_protocol():
    """A shift of 10% of the outer-eye-corner distance is NME(IO) 10 %; the eye centres are
    closer together than the corners, so inter-pupil NME is larger."""
    import numpy as np

    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 100, (3, 68, 2))
    gt[:, 36], gt[:, 45] = [20.0, 50.0], [80.0, 50.0]  # outer corners 60 px apart
    pred = gt + [6.0, 0.0]
    m = real_300w._metrics(pred, gt)
    assert m["nme_io"] == pytest.approx(10.0)
    assert m["fr_10"] == 0.0  # exactly at the threshold is not a failure
    assert m["auc_08"] == 0.0
    assert real_300w._metrics(gt, gt)["nme_io"] == 0.0


def test_table5_grid_and_table():
    """18 runs (4 variants fair + AAN / w/o attention paper, 3 seeds), seeds interleaved;
    the table pairs each variant with AAN of the same start and seed."""
    from bench import table5_real_300w as t5

    specs = t5.specs(100)
    assert len(specs) == 18
    assert [s["seed"] for s in specs[:6]] == [0] * 6  # every cell's seed 0 first
    fair = next(s for s in specs if s["arm"] == "no_both_fair")
    assert "model.head.output_init=mean_shape" in fair["options"]
    assert "train_cfg.max_iters=100" in fair["options"]
    assert fair["config"] == "aan_300w_cpu_no-both.py"
    paper = next(s for s in specs if s["arm"] == "aan_paper")
    assert not any("output_init" in o for o in paper["options"])
    runs = [dict(variant=v, start="fair", seed=s, nme_io=io, nme_ip=io * 1.4)
            for v, s, io in [("aan", 0, 5.0), ("aan", 1, 5.2), ("no_attention", 0, 4.8),
                             ("no_attention", 1, 5.1)]]
    table = t5.results_markdown(dict(runs=runs))
    row = next(line for line in table.splitlines() if "w/o attention (fair" in line)
    assert "| 0, 1 | 4.80, 5.10 | 4.95 ± 0.21 |" in row
    assert "| -0.15 ± 0.07 |" in row  # paired: -0.2 and -0.1
    assert "| 2.06 |" in row  # the paper's AFLW number beside it


def test_backbone_grid_and_table():
    """8 runs (2 backbones x attention on/off x 2 seeds), seed 0 first, every run with the
    fair start and the backbone / attention options; the table pairs attention on with off
    of the same backbone and seed. Wrong input caught: a pairing across seeds (the unpaired
    difference of means would be -0.15 ± 0, the paired one is -0.15 ± 0.07)."""
    from bench import backbone_real_300w as bb

    specs = bb.specs(100)
    assert len(specs) == 8 and [s["seed"] for s in specs[:4]] == [0] * 4
    off = next(s for s in specs if s["arm"] == "regnetx_002_no-attention" and s["seed"] == 1)
    assert {"model.backbone.model_name=regnetx_002", "model.backbone.attention=False",
            "model.head.output_init=mean_shape", "model.head.embedding_sigma=median",
            "train_cfg.max_iters=100"} <= set(off["options"])
    assert off["config"] == "aan_timm-resnet18_300w_cpu.py"
    runs = [dict(backbone="resnet18", attention=a, seed=s, nme_io=io, nme_ip=io * 1.4,
                 train_minutes=10.0)
            for a, s, io in [(True, 0, 4.8), (True, 1, 5.1), (False, 0, 5.0), (False, 1, 5.2)]]
    row = next(line for line in bb.results_markdown(dict(runs=runs)).splitlines()
               if "resnet18, attention in-stage" in line)
    assert "| 0, 1 | 4.80, 5.10 | 4.95 ± 0.21 |" in row
    assert "| -0.15 ± 0.07 (each: -0.20, -0.10) |" in row  # paired, seed by seed


def test_train_command_points_wrapped_datasets_at_the_data_root(tmp_path):
    """The paper-recipe config wraps its training set in CropCacheDataset: the data root
    goes to the wrapped dataset (the wrapper takes none; the first grid run failed on it)."""
    cmd = real_300w.train_command("aan_300w_cpu.py", tmp_path, 3, Path("/data/300w"),
                                  ("train_cfg.max_iters=5",))
    opts = cmd[cmd.index("--cfg-options") + 1:]
    assert opts[:2] == ["randomness.seed=3", "train_cfg.max_iters=5"]
    assert "train_dataloader.dataset.dataset.data_root=/data/300w/" in opts
    assert "train_dataloader.dataset.data_root=/data/300w/" not in opts
    assert "test_dataloader.dataset.data_root=/data/300w/" in opts
    aug = real_300w.train_command("aan_300w_cpu_aug.py", tmp_path, 0, Path("/d"))
    assert "train_dataloader.dataset.data_root=/d/" in aug


def test_attention_grid_declares_every_run_with_its_form_budget_and_seed():
    """Parts (a)-(d) as declared: the form reaches the config key, each part its own budget
    and options, the fair start everywhere; part (a) re-runs neither aan nor none (they come
    from the Table 5 results), part (c) adds (a)'s best form, part (d) takes aan and none
    from the backbone study and re-runs none on its own CPU."""
    from bench import attention_real_300w as ar

    specs = ar.specs()
    count = {p: sum(s["part"] == p for s in specs) for p in ar.PARTS}
    assert count == dict(a=6, b=6, c=6, d=8)
    assert len({(s["arm"], s["seed"]) for s in specs}) == len(specs)
    for s in specs:
        assert f"model.backbone.attention={s['attention']}" in s["options"]
        assert set(ar.STARTS["fair"]) <= set(s["options"])
    a = [s for s in specs if s["part"] == "a"]
    assert {s["attention"] for s in a} == {"fixed-gain", "aan-mean-one"}
    assert all("train_cfg.max_iters=1500" in s["options"] and s["config"] == "aan_300w_cpu.py"
               for s in a)
    b = next(s for s in specs if s["part"] == "b")
    assert {"model.head.final_input=gap", "model.head.branch_input=gap"} <= set(b["options"])
    c = next(s for s in specs if s["part"] == "c" and s["attention"] == "aan")
    assert c["config"] == "aan_300w_cpu_aug.py" and "train_cfg.max_iters=6000" in c["options"]
    assert "model.head.loss.loss.type=L1Loss" in c["options"]
    d = [s for s in specs if s["part"] == "d"]
    assert {s["attention"] for s in d} == {"se", "eca", "cbam", "none"}
    assert {s["attention"] for s in specs if s["part"] == "c"} == {"none", "aan", "aan-mean-one"}
    assert all(s["config"] == "aan_timm-resnet18_300w_cpu.py"
               and "train_cfg.max_iters=1000" in s["options"] for s in d)


def test_attention_table_pairs_each_form_with_none_and_reads_table5_for_part_a():
    """Paired against none of the same part and seed (-0.15 ± 0.07 paired; across seeds it
    would be ± 0); part (a) takes aan and none from the Table 5 fair-start runs."""
    from bench import attention_real_300w as ar

    runs = [dict(part="b", attention=f, seed=s, nme_io=io, nme_ip=io * 1.4, iterations=1500)
            for f, s, io in [("aan", 0, 4.8), ("aan", 1, 5.1), ("none", 0, 5.0),
                             ("none", 1, 5.2)]]
    runs.append(dict(part="a", attention="fixed-gain", seed=0, nme_io=6.0, nme_ip=8.0,
                     iterations=1500))
    table = ar.results_markdown(dict(runs=runs, machine="CPU: test"))
    part_b = table.split("**(b)")[1].split("**(")[0]
    row = next(line for line in part_b.splitlines() if line.startswith("| aan |"))
    assert "| 0, 1 | 4.80, 5.10 | 4.95 ± 0.21 |" in row and "| -0.15 ± 0.07 |" in row
    part_a = table.split("**(a)")[1].split("**(b)")[0]
    table5 = json.loads((REPO / "bench/results/table5_real_300w.json").read_text())
    none0 = next(r["nme_io"] for r in table5["runs"]
                 if (r["variant"], r["start"], r["seed"]) == ("no_attention", "fair", 0))
    row = next(line for line in part_a.splitlines() if line.startswith("| fixed-gain |"))
    assert f"| {6.0 - none0:.2f} |" in row
    assert "| none (Table 5 run) | 0, 1, 2 |" in part_a and "Xeon" in part_a
    assert "**(c)" not in table and "**(d)" not in table  # no runs, no table
    runs.append(dict(part="d", attention="se", seed=1, nme_io=5.0, nme_ip=7.0, iterations=1000))
    part_d = ar.results_markdown(dict(runs=runs, machine="CPU: test")).split("**(d)")[1]
    backbone = json.loads((REPO / "bench/results/backbone_real_300w.json").read_text())
    none1 = next(r["nme_io"] for r in backbone["runs"]
                 if (r["arm"], r["seed"]) == ("resnet18_no-attention", 1))
    row = next(line for line in part_d.splitlines() if line.startswith("| se |"))
    assert f"| {5.0 - none1:.2f} |" in row
    assert "| none (backbone study run) | 0, 1 |" in part_d
    assert "| aan (backbone study run) | 0, 1 |" in part_d
    # with its own none, part (d) pairs its forms with that none (same CPU), and the
    # reference aan with the reference none
    runs += [dict(part="d", attention="none", seed=s, nme_io=io, nme_ip=7.0, iterations=1000)
             for s, io in ((0, 5.3), (1, 5.6))]
    part_d = ar.results_markdown(dict(runs=runs, machine="CPU: test")).split("**(d)")[1]
    row = next(line for line in part_d.splitlines() if line.startswith("| se |"))
    assert f"| {5.0 - 5.6:.2f} |" in row
    aan = [r["nme_io"] - n["nme_io"] for r in backbone["runs"] for n in backbone["runs"]
           if (r["arm"], n["arm"]) == ("resnet18_attention", "resnet18_no-attention")
           and r["seed"] == n["seed"]]
    row = next(line for line in part_d.splitlines()
               if line.startswith("| aan (backbone study run) |"))
    assert f"| {statistics.fmean(aan):.2f} ± {statistics.stdev(aan):.2f} |" in row
    assert "| none | 0, 1 | 5.30, 5.60 |" in part_d and "also run here" in part_d


def test_attention_tool_runs_only_the_parts_asked(tmp_path, monkeypatch):
    """``--only a`` trains part (a)'s runs alone (training stood in for), records each with
    its form, iterations and seed, and writes the JSON and its table."""
    from bench import attention_real_300w as ar

    trained = []

    def fake_train(spec, root, runs, threads):
        trained.append(spec)
        return dict(spec, iterations=1500, nme_io=5.0 + spec["seed"], nme_ip=7.0)

    monkeypatch.setattr(real_300w, "train_one", fake_train)
    out = tmp_path / "attention.json"
    ar.main(["--300w-root", str(tmp_path), "--only", "a", "--out", str(out)])
    assert {s["part"] for s in trained} == {"a"} and len(trained) == 6
    payload = json.loads(out.read_text())
    assert all({"attention", "iterations", "seed"} <= set(r) for r in payload["runs"])
    assert payload["parts"]["c"]["forms"] == ["none", "aan", "aan-mean-one"]
    assert "| aan-mean-one |" in out.with_suffix(".md").read_text()


BATCH_STUDY = {  # each arm against aan_batchaug_l1: the config keys it changes
    "aan_batchaug_reference": set(),  # the same run again, on the study's own CPU
    "aan_batchaug_truncnorm": {f"{real_300w.BATCH_AUGMENT}.ranges"},
    "aan_batchaug_channels": {f"{real_300w.BATCH_AUGMENT}.channel_shuffle_p"},
    "aan_batchaug_cache2x": {"train_dataloader.dataset.dataset.pipeline.2.input_size",
                             "train_dataloader.dataset.dataset.pipeline.3.encoder.input_size"},
    "aan_batchaug_sathue": {f"{real_300w.BATCH_AUGMENT}.color"},
    # the cache's pixels doubled, and the zoom halved with them (one change: the resolution)
    "aan_batchaug_cache2x_zoom": {"train_dataloader.dataset.dataset.pipeline.2.input_size",
                                  "train_dataloader.dataset.dataset.pipeline.3.encoder.input_size",
                                  f"{real_300w.BATCH_AUGMENT}.scale"},
}


def _face_side_in_crop(arm: str) -> tuple[float, float]:
    """The face box's side in the model's crop, in output pixels, at the arm's least and
    most zoom: the cache's pixels a box side (its size over GetBBoxCenterScale's padding)
    times the zoom (RandomFaceAugmentation cuts at the cache's pixel scale)."""
    cfg = _arm_config(arm)
    pipeline = cfg.train_dataloader.dataset.dataset.pipeline
    padding = next(t for t in pipeline if t["type"] == "GetBBoxCenterScale")["padding"]
    cache = next(t for t in pipeline if t["type"] == "TopdownAffine")["input_size"][0]
    low, high = cfg.model.data_preprocessor.batch_augments[0].scale
    return cache / padding * low, cache / padding * high


@pytest.mark.parametrize("arm", list(BATCH_STUDY))
def test_every_batch_study_arm_shows_the_face_at_the_reference_scale(arm):
    """What every arm keeps: the face as large in the model's crop as the reference shows it
    (a box side of 89-113 px of 128 at its least and most zoom). aan_batchaug_cache2x broke
    it (twice the cache's pixels at the same zoom: a 2x zoom into the face, which tested
    26.9) and is marked invalid in the study's table; this is the test it would have
    failed."""
    reference = _face_side_in_crop("aan_batchaug_l1")
    keeps = _face_side_in_crop(arm) == pytest.approx(reference, rel=1e-3)
    assert keeps != (arm in real_300w.BATCH_INVALID)


def _arm_config(arm: str):
    """The arm's config as `mim train` makes it: the shipped config, then its cfg-options
    parsed as MMPose's tools/train.py parses them (mmengine's DictAction)."""
    import argparse

    from mmengine.config import Config, DictAction

    parser = argparse.ArgumentParser()
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={})
    _, config, _, *options = real_300w.GRID[arm]
    cfg = Config.fromfile(str(REPO / "mm_configs" / config))
    cfg.merge_from_dict(parser.parse_args(
        ["--cfg-options", *(options[0] if options else ())]).cfg_options)
    return cfg


@pytest.mark.parametrize("arm", list(BATCH_STUDY))
def test_batch_augmentation_study_arms_each_change_one_thing(arm):
    """Each arm of the batch-augmentation study is aan_batchaug_l1 (same config, seeds and
    paper's gate) with one thing changed, and its cfg-options take effect in the config
    (catches an option on a key the config does not read, e.g. after a pipeline reorder)."""
    reference, arm_spec = real_300w.GRID["aan_batchaug_l1"], real_300w.GRID[arm]
    assert arm_spec[1:3] == reference[1:3] and real_300w.PAPER_GATE in arm_spec[3]
    before = flat_config(_arm_config("aan_batchaug_l1").to_dict())
    after = flat_config(_arm_config(arm).to_dict())
    changed = {k for k in before.keys() | after.keys()
               if before.get(k) != after.get(k)}
    assert changed == BATCH_STUDY[arm]
    assert list(real_300w.GRID)[-len(BATCH_STUDY):] == list(BATCH_STUDY)  # after l1


def _augment(arm: str):
    from mmpose.registry import MODELS

    return MODELS.build(_arm_config(arm).model.data_preprocessor).batch_augments[0]


def test_truncnorm_arm_draws_truncated_normals():
    assert _augment("aan_batchaug_truncnorm").augment.ranges == "truncnorm"
    assert _augment("aan_batchaug_l1").augment.ranges == "uniform"


def test_channels_arm_shuffles_the_channel_order_of_half_the_faces():
    def shuffles(arm: str) -> list[float]:
        return [m.p for m in _augment(arm).augment.photometric.children()
                if type(m).__name__ == "RandomChannelShuffle"]

    assert shuffles("aan_batchaug_channels") == [0.5]
    assert shuffles("aan_batchaug_l1") == []


MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]  # the configs' preprocessor


def test_sathue_arm_changes_saturation_and_hue_on_the_batch():
    """A batch of one skin colour, through the arm's batch augmentation to 128 px: brightness
    and contrast alone keep each face's hue, the arm's hue spreads it over about +-36
    degrees (PhotometricDistortion's +-18 of OpenCV's 180); its saturation range is
    PhotometricDistortion's."""
    from kornia.color import rgb_to_hsv
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample

    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    rgb = torch.tensor([0.5, 0.38, 0.3]).view(1, 3, 1, 1).expand(64, 3, 224, 224)
    inputs = (rgb * 255 - mean) / std
    spreads = {}
    for arm in ("aan_batchaug_l1", "aan_batchaug_sathue"):
        samples = []
        for _ in range(64):
            sample = PoseDataSample(metainfo=dict(flip_indices=list(range(68))))
            sample.gt_instance_labels = InstanceData(
                keypoint_labels=torch.full((1, 68, 2), 0.5),
                keypoint_weights=torch.ones(1, 68))
            samples.append(sample)
        torch.manual_seed(0)
        out, _ = _augment(arm)(inputs.clone(), samples)
        assert out.shape == (64, 3, 128, 128)
        hue = rgb_to_hsv(((out * std + mean) / 255)[:, :, 64, 64, None, None])[:, 0, 0, 0]
        turned = torch.rad2deg(hue - rgb_to_hsv(rgb[:1, :, :1, :1])[0, 0, 0, 0])
        spreads[arm] = ((turned + 180) % 360 - 180).abs().max().item()  # around the circle
    assert spreads["aan_batchaug_l1"] < 1.0
    assert 25 < spreads["aan_batchaug_sathue"] <= 36.5
    # saturation (which brightness alone changes too): kornia's 0.5-1.5 factor
    jiggle = next(m for m in _augment("aan_batchaug_sathue").augment.photometric.children())
    assert (jiggle.brightness, jiggle.contrast, jiggle.saturation, jiggle.hue) == (
        0.125, 0.5, 0.5, 0.1)


def test_cache2x_arm_caches_twice_the_pixels_over_the_same_margin(fixtures_dir):
    """The arm's cache pipeline on a fixture face: a 448 px crop whose targets are those of
    the 224 px crop (the same margin; half a 448 px pixel for the pixel-centre convention),
    so the batch augmentation cuts the same view at twice the source resolution."""
    from mmpose.registry import DATASETS

    crops = {}
    for arm in ("aan_batchaug_l1", "aan_batchaug_cache2x"):
        inner = _arm_config(arm).train_dataloader.dataset.dataset
        inner.update(data_root=str(fixtures_dir / "300w"), ann_file="test_300w.json",
                     data_prefix=dict(img=""))
        crops[arm] = DATASETS.build(inner)[0]
    wide, fine = crops["aan_batchaug_l1"], crops["aan_batchaug_cache2x"]
    assert wide["inputs"].shape == (3, 224, 224) and fine["inputs"].shape == (3, 448, 448)
    torch.testing.assert_close(fine["data_samples"].gt_instance_labels.keypoint_labels,
                               wide["data_samples"].gt_instance_labels.keypoint_labels,
                               atol=2e-3, rtol=0)


def test_batch_study_pairs_each_arm_with_the_reference_of_its_own_cpu():
    """An arm is read against the reference that ran on its CPU, seed by seed; a reference
    from another CPU is never paired (the study added aan_batchaug_reference because
    aan_batchaug_l1 ran on a Xeon and the arms on an EPYC)."""
    def run(arm, seed, machine, nme):
        return dict(arm=arm, seed=seed, machine=machine, nme_io=nme, images_per_s=100.0)

    xeon, epyc = "CPU: Xeon, 2 cores", "CPU: EPYC, 2 cores"
    runs = [run("aan_batchaug_l1", 0, xeon, 4.21), run("aan_batchaug_l1", 1, xeon, 4.21),
            run("aan_batchaug_truncnorm", 0, epyc, 4.09),
            run("aan_batchaug_truncnorm", 1, epyc, 4.18)]
    assert real_300w.paired_with_reference(runs, "aan_batchaug_truncnorm") == ("", [])
    runs += [run("aan_batchaug_reference", 0, epyc, 4.19),
             run("aan_batchaug_reference", 1, epyc, 4.20)]
    ref, diffs = real_300w.paired_with_reference(runs, "aan_batchaug_truncnorm")
    assert ref == "aan_batchaug_reference"
    assert diffs == pytest.approx([-0.10, -0.02])
    table = real_300w.batch_study_markdown(runs)
    row = next(line for line in table.splitlines() if "truncnorm" in line)
    assert "-0.06 ± 0.06" in row and "aan_batchaug_reference" in row
    assert "| joins |" in row  # a gain of 0.060 against an sd of 0.057
    # a reference on the arm's CPU for one seed only pairs that seed alone
    runs = [r for r in runs if not (r["arm"] == "aan_batchaug_reference" and r["seed"] == 1)]
    assert real_300w.paired_with_reference(runs, "aan_batchaug_truncnorm")[1] == \
        pytest.approx([-0.10])
    assert real_300w.batch_study_markdown([run("aan_batchaug_l1", 0, xeon, 4.2)]) == ""


def test_read_run_joins_the_attempts_of_a_resumed_run(tmp_path):
    """A run killed at iteration 450 after its checkpoint at 400, then resumed from 400: the
    training time counts each iteration once, at the attempt that kept it; a work dir without
    attempts.json (made by hand) is read from its newest log alone."""
    work = tmp_path / "run"
    first = work / "20260101_000000" / "vis_data"
    first.mkdir(parents=True)
    (first / "config.py").write_text("train_dataloader = dict(batch_size=32)\n"
                                     "train_cfg = dict(max_iters=600)\n")
    (first / "scalars.json").write_text("\n".join(json.dumps(dict(loss=1.0, time=0.5, iter=i))
                                                  for i in (100, 200, 300, 400)) + "\n")
    second = work / "20260101_010000" / "vis_data"
    second.mkdir(parents=True)
    (second / "config.py").write_text((first / "config.py").read_text())
    lines = [dict(loss=0.5, time=0.25, iter=i) for i in (500, 600)]
    lines.append({"NME": 0.04, "inter_pupil/NME": 0.056, "FR@0.1": 0.0, "AUC@0.08": 0.5})
    (second / "scalars.json").write_text("\n".join(map(json.dumps, lines)) + "\n")
    alone = real_300w.read_run(work)  # no attempts.json: the newest log only
    assert "resumed_from" not in alone
    assert alone["train_minutes"] == pytest.approx(round(600 * 0.25 / 60, 1))
    (work / real_300w.ATTEMPTS).write_text(json.dumps(
        [dict(command="c", from_iter=0), dict(command="c", from_iter=400)]))
    row = real_300w.read_run(work)
    assert row["resumed_from"] == [400] and row["iterations"] == 600
    assert row["train_loss"] == [[i, 1.0] for i in (100, 200, 300, 400)] + [[500, 0.5],
                                                                            [600, 0.5]]
    # 400 iterations at 0.5 s, 200 at 0.25 s
    assert row["train_minutes"] == pytest.approx(round((200 + 50) / 60, 1))
    assert row["nme_io"] == pytest.approx(4.0)


def test_a_failed_attempt_without_a_checkpoint_starts_afresh_and_keeps_the_old_folder(tmp_path):
    work = tmp_path / "arm_seed0"
    cmd = ["mim", "train", "mmpose", "a.py"]
    assert real_300w.prepare_work_dir(work, cmd) == 0
    (work / "train.log").write_text("failed before its first checkpoint\n")
    assert real_300w.prepare_work_dir(work, cmd) == 0
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("arm_seed0.before-")]
    assert len(kept) == 1 and (kept[0] / "train.log").is_file()
    assert [a["from_iter"] for a in real_300w._attempts(work)] == [0]
    # a checkpoint pointer to a file that is gone is no checkpoint (moved aside again, in
    # the same second: a second name, the first kept)
    (work / "last_checkpoint").write_text(str(work / "iter_500.pth"))
    assert real_300w.prepare_work_dir(work, cmd) == 0
    assert len([p for p in tmp_path.iterdir() if ".before-" in p.name]) == 2


@pytest.mark.slow
def test_a_grid_run_killed_midway_goes_on_from_its_last_checkpoint(tmp_path, monkeypatch):
    """A `mim train` run of the grid killed (SIGKILL, as at a session's end) after a
    checkpoint: run again, it resumes there (MMPose's --resume) and finishes with its
    final validation; the row says where it went on from."""
    import signal
    import time

    from bench.equal_time_study import tiny_root

    monkeypatch.setattr(real_300w, "CHECKPOINT_EVERY", 2)
    root = tiny_root()
    from bench.equal_time import arm_config, schedule_options

    config = "aan_300w_cpu_batchaug.py"
    spec = dict(arm="aan_batchaug_l1", label="tiny", config=config, seed=0,
                options=schedule_options(arm_config(f"mm_configs/{config}"), 24))
    work = real_300w.run_dir(tmp_path, spec["arm"], 0)
    cmd = real_300w.train_command(spec["config"], work, 0, root,
                                  (*spec["options"], *real_300w.checkpoint_options()))
    assert real_300w.prepare_work_dir(work, cmd) == 0
    with open(tmp_path / "first.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.time() + 600
    while real_300w._checkpoint_iteration(work) is None and proc.poll() is None:
        assert time.time() < deadline, "no checkpoint in 600 s"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = real_300w._checkpoint_iteration(work)
    assert killed_at is not None and killed_at < 24, (tmp_path / "first.log").read_text()[-3000:]
    row = real_300w.train_one(spec, root, tmp_path, threads=None)
    assert row["resumed_from"] == [real_300w._checkpoint_iteration(work) and killed_at]
    assert row["iterations"] == 24 and row["nme_io"] > 0
    assert "resumed" in (work / "train.log").read_text().lower()
