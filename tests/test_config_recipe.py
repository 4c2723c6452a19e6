"""The shipped configs: one ``_base_`` recipe under every dataset config, found from a checkout
(``mm_configs``, what ``mim train mmpose mm_configs/aan_300w.py`` reads) and through
:func:`aan_components.config_path`, with the values they had before the recipe."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from conftest import REPO
from mmengine.config import Config

from aan_components import CONFIG_DIR, config_path
from aan_components.models.aan_pose_estimator import resolve_head_sizes

SHIPPED = sorted(p.stem for p in (REPO / "mm_configs").glob("*.py"))
DATA = Path(__file__).parent / "data"
# every config's resolved values before the recipe (main at 494f5ec, mmengine 0.10.7)
BEFORE = json.loads((DATA / "config_values_before_recipe.json").read_text())
# the configs added after it, before the heads were sized with 'auto' (b867c9a)
BEFORE_AUTO_SIZES = json.loads((DATA / "config_values_before_auto_sizes.json").read_text())
# every shipped config's values before _base_ was split into fragments (9b423b8): all of them
BEFORE_FRAGMENTS = json.loads((DATA / "config_values_before_fragments.json").read_text())
DATASET_CONFIGS = ("aan_300w", "aan_aflw", "aan_celeba", "aan_300vw")
FRAGMENTS = sorted(p.relative_to(CONFIG_DIR / "_base_").as_posix()
                   for p in (CONFIG_DIR / "_base_").rglob("*.py"))
# configs added after the snapshot (tests/test_cpu_switch.py checks them)
ADDED_AFTER_SNAPSHOT = ("aan_300w_cpu", "aan_300w_cpu_aug", "aan_300w_cpu_batchaug",
                        "aan_300w_cpu_no-attention",
                        "aan_300w_cpu_no-both", "aan_300w_cpu_no-embedding",
                        "resnet50-regression_300w_cpu_aug", "aan_timm-resnet18_300w_cpu")
# configs added after the fragments' snapshot, each checked by a test of its own:
# aan_300w_cpu_fast by tests/test_fast_config.py (the fast-recipe study's pick, as it trained)
ADDED_AFTER_FRAGMENTS = ("aan_300w_cpu_fast",)
SNAPSHOT = [n for n in SHIPPED if n not in ADDED_AFTER_FRAGMENTS]


def resolved(name: str) -> dict:
    """A config's values as the model sees them: the head's ``'auto'`` sizes resolved (what
    ``AANPoseEstimator`` builds), so configs compare by value, not by how they are written."""
    cfg = Config.fromfile(str(REPO / "mm_configs" / f"{name}.py"), import_custom_modules=False)
    values = cfg.to_dict()
    values["model"] = resolve_head_sizes(values["model"])
    return json.loads(json.dumps(values, default=repr))


def sized_by_backbone(before: dict) -> dict:
    """``before`` with the AAN configs' estimator as it is now: ``AANPoseEstimator`` (a
    ``TopdownPoseEstimator`` that fills the head's ``'auto'`` sizes; the sizes themselves
    must resolve to the values ``before`` typed)."""
    after = copy.deepcopy(before)
    if (after["model"]["type"] == "TopdownPoseEstimator"
            and after["model"]["backbone"]["type"] == "AANBackbone"):
        after["model"]["type"] = "AANPoseEstimator"
    after["model"] = json.loads(json.dumps(resolve_head_sizes(after["model"])))
    return after


def attention_named(before: dict) -> dict:
    """``before`` with its backbone's attention booleans (``attention``, ``attention_relu``)
    as the attention form they build (``'aan'``, ``'aan-norelu'``, ``'none'``)."""
    after = copy.deepcopy(before)
    backbone = after["model"]["backbone"]
    if isinstance(backbone.get("attention"), bool):
        relu = backbone.pop("attention_relu", True)
        backbone["attention"] = ("aan" if relu else "aan-norelu") if backbone["attention"] \
            else "none"
    return after


def intended_changes(before: dict) -> dict:
    """The values ``before`` should have now: the five intended changes applied.

    1. ``custom_imports``: ``aan_components`` -> ``aan_components.plugin``.
    2. The Caffe-scale L2 loss: ``MSELoss(loss_weight=K)`` -> ``EuclideanLoss`` (which
       reads K from the prediction); the old ``loss_weight`` must have been the config's K.
    3. The synthetic configs no longer carry 300W's unused ``data_root`` variable.
    4. The synthetic configs (the CPU demo) train with the CPU switch: bf16 autocast with
       fused Adam, channels-last weights, the cores split between model and loader.
    5. The timm backbones put attention inside their stages (``placement='in_stage'``;
       before, only the returned maps were gated).
    6. The AAN configs size their heads from the backbone (:func:`sized_by_backbone`).
    7. The backbones name their attention form (``attention='aan'`` / ``'none'``, see
       ``aan_core.create_attention``) instead of the booleans ``attention`` and
       ``attention_relu``.
    """
    after = copy.deepcopy(before)
    after["custom_imports"]["imports"] = ["aan_components.plugin"]
    head = after["model"]["head"]
    loss = head["loss"]["loss"] if head["loss"]["type"] == "IntermediateSupervisionLoss" \
        else head["loss"]
    assert loss["type"] == "MSELoss" and loss.pop("loss_weight") == head["num_joints"]
    loss["type"] = "EuclideanLoss"
    if after.get("dataset_type") == "SyntheticFaceDataset":
        assert after.pop("data_root") == "data/300w/"
        assert after["optim_wrapper"] == {"optimizer": {"type": "Adam", "lr": 0.001,
                                                        "weight_decay": 0.001}}
        after["optim_wrapper"] = {"type": "BF16AutocastOptimWrapper",
                                  "optimizer": {"type": "Adam", "lr": 0.001,
                                                "weight_decay": 0.001, "fused": True}}
        after["default_hooks"]["channels_last"] = {"type": "ChannelsLastHook"}
        after["default_hooks"]["cpu_threads"] = {"type": "CPUThreadsHook"}
    if after["model"]["backbone"]["type"] == "TimmAttentionBackbone":
        assert "placement" not in after["model"]["backbone"]
        after["model"]["backbone"]["placement"] = "in_stage"
    return sized_by_backbone(attention_named(after))


# The recommended CPU recipes train without attention since the attention study's part (c)
# (docs/studies.md "Why attention costs"); the paper-literal configs keep the paper's gate.
NO_ATTENTION_BY_EVIDENCE = ("aan_300w_cpu_aug", "aan_300w_cpu_batchaug")
PAPER_LITERAL = ("aan_300w", "aan_aflw", "aan_celeba", "aan_300vw", "aan_300w_cpu")


# The timm variants attend with timm's SE, the form that beat none inside timm's resnet18 (the
# attention study's part (d)); their ablation twins keep none.
SE_BY_EVIDENCE = tuple(sorted(n for n in SHIPPED
                              if n.startswith("aan_timm-") and not n.endswith("_no-attention")))
# The per-sample augmented recipe trains with the L1 loss the real-face study measured better
# (docs/studies.md "Real faces: 300W"), as the batch-augmented recipe did from the start.
L1_BY_EVIDENCE = ("aan_300w_cpu_aug",)
L1_LOSS = {"type": "L1Loss", "use_target_weight": True, "loss_weight": 136}


# The batch-augmented recipe shuffles the channel order of half the faces, which the
# batch-augmentation study picked (docs/studies.md "Real faces: 300W"); before, it had no
# such setting (RandomFaceBatchAugment's default: none).
CHANNELS_BY_EVIDENCE = ("aan_300w_cpu_batchaug",)
# the same training batch, draw for draw, augmented from its pixels at less cost
# (tests/test_pixel_batch_augment_preprocessor.py)
PIXEL_PREPROCESSOR = ("aan_300w_cpu_batchaug",)


def evidence_applied(name: str, before: dict) -> dict:
    """``before`` with the studies' decisions applied: ``attention='none'`` in the recommended
    CPU recipes and ``'se'`` in the timm variants (the gate they had before was the paper's),
    the L1 loss in the per-sample one (it had the recipe's L2, ``EuclideanLoss``), and the
    channel shuffle in the batch-augmented one, whose data preprocessor then became
    ``PixelBatchAugmentPreprocessor`` (the same batch at less cost)."""
    after = copy.deepcopy(before)
    if name in PIXEL_PREPROCESSOR:
        preprocessor = after["model"]["data_preprocessor"]
        assert preprocessor["type"] == "PoseDataPreprocessor"
        preprocessor["type"] = "PixelBatchAugmentPreprocessor"
    if name in CHANNELS_BY_EVIDENCE:
        augment = after["model"]["data_preprocessor"]["batch_augments"][0]
        assert "channel_shuffle_p" not in augment
        augment["channel_shuffle_p"] = 0.5
    if name in NO_ATTENTION_BY_EVIDENCE:
        assert after["model"]["backbone"]["attention"] == "aan"
        after["model"]["backbone"]["attention"] = "none"
    if name in SE_BY_EVIDENCE:
        assert after["model"]["backbone"]["attention"] == "aan"
        after["model"]["backbone"]["attention"] = "se"
    if name in L1_BY_EVIDENCE:
        loss = after["model"]["head"]["loss"]
        assert loss["loss"] == {"type": "EuclideanLoss", "use_target_weight": True}
        loss["loss"] = dict(L1_LOSS)
    return after


def test_recommended_recipes_drop_attention_and_paper_configs_keep_it():
    assert all(resolved(n)["model"]["backbone"]["attention"] == "none"
               for n in NO_ATTENTION_BY_EVIDENCE)
    assert all(resolved(n)["model"]["backbone"]["attention"] == "aan" for n in PAPER_LITERAL)


def test_timm_variants_attend_with_se_and_their_twins_without():
    assert len(SE_BY_EVIDENCE) == 5  # four backbones at 256 px and the CPU resnet18
    assert all(resolved(n)["model"]["backbone"]["attention"] == "se" for n in SE_BY_EVIDENCE)
    assert all(resolved(f"{n}_no-attention")["model"]["backbone"]["attention"] == "none"
               for n in SE_BY_EVIDENCE if not n.endswith("_cpu"))


def test_recommended_recipes_train_with_l1_and_paper_configs_keep_l2():
    """Both augmented CPU recipes use the L1 loss (the same loss, so that their runs compare
    the data paths); the paper-literal configs keep the paper's L2."""
    for name in ("aan_300w_cpu_aug", "aan_300w_cpu_batchaug", "aan_300w_cpu_fast"):
        assert resolved(name)["model"]["head"]["loss"]["loss"] == L1_LOSS, name
    for name in PAPER_LITERAL:
        assert resolved(name)["model"]["head"]["loss"]["loss"]["type"] == "EuclideanLoss", name


def test_every_config_was_in_the_snapshot():
    assert sorted(BEFORE) == sorted(set(SNAPSHOT) - set(ADDED_AFTER_SNAPSHOT))


@pytest.mark.parametrize("name", sorted(set(SNAPSHOT) - set(ADDED_AFTER_SNAPSHOT)))
def test_config_values_unchanged_but_the_intended(name):
    """Model, schedule, data and metric settings of every shipped config equal their values
    before the recipe, but for the intended changes. Wrong input caught: a setting the
    recipe lost or changed (e.g. AFLW's num_joints back at 68, a dataloader's batch size,
    the 300W evaluators on AFLW)."""
    assert resolved(name) == evidence_applied(name, intended_changes(BEFORE[name]))


def test_the_later_configs_were_in_their_snapshot():
    assert sorted(BEFORE_AUTO_SIZES) == sorted(ADDED_AFTER_SNAPSHOT)


@pytest.mark.parametrize("name", ADDED_AFTER_SNAPSHOT)
def test_later_config_values_unchanged_by_auto_sizes(name):
    """The configs added after the recipe's snapshot resolve to the values they had before
    their heads were sized with ``'auto'`` and their attention named: the same channels and
    map sizes (their crop at 128 px, the ResNet stem) as the sizes typed before."""
    assert resolved(name) == evidence_applied(
        name, sized_by_backbone(attention_named(BEFORE_AUTO_SIZES[name])))


@pytest.mark.parametrize("name", DATASET_CONFIGS)
def test_dataset_configs_start_from_the_recipe(name):
    text = (CONFIG_DIR / f"{name}.py").read_text()
    assert "_base_ = ['./_base_/aan_recipe.py']" in text
    assert "loss_weight" not in text  # the loss owns its scale


def test_every_config_was_in_the_fragments_snapshot():
    assert sorted(BEFORE_FRAGMENTS) == SNAPSHOT


@pytest.mark.parametrize("name", SNAPSHOT)
def test_config_values_unchanged_by_the_fragments(name):
    """Every shipped config resolves to exactly its values before ``_base_`` was split into
    fragments (model, dataset, schedule, runtime, CPU switch). Wrong input caught: a value a
    fragment lost, moved or changed (e.g. the recipe's lr, a hook the CPU switch dropped,
    the synthetic demo's batch size)."""
    assert resolved(name) == evidence_applied(name, BEFORE_FRAGMENTS[name])


def test_synthetic_demo_composes_the_cpu_switch_from_fragments():
    text = (CONFIG_DIR / "aan_synthetic.py").read_text()
    assert ("_base_ = ['./_base_/cpu_switch.py', './_base_/models/aan.py', "
            "'./_base_/datasets/face_topdown.py']") in text
    assert "BF16AutocastOptimWrapper" not in text  # the switch says it, once


def test_cpu_switch_is_the_paper_schedule_with_the_switch_on():
    """``_base_/cpu_switch.py`` changes exactly the optimiser wrapper (bf16 autocast, fused
    Adam) and adds the channels-last and CPU-thread hooks: nothing of the schedule itself."""
    base = CONFIG_DIR / "_base_"
    paper = Config.fromfile(str(base / "schedules" / "paper_50k.py"),
                            import_custom_modules=False).to_dict()
    switch = Config.fromfile(str(base / "cpu_switch.py"), import_custom_modules=False).to_dict()
    assert switch["optim_wrapper"] == {"type": "BF16AutocastOptimWrapper", "optimizer": {
        **paper["optim_wrapper"]["optimizer"], "fused": True}}
    assert switch["default_hooks"] == {**paper["default_hooks"],
                                       "channels_last": {"type": "ChannelsLastHook"},
                                       "cpu_threads": {"type": "CPUThreadsHook"}}
    for key in set(paper) | set(switch):
        if key not in ("optim_wrapper", "default_hooks"):
            assert switch[key] == paper[key], key


@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_every_fragment_is_a_base_of_a_shipped_config(fragment):
    """No fragment lies unused: each is named by a shipped config or by another fragment
    that is (the composition the configs README describes)."""
    texts = [p.read_text() for p in CONFIG_DIR.rglob("*.py")]
    name = fragment.rsplit("/", 1)[-1]
    assert any(f"/{name}'" in text or f"'{name}'" in text
               for text in texts if "_base_ = [" in text), fragment


def test_mm_configs_of_the_checkout_are_the_shipped_configs():
    """``mim train mmpose mm_configs/aan_300w.py`` from the checkout reads the very files the
    wheel ships (``mm_configs`` links to ``aan_components/configs``)."""
    assert (REPO / "mm_configs").resolve() == CONFIG_DIR
    assert (REPO / "aan_components" / "configs").resolve() == CONFIG_DIR
    cfg = Config.fromfile(str(REPO / "mm_configs" / "aan_300w.py"))  # relative path too
    assert cfg.model.head.num_joints == 68
    assert config_path("aan_300w") == CONFIG_DIR / "aan_300w.py"
    assert config_path("aan_300w.py") == config_path("aan_300w")


def test_config_path_names_the_shipped_configs_for_an_unknown_name():
    with pytest.raises(FileNotFoundError,
                       match="the shipped configs: aan_300vw, .*, aan_300w, .*aan_300w_gpu"):
        config_path("aan_300x")
