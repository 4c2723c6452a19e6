"""``aan tables``: work dirs -> the paper's Tables 1-5, ours beside the paper's."""

from __future__ import annotations

import json

import pytest
from conftest import REPO
from mmengine.config import Config

from aan_components.cli import main as aan
from aan_components.converters.face300w_protocol import split_info
from aan_core.evaluation.face_protocols import FACE300W_SOURCE_FACES


def paper_300w_train(root, data_root="data/300w/") -> None:
    """The training json of the paper's 300W protocol, where a run's relative ``data_root``
    points from ``root`` (only its ``info`` record: all six sources, 3,148 faces)."""
    path = root / data_root / "annotations" / "face_landmarks_300w_train.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    info = dict(dataset="300W", **split_info("train", FACE300W_SOURCE_FACES))
    path.write_text(json.dumps(dict(info=info, images=[], annotations=[])))


def work_dir(root, config: str, dataset: str, metrics: dict, norm="inter_ocular", prefix="",
             options: dict | None = None, num_images: dict | None = None):
    """A work dir as mmengine leaves it: the dumped config + the metric's json in a run dir.
    A 300W run's training data is the paper's (``paper_300w_train``) unless ``options``
    point the config elsewhere."""
    wd = root / config
    (wd / "20261127_120000").mkdir(parents=True, exist_ok=True)
    cfg = Config.fromfile(str(REPO / "mm_configs" / f"{config}.py"))
    cfg.merge_from_dict(options or {})
    cfg.dump(str(wd / f"{config}.py"))
    if dataset == "300w" and not options:
        paper_300w_train(root)
    name = f"face_alignment_metrics{'_' + prefix if prefix else ''}.json"
    extra = {} if num_images is None else dict(num_images=num_images)
    (wd / "20261127_120000" / name).write_text(json.dumps(
        dict(dataset_name=dataset, norm_mode=norm, prefix=prefix or None, metrics=metrics,
             **extra)))
    return wd


def test_tables_place_ours_beside_the_paper(tmp_path, capsys):
    dirs = [
        work_dir(tmp_path, "aan_aflw", "aflw", {"NME": 0.0180}, norm="box_size"),
        work_dir(tmp_path, "aan_aflw_no-both", "aflw", {"NME": 0.0200}, norm="box_size"),
        work_dir(tmp_path, "aan_300vw_no-attention", "300vw",
                 {"NME": 0.07, "NME/category1": 0.05, "NME/category3": 0.0950}),
        work_dir(tmp_path, "aan_300w", "300w",
                 {"NME": 0.06, "NME/common": 0.05, "NME/challenging": 0.10}),
        work_dir(tmp_path, "resnet50-regression_300w", "300w", {"NME": 0.08}),
    ]
    # the 300W run's inter-pupil metric file sits beside its inter-ocular one
    work_dir(tmp_path, "aan_300w", "300w",
             {"NME": 0.0540, "NME/common": 0.0440, "NME/challenging": 0.0950},
             norm="inter_pupil", prefix="inter_pupil")
    out = tmp_path / "tables.md"
    aan(["tables", *map(str, dirs), "--out", str(out)])
    text = capsys.readouterr().out
    assert out.read_text().strip() == text.strip()
    for n in range(1, 6):
        assert f"### Table {n}" in text
    assert "| **AAN (ours, box size)** | 1.80 (+0.07) |" in text
    assert "| **AAN (ours, inter-pupil)** | 4.40 (+0.02) | 9.50 (+0.06) | 5.40 (+0.01) |" in text
    assert "| **AAN (ours, inter-ocular)** | 5.00 (+0.62) | 10.00 (+0.56) | 6.00 (+0.61) |" in text
    assert "| **resnet50-regression_300w (ours, inter-ocular)** | – | – | 8.00 |" in text
    assert "| CFSS (paper) | 4.73 | 9.98 | 5.76 |" in text
    assert "| *(no celeba run given)* |" in text
    # Table 5: AFLW AAN and w/o both measured, 300VW w/o attention measured
    assert ("| AFLW | 1.80 / 1.73 (+0.07) | – / 2.06 | – / 1.78 | 2.00 / 2.10 (-0.10) |"
            in text)
    assert "| 300VW-Category 3 | – / 7.98 | 9.50 / 9.38 (+0.12) | – / 8.15 | – / 9.60 |" in text


def test_tables_reject_dirs_without_results(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as e:
        aan(["tables", str(tmp_path / "empty")])
    assert e.value.code == 2
    assert "empty: no face_alignment_metrics" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        aan(["tables", str(tmp_path / "missing")])
    assert "missing: not a directory" in capsys.readouterr().err


def test_tables_name_a_non_numeric_metric(tmp_path, capsys):
    """Wrong input caught: an NME that is not a number (it gave a traceback from the
    table's number formatting); now one line naming the file and the field, exit 2."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "face_alignment_metrics.json").write_text(
        '{"dataset_name": "300w", "norm_mode": "inter_ocular", "metrics": {"NME": "0.05x"}}')
    with pytest.raises(SystemExit) as e:
        aan(["tables", str(run)])
    assert e.value.code == 2
    assert capsys.readouterr().err == (f"aan tables: error: {run}/face_alignment_metrics.json: "
                                       f"field metrics.NME: not a number ('0.05x')\n")


def test_metric_output_feeds_tables(tmp_path, capsys):
    """The file FaceAlignmentMetric writes is the one aan tables reads."""
    import numpy as np
    from mmpose.registry import METRICS

    wd = tmp_path / "run"
    metric = METRICS.build(dict(type="FaceAlignmentMetric", norm_mode="box_size",
                                out_dir=str(wd / "20261127_000000")))
    metric.dataset_meta = dict(dataset_name="aflw")
    gt = np.zeros((1, 19, 2))
    metric.process([], [dict(gt_instances=dict(keypoints=gt, keypoints_visible=np.ones((1, 19))),
                             box_size=100.0,
                             pred_instances=dict(keypoints=gt + [3.0, 4.0]), img_path="a.jpg")])
    metric.compute_metrics(metric.results)  # NME = 5 / 100
    aan(["tables", str(wd)])
    assert "| **run (ours, box size)** | 5.00 |" in capsys.readouterr().out


def test_best_on_test_checkpoint_is_marked_and_not_compared(tmp_path, capsys):
    """A run tested with a ``best_*`` checkpoint of a config that validated on its test json
    is marked and gets no difference to the paper. Wrong input caught: the same run with
    ``load_from`` = ``best_NME_iter_40000.pth`` (the former README command); its twin with
    the last checkpoint (``iter_50000.pth``) is compared as usual."""
    last = work_dir(tmp_path / "last", "aan_aflw", "aflw", {"NME": 0.0180}, norm="box_size")
    best = work_dir(tmp_path / "best", "aan_aflw", "aflw", {"NME": 0.0170}, norm="box_size")
    for wd, ckpt in ((last, "iter_50000.pth"), (best, "best_NME_iter_40000.pth")):
        cfg = Config.fromfile(str(wd / "aan_aflw.py"))
        cfg.load_from = f"work_dirs/aan_aflw/{ckpt}"
        cfg.dump(str(wd / "aan_aflw.py"))
    aan(["tables", str(best), str(last)])  # best first: Table 5 must still skip it
    text = capsys.readouterr().out
    assert "| **AAN (ours, box size)** | 1.80 (+0.07) |" in text
    assert "| **AAN (ours, box size, best-on-test checkpoint: not comparable)** | 1.70 |" in text
    assert "| AFLW | 1.80 / 1.73 (+0.07) |" in text  # Table 5 takes the comparable run


def test_synthetic_runs_never_enter_a_paper_table(tmp_path, capsys):
    """`aan tables work_dirs/*` put the synthetic demo (dataset_name '300w', 300W's layout)
    into Table 2 as "AAN (ours)" with a difference to the paper; now it gets its own table,
    found by the saved config or, without one, by its synthetic:// test images."""
    real = work_dir(tmp_path, "aan_300w", "300w", {"NME": 0.06})
    synthetic = work_dir(tmp_path, "aan_synthetic", "300w", {"NME": 0.0824})
    bare = tmp_path / "demo_without_config" / "20261127_120000"
    bare.mkdir(parents=True)
    (bare / "face_alignment_metrics.json").write_text(json.dumps(
        dict(dataset_name="300w", norm_mode="inter_ocular", metrics={"NME": 0.07})))
    (bare / "per_image_nme.csv").write_text("index,img_path,nme\n0,synthetic://seed1/0,0.07\n")
    aan(["tables", str(real), str(synthetic), str(bare.parent)])
    text = capsys.readouterr().out
    table2 = text.split("### Table 2")[1].split("### Table 3")[0]
    assert "| **AAN (ours, inter-ocular)** | – | – | 6.00 (+0.61) |" in table2
    assert [line for line in table2.splitlines() if "ours" in line] == [
        "| **AAN (ours, inter-ocular)** | – | – | 6.00 (+0.61) |"]
    others = text.split("### Other runs")[1].split("### Table 5")[0]
    assert "| synthetic (300w layout) | AAN | inter-ocular | 8.24 |" in others
    assert "| synthetic (300w layout) | demo_without_config | inter-ocular | 7.00 |" in others


def table(text: str, heading: str) -> str:
    """The markdown of the table under ``heading`` (up to the next heading)."""
    return text.split(heading, 1)[1].split("\n### ", 1)[0]


def test_partial_300w_runs_never_sit_beside_the_paper(tmp_path, capsys):
    """A run trained on a partial 300W download (no AFW, part of HELEN: the project's real
    faces) and tested on common gets its own table, named by its data, with no difference to
    the paper; its NME over all test images (common only) does not appear as the full test
    set. Wrong input caught: the tables before this change put it into Table 2 as
    "AAN (ours)" with "4.10 (-0.28)" under Common and "4.10 (-1.29)" under Full."""
    partial = tmp_path / "real300w" / "annotations" / "face_landmarks_300w_train.json"
    partial.parent.mkdir(parents=True)
    partial.write_text(json.dumps(dict(
        info=dict(dataset="300W", **split_info("train", {"helen/trainset": 870,
                                                         "lfpw/trainset": 805})),
        images=[], annotations=[])))
    options = {f"{s}_dataloader.dataset.data_root": str(tmp_path / "real300w")
               for s in ("train", "val", "test")}
    wd = work_dir(tmp_path, "aan_300w", "300w", {"NME": 0.041, "NME/common": 0.041},
                  options=options, num_images={"all": 554, "common": 554})
    aan(["tables", str(wd)])
    text = capsys.readouterr().out
    assert "ours" not in table(text, "### Table 2")
    assert "| *(no 300w run on the paper's protocol: the runs given are in the next table)* |" \
        in table(text, "### Table 2")
    assert table(text, "### 300W (68 points): not the paper's protocol").splitlines()[4] == (
        "| AAN (ours, inter-ocular) | 300W partial: train from 1,675 of 3,148 faces "
        "(helen/trainset 870 of 2,000, lfpw/trainset 805 of 811; absent: afw) | 4.10 | – | – |")


def test_a_run_without_its_training_data_is_not_compared(tmp_path, capsys):
    """The training json of the saved config cannot be found (another machine, a moved
    folder): whether the run followed the paper's protocol is unknown, so it is not
    compared. Wrong input caught: a missing file taken as the paper's data."""
    options = {"train_dataloader.dataset.data_root": "elsewhere/300w/"}
    wd = work_dir(tmp_path, "aan_300w", "300w", {"NME": 0.05}, options=options)
    aan(["tables", str(wd)])
    text = capsys.readouterr().out
    assert "ours" not in table(text, "### Table 2")
    assert ("| AAN (ours, inter-ocular) | training data not found (elsewhere/300w/annotations/"
            "face_landmarks_300w_train.json): protocol not verified | – | – | 5.00 |") in text


def test_paper_protocol_run_tested_on_common_only(tmp_path, capsys):
    """Trained on the paper's 3,148 faces, tested on the common json alone: compared under
    Common, nothing under Full (its overall NME is common's). A test subset of another size
    than the paper's is not the protocol. Wrong input caught: the overall NME under Full."""
    wd = work_dir(tmp_path / "a", "aan_300w", "300w", {"NME": 0.05, "NME/common": 0.05},
                  num_images={"all": 554, "common": 554})
    short = work_dir(tmp_path / "b", "aan_300w", "300w", {"NME": 0.05, "NME/common": 0.05},
                     num_images={"all": 330, "common": 330})
    aan(["tables", str(wd), str(short)])
    text = capsys.readouterr().out
    assert [line for line in table(text, "### Table 2").splitlines() if "ours" in line] == [
        "| **AAN (ours, inter-ocular)** | 5.00 (+0.62) | – | – |"]
    assert ("| AAN (ours, inter-ocular) | tested on 330 of 554 common faces | 5.00 | – | – |"
            in text)


def test_the_runs_own_config_is_read_by_its_known_name(tmp_path, capsys):
    """Wrong input caught: a work dir holding the config the run saved (aan_aflw.py: AAN) and
    a newer .py (another variant's config copied in). The newest .py was taken: the AAN run
    was labelled 'w/o both'. Now WORK_DIR/<work dir name>.py is the run's config, and
    several .py files without that name are refused rather than guessed among."""
    import os

    wd = work_dir(tmp_path, "aan_aflw", "aflw", {"NME": 0.0180}, norm="box_size")
    other = wd / "aan_aflw_no-both.py"
    Config.fromfile(str(REPO / "mm_configs" / "aan_aflw_no-both.py")).dump(str(other))
    os.utime(other, (2e9, 2e9))  # the newest
    aan(["tables", str(wd)])
    text = capsys.readouterr().out
    assert "| **AAN (ours, box size)** | 1.80 (+0.07) |" in text
    assert "w/o both (ours" not in text
    renamed = wd.rename(tmp_path / "my_run")
    with pytest.raises(SystemExit) as e:
        aan(["tables", str(renamed)])
    assert e.value.code == 2
    assert capsys.readouterr().err == (
        f"aan tables: error: {renamed}: 2 configs (aan_aflw.py, aan_aflw_no-both.py) and none "
        f"named after the work dir (my_run.py): which one did the run save? Keep only it\n")
    (renamed / "aan_aflw_no-both.py").unlink()
    aan(["tables", str(renamed)])  # the only .py: the run's
    assert "| **AAN (ours, box size)** | 1.80 (+0.07) |" in capsys.readouterr().out


def test_tables_never_print_a_non_finite_metric(tmp_path, capsys):
    """Wrong input caught: a diverged run's NaN NME (Python's json writes NaN); the table
    printed 'nan' without a word. Now one line naming the file and the field, exit 2."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "face_alignment_metrics.json").write_text(json.dumps(
        dict(dataset_name="300w", norm_mode="inter_ocular",
             metrics={"NME": 0.05, "NME/common": float("nan")})))
    with pytest.raises(SystemExit) as e:
        aan(["tables", str(run)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"aan tables: error: {run}/face_alignment_metrics.json: field "
                          f"metrics.NME/common: not finite (nan)")
    assert "nan" not in capsys.readouterr().out


@pytest.mark.parametrize("attention, embedding, label", [
    ("aan", 256, "AAN"), (True, 256, "AAN"), ("none", 256, "w/o attention"),
    (False, None, "w/o both"), ("aan", None, "w/o NE layer"),
    ("fixed-gain", 256, "run (attention=fixed-gain)"),
    (dict(type="aan-mean-one"), 256, "run (attention=aan-mean-one)")])
def test_model_variant_reads_the_attention_form(attention, embedding, label):
    """A run's Table 5 variant comes from its attention form (or an earlier version's switch);
    another form is no Table 5 variant and keeps the run's name. Wrong input caught: a form
    name compared with booleans (every string read as attention on), or 'fixed-gain' labelled
    as the paper's AAN."""
    from mmengine.config import Config

    from aan_components.tools.tables import model_variant

    cfg = Config(dict(model=dict(backbone=dict(type="AANBackbone", attention=attention),
                                 head=dict(embedding_dim=embedding))))
    assert model_variant(cfg, "run") == label
