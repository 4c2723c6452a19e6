"""``mm_configs/aan_300w_cpu_fast.py`` is the recipe ``bench.fast_recipe_300w`` picked: the
arm with the lowest mean NME(IO) over the study's seeds (``best_arm`` on the recorded
results), with the options and calibrated iterations the study trained it with, so that
``mim train mmpose mm_configs/aan_300w_cpu_fast.py`` trains what the study measured."""

from __future__ import annotations

import json

from conftest import REPO
from mmengine.config import Config

from bench import fast_recipe_300w as fast
from bench.equal_time import arm_config, config_differences

RESULTS = REPO / "bench" / "results" / "fast_recipe_300w.json"


def picked_arm() -> tuple[str, str, list[str]]:
    """The study's pick, its config and options (a calibrated arm's, or the combined arm's)."""
    payload = json.loads(RESULTS.read_text())
    best = fast.best_arm(payload["runs"], payload["seeds"])
    assert best is not None, f"{RESULTS}: no arm has run on every seed yet"
    arm = best[0]
    planned = (payload["combined"] if arm == fast.COMBINED
               else payload["calibration"]["arms"][arm])
    return arm, planned["config"], planned["options"]


def test_fast_config_is_the_study_pick_as_it_trained():
    arm, config, options = picked_arm()
    shipped = Config.fromfile(str(REPO / fast.SHIPPED_CONFIG))
    assert config_differences(shipped, arm_config(config, options)) == [], arm


def test_a_config_that_differs_from_the_pick_is_caught():
    """Wrong input: the pick's config at another length, or without its fair start."""
    _, config, options = picked_arm()
    trained = arm_config(config, options)
    for wrong in (["train_cfg.max_iters=6000"], ["model.head.output_init=normal"]):
        assert config_differences(arm_config(config, [*options, *wrong]), trained)


def test_fast_config_keeps_the_pixel_preprocessor():
    """The study's first runs built the batch recipe with MMPose's PoseDataPreprocessor; the
    fast config inherits the batch recipe's PixelBatchAugmentPreprocessor (the same batch,
    draw for draw, at less cost: tests/test_pixel_batch_augment_preprocessor.py)."""
    cfg = Config.fromfile(str(REPO / fast.SHIPPED_CONFIG))
    assert cfg.model.data_preprocessor.type == "PixelBatchAugmentPreprocessor"
