"""bench.batch_augment_speed: the batch-augmentation study's data path, timed as it ran."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("kornia")

from bench import batch_augment_speed as speed  # noqa: E402
from bench.real_300w import BATCH_AUGMENT, GRID  # noqa: E402


def _augment(arm: str) -> dict:
    return speed.arm_cfg(arm).model.data_preprocessor.batch_augments[0]


def test_each_arm_is_timed_with_the_settings_its_runs_had():
    """The arms are the study's grid entries, not the config as it ships now: the reference
    ran without the channel shuffle the config has since taken, the zoom arm at 448 px with
    its halved zoom, every arm with MMPose's data preprocessor. Wrong input caught: the
    shipped config in place of the grid entry (its shuffle would be timed in the reference,
    its preprocessor in every arm)."""
    assert speed.ARMS[0] == "aan_batchaug_reference"
    assert "aan_batchaug_cache2x" not in speed.ARMS  # invalid: measured nothing declared
    assert _augment("aan_batchaug_reference")["channel_shuffle_p"] == 0.0
    assert _augment("aan_batchaug_channels")["channel_shuffle_p"] == 0.5
    from bench.equal_time import arm_config
    shipped = arm_config("mm_configs/aan_300w_cpu_batchaug.py")
    assert shipped.model.data_preprocessor.batch_augments[0]["channel_shuffle_p"] == 0.5
    assert speed.cache_size(speed.arm_cfg("aan_batchaug_reference")) == (224, 224)
    zoom = speed.arm_cfg("aan_batchaug_cache2x_zoom")
    assert speed.cache_size(zoom) == (448, 448)
    assert tuple(_augment("aan_batchaug_cache2x_zoom")["scale"]) == (0.435, 0.555)
    assert f"{BATCH_AUGMENT}.channel_shuffle_p=0.0" in \
        GRID["aan_batchaug_cache2x_zoom"][3]
    # the study's runs normalised the wide crops first (MMPose's preprocessor); the config
    # ships the one that augments from pixels, timed as one more row
    types = {a: speed.arm_cfg(a).model.data_preprocessor.type for a in speed.ARMS}
    assert types.pop(speed.FROM_PIXELS) == "PixelBatchAugmentPreprocessor"
    assert set(types.values()) == {"PoseDataPreprocessor"}
    assert shipped.model.data_preprocessor.type == "PixelBatchAugmentPreprocessor"
    assert _augment(speed.FROM_PIXELS)["channel_shuffle_p"] == 0.0  # the reference's settings


def test_table_estimates_each_arms_step_against_the_reference():
    """A step is the data path plus the model's: 20 + 230 ms for 32 faces is 128 images/s,
    80 + 230 ms is 103, 0.81x the reference's. Wrong input caught: the ratio of data paths
    alone (4x) would say nothing about training speed."""
    payload = dict(
        args=dict(batch=32, threads=1, rounds=1, batches=3, steps=3, out="x.json", tiny=False),
        environment=dict(cpu="Test CPU", cpu_count=2),
        arms={"aan_batchaug_reference": dict(cache_px=[224, 224], ms=[19.0, 20.0, 21.0]),
              "aan_batchaug_cache2x_zoom": dict(cache_px=[448, 448], ms=[80.0, 79.0, 90.0])},
        model_step=dict(ms=[230.0, 229.0, 231.0]))
    table = speed.results_markdown(payload)
    assert "| aan_batchaug_reference | 224x224 | 20.0 |  | 8% | 128 | 1.00x |" in table
    assert "| aan_batchaug_cache2x_zoom | 448x448 | 80.0 | +60.0 | 26% | 103 | 0.81x |" in table
    assert "230.0 ms (median of 3)." in table and "Load average" not in table
    busy = speed.results_markdown(dict(payload, load_average=[3.69, 3.7]))
    assert "Load average 3.69 before, 3.70 after: other work shared the machine" in busy
    quiet = speed.results_markdown(dict(payload, load_average=[1.2, 1.1]))
    assert "Load average" not in quiet  # the tool's own thread


def test_tiny_run_times_every_arm(tmp_path):
    out = tmp_path / "speed.json"
    speed.main(["--tiny", "--out", str(out)])
    payload = json.loads(out.read_text())
    assert list(payload["arms"]) == list(speed.ARMS)
    assert payload["arms"]["aan_batchaug_cache2x_zoom"]["cache_px"] == [448, 448]
    assert all(e["ms"] and min(e["ms"]) > 0 for e in payload["arms"].values())
    assert payload["model_step"]["ms"][0] > 0
    assert payload["environment"]["cpu"]
    assert out.with_suffix(".md").exists()
