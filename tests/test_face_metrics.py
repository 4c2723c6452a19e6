"""Per-image NME, CED, AUC, failure rate: against hand computations and MMPose's NME."""

import csv
from pathlib import Path

import numpy as np
import pytest
from mmengine.structures import InstanceData
from mmpose.evaluation.metrics import NME
from mmpose.registry import METRICS

from aan_core.evaluation.face_metrics import (
    ced_curve,
    failure_rate,
    normalisation_distance,
    per_image_nme,
)


def hand_nme(pred, gt, vis, norm):
    out = []
    for p, g, v, d in zip(pred, gt, vis, norm, strict=True):
        errs = [((p[k][0] - g[k][0]) ** 2 + (p[k][1] - g[k][1]) ** 2) ** 0.5 / d
                for k in range(len(g)) if v[k] > 0]
        out.append(sum(errs) / len(errs) if errs else float("nan"))
    return np.array(out)


def test_per_image_nme_matches_a_hand_computation():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 100, (20, 68, 2))
    pred = gt + rng.normal(0, 3, gt.shape)
    vis = (rng.random((20, 68)) > 0.3).astype(float)
    vis[3] = 0  # an image without visible points
    norm = rng.uniform(20, 60, 20)
    got = per_image_nme(pred, gt, vis, norm)
    want = hand_nme(pred, gt, vis, norm)
    assert np.isnan(got[3]) and np.isnan(want[3])
    np.testing.assert_allclose(np.delete(got, 3), np.delete(want, 3), rtol=1e-12)


def test_auc_and_failure_rate_match_closed_forms():
    nmes = np.array([0.01, 0.05, 0.09, 0.2, 0.03, np.nan])
    ced = ced_curve(nmes, max_threshold=0.15, step=1e-5)
    finite = nmes[~np.isnan(nmes)]
    for t in (0.08, 0.1):
        # (1/t) * integral_0^t F(x) dx == mean_i max(0, 1 - e_i / t)
        assert ced.auc(t) == pytest.approx(np.maximum(0, 1 - finite / t).mean(), abs=1e-4)
        assert failure_rate(nmes, t) == pytest.approx((finite > t).mean())
    assert ced.fractions[0] == 0 and ced.fractions[-1] == pytest.approx(0.8)


def _samples(pred, gt, vis, bboxes=None, paths=None):
    out = []
    for i in range(len(gt)):
        g = InstanceData()
        g.keypoints = gt[i:i + 1]
        g.keypoints_visible = vis[i:i + 1]
        if bboxes is not None:
            g.bboxes = bboxes[i:i + 1]
        p = InstanceData()
        p.keypoints = pred[i:i + 1]
        out.append(dict(gt_instances=g.to_dict(), pred_instances=p.to_dict(),
                        img_path=paths[i] if paths else f"img{i}.png"))
    return out


def _evaluate(metric, samples, meta):
    metric.dataset_meta = meta
    metric.process([], samples)
    return metric.compute_metrics(metric.results)


def test_equals_mmpose_nme_when_every_point_is_visible(tmp_path):
    rng = np.random.default_rng(1)
    gt = rng.uniform(0, 200, (12, 68, 2))
    pred = gt + rng.normal(0, 4, gt.shape)
    vis = np.ones((12, 68))
    meta = dict(dataset_name="300w", num_keypoints=68)
    ours = _evaluate(METRICS.build(dict(type="FaceAlignmentMetric", out_dir=str(tmp_path))),
                     _samples(pred, gt, vis), meta)
    theirs = _evaluate(NME(norm_mode="keypoint_distance"), _samples(pred, gt, vis), meta)
    assert ours["NME"] == pytest.approx(theirs["NME"], rel=1e-9)


def test_differs_from_mmpose_nme_when_visibility_varies(tmp_path):
    gt = np.zeros((2, 68, 2))
    gt[:, 45, 0] = 10.0  # inter-ocular distance 10
    pred = gt.copy()
    pred[0, :, 0] += 1.0  # image 0: error 1 on all points
    vis = np.ones((2, 68))
    vis[1, 50:] = 0  # image 1 (perfect) has fewer visible points
    meta = dict(dataset_name="300w", num_keypoints=68)
    ours = _evaluate(METRICS.build(dict(type="FaceAlignmentMetric", out_dir=str(tmp_path))),
                     _samples(pred, gt, vis), meta)
    theirs = _evaluate(NME(norm_mode="keypoint_distance"), _samples(pred, gt, vis), meta)
    assert ours["NME"] == pytest.approx(0.05)  # mean of 0.1 and 0.0
    assert theirs["NME"] == pytest.approx(68 * 0.1 / (68 + 50))  # pooled over points


def test_writes_ced_png_csv_and_per_image_files(tmp_path):
    rng = np.random.default_rng(2)
    gt = rng.uniform(0, 100, (30, 5, 2))
    pred = gt + rng.normal(0, 2, gt.shape)
    metric = METRICS.build(dict(type="FaceAlignmentMetric", norm_mode="inter_pupil",
                                out_dir=str(tmp_path)))
    res = _evaluate(metric, _samples(pred, gt, np.ones((30, 5))), dict(dataset_name="celeba"))
    assert set(res) == {"NME", "AUC@0.08", "FR@0.08", "AUC@0.1", "FR@0.1"}
    assert (tmp_path / "ced.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.reader((tmp_path / "ced.csv").open()))
    assert rows[0] == ["nme_threshold", "fraction_of_images"] and len(rows) > 100
    per_image = list(csv.DictReader((tmp_path / "per_image_nme.csv").open()))
    assert len(per_image) == 30 and per_image[0]["img_path"] == "img0.png"
    want = hand_nme(pred, gt, np.ones((30, 5)),
                    np.linalg.norm(gt[:, 0] - gt[:, 1], axis=-1))
    assert float(per_image[7]["nme"]) == pytest.approx(want[7], abs=1e-6)
    assert not list(tmp_path.glob(".*.tmp")), "no temporary files left behind"


def test_box_area_normalisation_uses_sqrt_area(tmp_path):
    gt = np.zeros((1, 19, 2))
    pred = gt + [3.0, 4.0]
    bboxes = np.array([[0, 0, 20, 5]], float)  # sqrt(20 * 5) = 10
    metric = METRICS.build(dict(type="FaceAlignmentMetric", norm_mode="box_area",
                                out_dir=str(tmp_path)))
    res = _evaluate(metric, _samples(pred, gt, np.ones((1, 19)), bboxes),
                    dict(dataset_name="aflw"))
    assert res["NME"] == pytest.approx(0.5)


def test_box_size_is_required_never_replaced_by_the_box(tmp_path):
    """``norm_mode='box_size'`` reads the packed ``box_size`` (5 / 25 = 0.2 here, not
    5 / sqrt(20 * 5) = 0.5 of the box). Wrong input caught: a sample without ``box_size``
    (the unpacked case that used to fall back to the square box) must be an error."""
    gt = np.zeros((1, 19, 2))
    samples = _samples(gt + [3.0, 4.0], gt, np.ones((1, 19)), np.array([[0, 0, 20, 5.]]))
    metric = METRICS.build(dict(type="FaceAlignmentMetric", norm_mode="box_size",
                                out_dir=str(tmp_path)))
    with pytest.raises(ValueError, match=r"img0.png.*has no 'box_size'.*meta_keys"):
        _evaluate(metric, samples, dict(dataset_name="aflw"))
    samples[0]["box_size"] = 25.0  # as PackPoseInputs(meta_keys=(..., 'box_size')) packs it
    metric.results.clear()
    assert _evaluate(metric, samples, dict(dataset_name="aflw"))["NME"] == pytest.approx(0.2)


def test_unknown_dataset_needs_explicit_points(tmp_path):
    metric = METRICS.build(dict(type="FaceAlignmentMetric", out_dir=str(tmp_path)))
    gt = np.zeros((1, 4, 2))
    with pytest.raises(ValueError, match="set norm_indices"):
        _evaluate(metric, _samples(gt, gt, np.ones((1, 4))), dict(dataset_name="mine"))
    with pytest.raises(ValueError, match="norm_mode must be one of"):
        METRICS.build(dict(type="FaceAlignmentMetric", norm_mode="eyes"))


def test_300w_subsets_from_one_run_match_separate_runs(tmp_path):
    """common / challenging / full from one evaluation of the full set == evaluating each
    subset alone; each subset also gets AUC and FR; the metrics json names them all."""
    import json

    rng = np.random.default_rng(3)
    paths = ([f"data/300w/images/helen/testset/{i}.jpg" for i in range(5)]
             + [f"data/300w/images/lfpw/testset/{i}.png" for i in range(4)]
             + [f"data/300w/images/ibug/image_{i}.jpg" for i in range(3)])
    n = len(paths)
    gt = rng.uniform(0, 200, (n, 68, 2))
    pred = gt + rng.normal(0, 4, gt.shape) * np.linspace(0.5, 3, n)[:, None, None]
    vis = np.ones((n, 68))
    meta = dict(dataset_name="300w")
    res = _evaluate(METRICS.build(dict(type="FaceAlignmentMetric", subsets="300w",
                                       out_dir=str(tmp_path / "one"))),
                    _samples(pred, gt, vis, paths=paths), meta)
    for name, idx in (("common", slice(0, 9)), ("challenging", slice(9, 12))):
        alone = _evaluate(METRICS.build(dict(type="FaceAlignmentMetric",
                                             out_dir=str(tmp_path / name))),
                          _samples(pred[idx], gt[idx], vis[idx], paths=paths[idx]), meta)
        for key in ("NME", "AUC@0.08", "FR@0.1"):
            assert res[f"{key}/{name}"] == pytest.approx(alone[key], rel=1e-12)
    want = hand_nme(pred, gt, vis, np.linalg.norm(gt[:, 36] - gt[:, 45], axis=-1))
    assert res["NME"] == pytest.approx(want.mean())
    saved = json.loads((tmp_path / "one" / "face_alignment_metrics.json").read_text())
    assert saved["num_images"] == {"all": 12, "common": 9, "challenging": 3}
    assert saved["metrics"]["NME/challenging"] == res["NME/challenging"]
    header = next(csv.reader((tmp_path / "one" / "ced.csv").open()))
    assert header == ["nme_threshold", "fraction_of_images", "fraction_of_images/common",
                      "fraction_of_images/challenging"]


def test_300vw_category_presets_match_both_path_layouts():
    from aan_components.evaluation.face_alignment_metric import SUBSET_PRESETS

    cats = SUBSET_PRESETS["300vw"]
    import re

    def which(path):
        return [c for c, p in cats.items() if re.search(p, path)]

    assert which("data/300vw/images/410/000001.jpg") == ["category3"]
    assert which("data/300vw/410/imgs/000001.jpg") == ["category3"]  # MMPose's layout
    assert which("data/300vw/images/114/000010.jpg") == ["category1"]
    assert which("data/300vw/images/001/000001.jpg") == []  # a training video
    assert which("data/4100/images/001/000001.jpg") == []


def test_bad_subset_config_is_named():
    with pytest.raises(ValueError, match="unknown preset '300x'"):
        METRICS.build(dict(type="FaceAlignmentMetric", subsets="300x"))
    with pytest.raises(ValueError, match=r"subsets\['a'\]: bad regex"):
        METRICS.build(dict(type="FaceAlignmentMetric", subsets={"a": "("}))


def test_normalisation_distance_follows_the_protocols():
    """Outer eye corners and eye centres per dataset, explicit points, box sizes passed on.
    Wrong inputs caught: an unknown mode, an unknown dataset without points, a box mode
    without sizes."""
    rng = np.random.default_rng(1)
    gt = rng.uniform(0, 100, (3, 68, 2))
    np.testing.assert_allclose(normalisation_distance(gt, "inter_ocular", "300w"),
                               np.linalg.norm(gt[:, 36] - gt[:, 45], axis=-1))
    np.testing.assert_allclose(
        normalisation_distance(gt, "inter_pupil", "300w"),
        np.linalg.norm(gt[:, 36:42].mean(1) - gt[:, 42:48].mean(1), axis=-1))
    np.testing.assert_allclose(normalisation_distance(gt, "inter_ocular", "mine", (0, 1)),
                               np.linalg.norm(gt[:, 0] - gt[:, 1], axis=-1))
    assert normalisation_distance(gt, "box_area", box_sizes=[1, 2, 3]).tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="norm_mode must be one of"):
        normalisation_distance(gt, "eyes", "300w")
    with pytest.raises(ValueError, match="no default inter_pupil points for dataset 'mine'"):
        normalisation_distance(gt, "inter_pupil", "mine")
    with pytest.raises(ValueError, match="needs each image's box size"):
        normalisation_distance(gt, "box_size", "aflw")


@pytest.mark.parametrize("norm_mode", ["inter_ocular", "box_area"])
def test_demo_baseline_is_normalised_as_the_test_metric(norm_mode, tmp_path):
    """``aan demo``'s mean-shape NME equals what the test evaluator reports for the same
    predictions (it calls the metric's normalisation with box sizes, no result dicts).
    Catches a baseline normalised differently from the model's test NME."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from aan_components.tools.demo import mean_shape_nme

    repo = Path(__file__).resolve().parents[1]
    cfg = Config.fromfile(str(repo / "mm_configs" / "aan_synthetic.py"))
    cfg.train_dataloader.dataset.num_samples = 6
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.test_dataloader.dataset.update(num_samples=5, cache=False)
    cfg.test_evaluator = dict(type="FaceAlignmentMetric", norm_mode=norm_mode,
                              out_dir=str(tmp_path))
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    test_ds = runner.test_dataloader.dataset
    metric = runner.test_evaluator.metrics[0]
    metric.dataset_meta = test_ds.metainfo
    baseline = mean_shape_nme(runner, train_samples=6)

    train_ds = runner.train_dataloader.dataset
    mean = np.mean([train_ds[i]["data_samples"].gt_instance_labels.keypoint_labels[0].numpy()
                    for i in range(6)], axis=0)
    samples = []
    for i in range(len(test_ds)):
        sample = test_ds[i]["data_samples"]
        pred = (np.asarray(sample.metainfo["input_center"])
                + (mean - 0.5) * np.asarray(sample.metainfo["input_scale"]))
        packed = sample.to_dict()
        packed["pred_instances"] = dict(keypoints=pred[None])
        samples.append(packed)
    metric.process([], samples)
    assert baseline == pytest.approx(metric.compute_metrics(metric.results)["NME"], rel=1e-9)
