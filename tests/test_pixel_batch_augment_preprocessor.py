"""aan_components/models/pixel_batch_augment_preprocessor.py: the training batch augmented
from its pixels equals MMPose's PoseDataPreprocessor + RandomFaceBatchAugment, draw for draw;
validation batches are PoseDataPreprocessor's; what does not fit is refused at build."""

from __future__ import annotations

import copy

import pytest
import torch
from mmengine.structures import InstanceData
from mmpose.structures import PoseDataSample

pytest.importorskip("kornia")

from mmpose.registry import MODELS  # noqa: E402

import aan_components.models  # noqa: E402,F401  (registers the classes)

MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
FLIP = [1, 0, 2, 4, 3]
AUGMENT = dict(type="RandomFaceBatchAugment", mean=MEAN, std=STD, flip=True,
               output_size=(48, 48), degrees=25.0, translate=0.06, scale=(0.87, 1.11),
               color=(0.125, 0.5, 0.0, 0.0), color_p=0.75, gamma=(1.0, 1.0), blur_p=0.0,
               noise_std=0.0, channel_shuffle_p=0.5)


def _preprocessor(kind: str, bgr_to_rgb: bool = True, **augment):
    return MODELS.build(dict(type=kind, mean=MEAN, std=STD, bgr_to_rgb=bgr_to_rgb,
                             batch_augments=[dict(AUGMENT, **augment)]))


def _data(batch: int = 5, size: int = 72) -> dict:
    """Crops as a crop cache serves them: uint8, BGR, one size; labels in [0, 1]."""
    gen = torch.Generator().manual_seed(0)
    # a different level per channel, so that a channel order mistake shows
    crops = [(torch.rand(3, size, size, generator=gen) * 120
              + torch.tensor([0.0, 60.0, 120.0]).view(3, 1, 1)).to(torch.uint8)
             for _ in range(batch)]
    samples = [PoseDataSample(metainfo=dict(flip_indices=FLIP), gt_instance_labels=InstanceData(
        keypoint_labels=0.3 + 0.4 * torch.rand(1, 5, 2, generator=gen),
        keypoint_weights=torch.ones(1, 5))) for _ in range(batch)]
    return dict(inputs=crops, data_samples=samples)


def _run(pre, data: dict, training: bool = True, seed: int = 3):
    torch.manual_seed(seed)
    return pre(copy.deepcopy(data), training=training)


def test_training_batch_equals_posedatapreprocessor_then_the_augmentation():
    """Same draws (seed), same crops: images within float rounding (of a normalised range
    of about 4.4), labels, weights and metainfo equal."""
    data = _data()
    theirs = _run(_preprocessor("PoseDataPreprocessor"), data)
    mine = _run(_preprocessor("PixelBatchAugmentPreprocessor"), data)
    assert mine["inputs"].shape == theirs["inputs"].shape == (5, 3, 48, 48)
    torch.testing.assert_close(mine["inputs"], theirs["inputs"], atol=1e-4, rtol=0)
    for a, b in zip(mine["data_samples"], theirs["data_samples"], strict=True):
        torch.testing.assert_close(a.gt_instance_labels.keypoint_labels,
                                   b.gt_instance_labels.keypoint_labels)
        torch.testing.assert_close(a.gt_instance_labels.keypoint_weights,
                                   b.gt_instance_labels.keypoint_weights)
        assert a.batch_input_shape == b.batch_input_shape == (72, 72)
        assert a.pad_shape == b.pad_shape


def test_a_wrong_channel_order_is_caught():
    """The equality above is not loose: without the channel reversal (bgr_to_rgb off on
    this side only) the images differ by far more than its tolerance."""
    data = _data()
    theirs = _run(_preprocessor("PoseDataPreprocessor"), data)
    wrong = _run(_preprocessor("PixelBatchAugmentPreprocessor", bgr_to_rgb=False), data)
    assert (wrong["inputs"] - theirs["inputs"]).abs().max() > 0.5


def test_validation_batches_are_posedatapreprocessors():
    data = _data()
    theirs = _run(_preprocessor("PoseDataPreprocessor"), data, training=False)
    mine = _run(_preprocessor("PixelBatchAugmentPreprocessor"), data, training=False)
    assert mine["inputs"].shape == (5, 3, 72, 72)
    torch.testing.assert_close(mine["inputs"], theirs["inputs"], atol=0, rtol=0)


@pytest.mark.parametrize("change, message", [
    (dict(batch_augments=None), "one augmentation that takes pixels"),
    (dict(batch_augments=[AUGMENT, AUGMENT]), "one augmentation that takes pixels"),
    (dict(batch_augments=[dict(AUGMENT, std=[1.0, 1.0, 1.0])]), "batch_augments[0].std"),
    (dict(mean=None, std=None), "mean and std are required"),
    (dict(pad_size_divisor=32), "pad_size_divisor must be 1"),
])
def test_what_does_not_fit_is_refused_at_build(change, message):
    cfg = dict(type="PixelBatchAugmentPreprocessor", mean=MEAN, std=STD, bgr_to_rgb=True,
               batch_augments=[AUGMENT])
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        MODELS.build(dict(cfg, **change))


def test_crops_of_several_sizes_are_refused():
    data = _data()
    data["inputs"][1] = data["inputs"][1][:, :64, :64]
    with pytest.raises(ValueError, match=r"one size.*\(3, 64, 64\), \(3, 72, 72\)"):
        _run(_preprocessor("PixelBatchAugmentPreprocessor"), data)
