"""The paper's configs (300W, AFLW, CelebA, 300VW, Table 5 ablations, the ResNet-50 regression
baseline): the paper's hyper-parameters, and every one trains 2 iterations and tests on real
fixture data (CelebA: a tiny archive in its raw format, converted)."""

from __future__ import annotations

import pytest
from conftest import REPO
from fixture_nme import hand_nme, record_predictions
from fixture_runs import fixture_overrides
from mmengine.config import Config
from mmengine.runner import Runner
from raw_archives import make_celeba

from aan_components.cli import main as aan

DATASETS = ("300w", "aflw", "celeba", "300vw")
ABLATIONS = ("no-attention", "no-embedding", "no-both")
AAN_CONFIGS = [f"aan_{d}" for d in DATASETS] + [f"aan_{d}_{a}" for d in ("aflw", "300vw")
                                                for a in ABLATIONS]
NUM_JOINTS = {"300w": 68, "aflw": 19, "celeba": 5, "300vw": 68}
HAND_NORM = {"300w": "inter_ocular", "aflw": "box_size", "celeba": "eye_centres",
             "300vw": "inter_ocular"}


def load(name: str) -> Config:
    return Config.fromfile(str(REPO / "mm_configs" / f"{name}.py"))


@pytest.mark.parametrize("name", AAN_CONFIGS)
def test_paper_hyper_parameters(name):
    """Sec. 4.2: Adam, lr 1e-3 -> 1e-4 -> 1e-5 at 25k / 40k iterations, weight decay 1e-3,
    batch 64, four residual + attention blocks with four poolings, intermediate supervision
    on every block, embedding width 256, no data augmentation."""
    cfg = load(name)
    dataset = name.split("_")[1]
    assert cfg.optim_wrapper.optimizer == dict(type="Adam", lr=1e-3, weight_decay=1e-3)
    (sched,) = cfg.param_scheduler
    assert sched.type == "MultiStepLR" and sched.milestones == [25000, 40000]
    assert sched.gamma == 0.1 and sched.by_epoch is False
    assert cfg.train_dataloader.batch_size == 64
    backbone, head = cfg.model.backbone, cfg.model.head
    assert backbone.type == "AANBackbone" and len(backbone.stage_channels) == 4
    assert backbone.blocks_per_stage == 1 and backbone.out_indices == (0, 1, 2, 3)
    from aan_components.models.aan_pose_estimator import resolve_head_sizes
    in_channels = resolve_head_sizes(cfg.model.to_dict())["head"]["in_channels"]
    assert tuple(in_channels) == tuple(backbone.stage_channels)  # a branch per block
    assert head.loss.type == "IntermediateSupervisionLoss"
    assert head.loss.stage_weights == (1.0, 1.0, 1.0, 1.0) and head.loss.final_weight == 1.0
    assert head.num_joints == NUM_JOINTS[dataset]
    assert backbone.attention == ("none" if "no-attention" in name or "no-both" in name
                                  else "aan")
    want_embedding = None if ("no-embedding" in name or "no-both" in name) else 256
    assert head.embedding_dim == want_embedding
    augmenting = {"RandomFlip", "RandomBBoxTransform", "RandomHalfBody", "PhotometricDistortion",
                  "Albumentation", "YOLOXHSVRandomAug"}
    assert not augmenting & {t["type"] for t in cfg.train_dataloader.dataset.pipeline}


@pytest.mark.parametrize("name", AAN_CONFIGS + ["aan_synthetic"])
def test_regressor_inputs_and_stem_chosen_from_the_study(name):
    """The choices docs/studies.md's "Table 5 on synthetic faces" made from its runs: flattened maps
    (the paper's wording read literally) for the head and every branch, with the sizes the
    backbone really produces at the config's input size (a wrong size fails at the first
    forward), and the ResNet stem (stem_stride=4). Catches a config left on 'gap' or one
    whose feature_sizes do not follow its input_size (aan_synthetic: 128 px)."""
    import torch

    from aan_components.models.aan_pose_estimator import resolve_head_sizes
    from aan_core import AANFeatureExtractor

    cfg = load(name)
    backbone, head = cfg.model.backbone, cfg.model.head
    assert (head.final_input, head.branch_input) == ("flatten", "flatten")
    assert backbone.stem_stride == 4
    net = AANFeatureExtractor(stem_channels=4, stem_stride=backbone.stem_stride,
                              stage_channels=(4, 4, 4, 4))
    width, height = cfg.codec.input_size
    with torch.no_grad():
        maps = net(torch.zeros(1, 3, height, width))
    sizes = resolve_head_sizes(cfg.model.to_dict())["head"]["feature_sizes"]
    assert [tuple(s) for s in sizes] == [tuple(m.shape[2:]) for m in maps]


def test_normalisation_per_dataset():
    """The paper's NME normalisation: box size (AFLW), eye centres (CelebA), inter-ocular and
    inter-pupil both for 300W, with its subsets; 300VW categories."""
    assert load("aan_aflw").test_evaluator.norm_mode == "box_size"
    celeba = load("aan_celeba").test_evaluator
    assert celeba.norm_mode == "inter_ocular" and tuple(celeba.norm_indices) == (0, 1)
    w300 = load("aan_300w").test_evaluator
    assert [e["norm_mode"] for e in w300] == ["inter_ocular", "inter_pupil"]
    assert all(e["subsets"] == "300w" for e in w300)
    assert load("aan_300vw").test_evaluator.subsets == "300vw"


@pytest.fixture(scope="module")
def converted(tmp_path_factory, fixtures_dir):
    """Fixture data in each config's layout: ``{dataset: (root, ann_file, image prefix)}``."""
    root = tmp_path_factory.mktemp("converted")
    make_celeba(root / "celeba_raw", n=6)
    aan(["convert", "celeba", str(root / "celeba_raw"), str(root / "celeba")])
    aan(["convert", "300vw", str(fixtures_dir / "300vw"), str(root / "300vw")])
    return {
        "300w": (fixtures_dir / "300w", "test_300w.json", ""),
        "aflw": (fixtures_dir / "aflw", "test_aflw.json", ""),
        "celeba": (root / "celeba", "annotations/face_landmarks_celeba_test.json", "images/"),
        "300vw": (root / "300vw", "annotations/face_landmarks_300vw_test.json", "images/"),
    }


@pytest.mark.slow  # trains with mmengine's Runner
@pytest.mark.parametrize("name", [*AAN_CONFIGS, "resnet50-regression_300w"])
def test_trains_two_iterations_and_tests(name, converted, tmp_path):
    dataset = name.split("_")[1]
    cfg = load(name)
    data_dir, ann_file, img_prefix = converted[dataset]
    cfg.merge_from_dict(fixture_overrides(data_dir, ann_file, iters=2, img_prefix=img_prefix))
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    seen = record_predictions(runner.test_loop)
    metrics = runner.test()
    assert (tmp_path / "iter_2.pth").is_file()
    # NME by hand from the json the run tested on (wrong input caught: ground truth 1 px
    # off; the square box for AFLW is caught by the test below, as MMPose's fixture json
    # has box_size = its square's side)
    assert metrics["NME"] == pytest.approx(
        hand_nme(seen, data_dir / ann_file, HAND_NORM[dataset]), rel=1e-5)
    if dataset == "300vw":
        assert metrics["NME/category1"] == pytest.approx(metrics["NME"])  # fixture: video 401
    if name == "aan_300w":
        assert "inter_pupil/NME" in metrics
    assert list(tmp_path.glob("*/face_alignment_metrics*.json"))


def test_aflw_nme_is_normalised_by_the_annotation_box_size(tmp_path):
    """AFLW's NME divides by the annotation's ``box_size`` (sqrt(w * h) of the .mat box), end
    to end: ``aan convert aflw`` -> MMPose's ``AFLWDataset`` -> the config's test pipeline ->
    the config's metric. The test faces get a 1.5 : 1 box, so box_size (sqrt(w * h)) differs
    from the square box MMPose builds from center/scale (the longer side). Predictions are the
    ground truth moved by (3, 4) px: NME = mean over faces of 5 / box_size, by hand.
    Wrong input caught: the config's pipeline without 'box_size' in PackPoseInputs' meta_keys
    (the metric then errors; before, it silently used the longer side: 5 / (1.5 s) per face)."""
    import numpy as np
    from mmpose.registry import DATASETS, METRICS
    from raw_archives import make_aflw
    from scipy.io import savemat

    raw, out = tmp_path / "raw", tmp_path / "out"
    mat = make_aflw(raw)
    boxes = mat["bbox"].copy()  # x1 x2 y1 y2
    cx = boxes[:, :2].mean(1)
    side = boxes[:, 1] - boxes[:, 0]
    boxes[:, 0], boxes[:, 1] = cx - 0.75 * side, cx + 0.75 * side  # width 1.5 * side
    mat["bbox"] = boxes
    savemat(raw / "AFLWinfo_release.mat", mat)
    aan(["convert", "aflw", str(raw), str(out), "--num-train", "2"])
    cfg = load("aan_aflw")
    ds_cfg = dict(cfg.test_dataloader.dataset, data_root=str(out),
                  ann_file="annotations/face_landmarks_aflw_test.json")
    dataset = DATASETS.build(ds_cfg)
    samples, by_hand = [], []
    for i in range(len(dataset)):
        sample = dataset[i]["data_samples"].to_dict()
        gt = sample["gt_instances"]["keypoints"]
        sample["pred_instances"] = dict(keypoints=gt + np.array([3.0, 4.0]))
        samples.append(sample)
        face = int(mat["ra"][0, 2 + i]) - 1  # ra = [3, 1, 4, 2]: test faces 4, 2 (1-based)
        w, h = boxes[face, 1] - boxes[face, 0], boxes[face, 3] - boxes[face, 2]
        by_hand.append(5.0 / np.sqrt(w * h))
        x1, y1, x2, y2 = np.asarray(sample["gt_instances"]["bboxes"]).reshape(4)
        assert x2 - x1 == pytest.approx(w, rel=1e-3) == y2 - y1  # MMPose's square box
        assert w > 1.4 * h  # its side (the longer side) is not box_size
    metric = METRICS.build(dict(cfg.test_evaluator, out_dir=str(tmp_path / "metric")))
    metric.dataset_meta = dataset.metainfo
    metric.process([], samples)
    nme = metric.compute_metrics(metric.results)["NME"]
    assert nme == pytest.approx(np.mean(by_hand), rel=1e-4)


@pytest.mark.parametrize("path", sorted((REPO / "mm_configs").glob("*.py")),
                         ids=lambda p: p.stem)
def test_no_checkpoint_is_chosen_on_the_test_data(path):
    """Every config reports its last checkpoint: no ``save_best``, and no validation before
    the end of training when validation runs on the test data (a best-on-test checkpoint
    would bias the reported NME down). Wrong input caught: the former aan_300w.py
    (``save_best='NME'``, ``val_interval=5000`` on the test json)."""
    cfg = Config.fromfile(str(path))
    assert cfg.default_hooks.checkpoint.get("save_best") is None
    assert cfg.default_hooks.checkpoint.get("save_last", True)
    same_data = cfg.val_dataloader.dataset.get("ann_file") == \
        cfg.test_dataloader.dataset.get("ann_file")
    if same_data:
        assert cfg.train_cfg.val_interval >= cfg.train_cfg.max_iters
