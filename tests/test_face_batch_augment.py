"""RandomFaceBatchAugment: the regression targets follow the pixels exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData
from mmpose.structures import PoseDataSample

pytest.importorskip("kornia")

MEAN, STD, SIZE = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375], 96
# well apart, x != y (a swapped x/y would show), inside the crop under any drawn affine
POINTS = np.array([[30.0, 40.0], [62.5, 33.2], [47.3, 50.8], [35.6, 66.1], [64.4, 62.7]])


def _batch(points: np.ndarray, batch: int = 6, flip_indices: list[int] | None = None):
    """Images with one bright Gaussian spot per landmark, normalised, and their samples."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    spots = sum(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.2 ** 2)) for x, y in points)
    image = torch.from_numpy(255 * spots).float().expand(batch, 3, SIZE, SIZE)
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    samples = []
    for _ in range(batch):
        sample = PoseDataSample(
            metainfo={} if flip_indices is None else dict(flip_indices=flip_indices))
        sample.gt_instance_labels = InstanceData(
            keypoint_labels=torch.from_numpy(points / SIZE).float()[None],
            keypoint_weights=torch.ones(1, len(points)))
        samples.append(sample)
    return (image - mean) / std, samples


def _spot_centre(image: np.ndarray, x: float, y: float, r: int = 4) -> np.ndarray:
    x0, y0 = int(round(x)), int(round(y))
    win = image[y0 - r:y0 + r + 1, x0 - r:x0 + r + 1]
    yy, xx = np.mgrid[y0 - r:y0 + r + 1, x0 - r:x0 + r + 1]
    return np.array([(win * xx).sum(), (win * yy).sum()]) / win.sum()


def test_keypoint_targets_follow_the_warped_pixels():
    """Each moved label lands on the centre of its warped spot (within 0.1 px). Catches
    labels scaled by the wrong size, x/y swapped, or warped with another matrix."""
    from aan_components.models import RandomFaceBatchAugment

    torch.manual_seed(0)
    aug = RandomFaceBatchAugment(MEAN, STD, color_p=0, gamma=(1.0, 1.0), blur_p=0,
                                 noise_std=0)
    inputs, samples = _batch(POINTS)
    before = [s.gt_instance_labels.keypoint_labels.clone() for s in samples]
    out, moved = aug(inputs, samples)
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    pixels = (out * std + mean)[:, 0].numpy()
    for i, sample in enumerate(moved):
        labels = sample.gt_instance_labels.keypoint_labels[0].numpy() * SIZE
        assert not np.allclose(labels, POINTS, atol=0.5)  # it did move
        for (x, y) in labels:
            np.testing.assert_allclose(_spot_centre(pixels[i], x, y), [x, y], atol=0.1)
        assert sample.gt_instance_labels.keypoint_weights.sum() == len(POINTS)
    # the old label tensors were not written to (a cached sample can be drawn again)
    assert all(torch.equal(b, torch.from_numpy(POINTS / SIZE).float()[None]) for b in before)


FLIP = [1, 0, 2, 4, 3]  # POINTS' mirror partners


def test_flip_and_output_size_move_each_label_to_its_partners_mirror():
    """From 96 px crops to the 80 px centre, half the faces mirrored: an unmoved face's
    label i is its point shifted by the margin; a mirrored face's is its partner's point,
    mirrored. Catches a flip without the left/right swap, labels divided by the input size,
    or an off-centre output crop."""
    from aan_components.models import RandomFaceBatchAugment

    torch.manual_seed(2)
    aug = RandomFaceBatchAugment(MEAN, STD, flip=True, output_size=(80, 80), degrees=0,
                                 translate=0, scale=(1.0, 1.0), color_p=0,
                                 gamma=(1.0, 1.0), blur_p=0, noise_std=0)
    inputs, samples = _batch(POINTS, batch=16, flip_indices=FLIP)
    out, moved = aug(inputs, samples)
    assert out.shape == (16, 3, 80, 80)
    kept = POINTS - 8
    mirrored = np.stack([SIZE - 1 - POINTS[FLIP, 0], POINTS[FLIP, 1]], 1) - 8
    seen = set()
    for sample in moved:
        labels = sample.gt_instance_labels.keypoint_labels[0].numpy() * 80
        is_kept = np.allclose(labels, kept, atol=1e-3)
        assert is_kept or np.allclose(labels, mirrored, atol=1e-3), labels
        seen.add(is_kept)
    assert seen == {True, False}


def test_flipped_wider_crops_keep_labels_on_their_pixels():
    """Random affine + flip + a smaller output: each label still sits on its spot."""
    from aan_components.models import RandomFaceBatchAugment

    torch.manual_seed(3)
    aug = RandomFaceBatchAugment(MEAN, STD, flip=True, output_size=(88, 88), color_p=0,
                                 gamma=(1.0, 1.0), blur_p=0, noise_std=0)
    out, moved = aug(*_batch(POINTS, batch=8, flip_indices=FLIP))
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    pixels = (out * std + mean)[:, 0].numpy()
    for i, sample in enumerate(moved):
        for (x, y) in sample.gt_instance_labels.keypoint_labels[0].numpy() * 88:
            np.testing.assert_allclose(_spot_centre(pixels[i], x, y), [x, y], atol=0.1)


def test_flip_without_the_datasets_pairs_is_refused():
    from aan_components.models import RandomFaceBatchAugment

    aug = RandomFaceBatchAugment(MEAN, STD, flip=True)
    with pytest.raises(ValueError, match="flip_indices"):
        aug(*_batch(POINTS))
    with pytest.raises(ValueError, match="permutation"):
        aug(*_batch(POINTS, flip_indices=[0, 0, 2, 4, 3]))


def test_points_pushed_out_of_the_crop_lose_their_weight():
    from aan_components.models import RandomFaceBatchAugment

    torch.manual_seed(1)
    aug = RandomFaceBatchAugment(MEAN, STD, degrees=0, translate=0.45, scale=(1.0, 1.0))
    inputs, samples = _batch(np.array([[3.0, 48.0], [92.0, 48.0], [48.0, 48.0]]), batch=16)
    _, moved = aug(inputs, samples)
    labels = torch.cat([s.gt_instance_labels.keypoint_labels for s in moved]) * SIZE
    weights = torch.cat([s.gt_instance_labels.keypoint_weights for s in moved])
    inside = ((labels >= 0) & (labels <= SIZE - 1)).all(-1)
    assert torch.equal(weights.bool(), inside) and not inside.all() and inside.any()


@pytest.mark.slow  # trains with mmengine's Runner
def test_pool_config_trains_on_cpu(tmp_path):
    """mm_configs/aan_synthetic_pool.py end to end for 2 iterations on a pool of 8 faces:
    the batch augment runs inside the data preprocessor and the cached samples stay as
    the pipeline made them."""
    from conftest import REPO
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(str(REPO / "mm_configs" / "aan_synthetic_pool.py"))
    cfg.merge_from_dict({
        "train_cfg.max_iters": 2, "train_cfg.val_interval": 100,
        "default_hooks.checkpoint.interval": 2, "default_hooks.logger.interval": 1,
        "train_dataloader.batch_size": 4, "train_dataloader.dataset.num_workers": 0,
        "train_dataloader.dataset.dataset.num_samples": 8})
    cfg.custom_hooks = [dict(type="FiniteLossHook")]
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    assert type(runner.model.data_preprocessor.batch_augments[0]).__name__ == \
        "RandomFaceBatchAugment"
    pool = runner.train_dataloader.dataset
    fresh = pool.dataset[0]
    torch.testing.assert_close(pool[0]["data_samples"].gt_instance_labels.keypoint_labels,
                               fresh["data_samples"].gt_instance_labels.keypoint_labels)


@pytest.mark.slow  # trains with mmengine's Runner
def test_real_face_batch_config_trains_on_the_300w_fixture(tmp_path, fixtures_dir):
    """mm_configs/aan_300w_cpu_batchaug.py for 2 iterations on the 300W fixture: the cache
    holds the wide 224 px crops, handed to the augmentation as pixels, the model trains on
    128 px ones, both cores compute (no loader worker), and the flip pairs come from the
    dataset."""
    from conftest import REPO
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(str(REPO / "mm_configs" / "aan_300w_cpu_batchaug.py"))
    inner = "train_dataloader.dataset.dataset"
    cfg.merge_from_dict({
        "train_cfg.max_iters": 2, "default_hooks.checkpoint.interval": 2,
        "default_hooks.logger.interval": 1, "train_dataloader.batch_size": 4,
        "train_dataloader.dataset.num_workers": 0,
        f"{inner}.data_root": str(fixtures_dir / "300w"),
        f"{inner}.ann_file": "test_300w.json", f"{inner}.data_prefix.img": ""})
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    seen = []
    augment = runner.model.data_preprocessor.batch_augments[0]
    from_pixels = augment.augment_pixels

    def recorded(pixels, samples, **kwargs):  # the crops come as pixels (uint8)
        out = from_pixels(pixels, samples, **kwargs)
        seen.append((pixels.shape, pixels.dtype, out[0].shape, out[0].dtype))
        return out

    augment.augment_pixels = recorded
    runner.train()
    assert runner.iter == 2 and cfg.train_dataloader.num_workers == 0
    assert seen[0] == ((4, 3, 224, 224), torch.uint8, (4, 3, 128, 128), torch.float32)
    assert augment.flip and len(runner.train_dataloader.dataset.metainfo["flip_indices"]) == 68


def test_photometric_steps_switched_off_are_left_out():
    """A step at probability 0 (or gamma (1, 1)) is not run as an identity: it would cost a
    pass over the batch (catches a step built regardless of its setting)."""
    from aan_core.data.face_augmentation import RandomFaceAugmentation

    off = RandomFaceAugmentation(color_p=0, gamma=(1.0, 1.0), blur_p=0, noise_std=0)
    assert isinstance(off.photometric, torch.nn.Identity)
    colour = RandomFaceAugmentation(color=(0.125, 0.5, 0.0, 0.0), gamma=(1.0, 1.0), blur_p=0,
                                    noise_std=0)
    assert [type(m).__name__ for m in colour.photometric.children()] == ["ColorJiggle"]
    every = RandomFaceAugmentation()
    assert [type(m).__name__ for m in every.photometric.children()] == [
        "ColorJiggle", "RandomGamma", "RandomGaussianBlur", "RandomGaussianNoise"]


def test_warping_normalised_pixels_is_warping_the_image():
    """The wrapper warps the normalised batch (black outside the crop) and changes colours
    after: the same result, draw for draw, as denormalising first and running
    RandomFaceAugmentation on [0, 1] pixels with black padding (catches a wrong fill value
    or the colour change before the warp)."""
    from aan_components.models import RandomFaceBatchAugment

    kwargs = dict(output_size=(80, 80), degrees=25, scale=(0.8, 1.1), translate=0.1,
                  color=(0.125, 0.5, 0.0, 0.0), color_p=1.0, gamma=(1.0, 1.0), blur_p=0,
                  noise_std=0)
    aug = RandomFaceBatchAugment(MEAN, STD, flip=True, **kwargs)
    torch.manual_seed(4)
    image = torch.rand(6, 3, SIZE, SIZE) * 255
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    _, samples = _batch(POINTS, flip_indices=FLIP)
    torch.manual_seed(5)
    out, moved = aug((image - mean) / std, samples)
    torch.manual_seed(5)
    expected, points, _ = aug.augment(image / 255, torch.from_numpy(POINTS).float().expand(
        6, -1, -1), flip_indices=FLIP)
    torch.testing.assert_close(out * std + mean, expected * 255, atol=0.05, rtol=0)
    labels = torch.cat([s.gt_instance_labels.keypoint_labels for s in moved]) * 80
    torch.testing.assert_close(labels, points)


def _drawn_ranges(aug, num: int) -> dict:
    """The rotation (degrees), box scale (1 / zoom) and shift (fraction of the output side)
    of ``num`` unflipped faces, read back from their affine matrices."""
    matrix = aug._matrices(torch.zeros(num, dtype=torch.bool), (224, 224), (128, 128),
                           torch.device("cpu")).double()
    linear = matrix[:, :, :2]
    zoom = torch.linalg.det(linear).sqrt()
    centre_in, centre_out = torch.full((2,), 111.5).double(), torch.full((2,), 63.5).double()
    shift = matrix[:, :, 2] - centre_out + linear @ centre_in
    return dict(rotate=torch.rad2deg(torch.atan2(linear[:, 1, 0], linear[:, 0, 0])).numpy(),
                scale=(1 / zoom).numpy(), shift_x=(shift[:, 0] / 128).numpy(),
                shift_y=(shift[:, 1] / 128).numpy())


@pytest.mark.parametrize("ranges", ["truncnorm", "uniform"])
def test_truncnorm_ranges_are_drawn_as_mmposes_random_bbox_transform(ranges):
    """``ranges='truncnorm'``: rotation, box scale (the zoom's inverse) and shift have the
    distributions of MMPose's own RandomBBoxTransform draws (two-sample Kolmogorov-Smirnov
    on 40,000 faces each) at aan_300w_cpu_aug.py's limits, the zoom range being the inverse
    of its box scale range; the uniform draws, at the same limits, are told apart (the test's
    power; it also fails a normal drawn on the zoom, or one truncated elsewhere)."""
    from mmpose.datasets.transforms import RandomBBoxTransform
    from scipy.stats import ks_2samp

    from aan_core.data.face_augmentation import RandomFaceAugmentation

    num = 40_000
    np.random.seed(0)
    boxes = RandomBBoxTransform(  # a unit box at 0: its new centre is the shift
        shift_factor=0.06, shift_prob=1.0, scale_factor=(0.9, 1.15), scale_prob=1.0,
        rotate_factor=25.0, rotate_prob=1.0)(dict(bbox_center=np.zeros((num, 2)),
                                                  bbox_scale=np.ones((num, 2))))
    mmpose = dict(rotate=boxes["bbox_rotation"], scale=boxes["bbox_scale"][:, 0],
                  shift_x=boxes["bbox_center"][:, 0], shift_y=boxes["bbox_center"][:, 1])
    torch.manual_seed(0)
    ours = _drawn_ranges(RandomFaceAugmentation(
        degrees=25.0, translate=0.06, scale=(1 / 1.15, 1 / 0.9), ranges=ranges), num)
    limits = dict(rotate=(-25, 25), scale=(0.9, 1.15), shift_x=(-0.06, 0.06),
                  shift_y=(-0.06, 0.06))
    for name, theirs in mmpose.items():
        low, high = limits[name]
        assert low - 1e-5 <= theirs.min() and theirs.max() <= high + 1e-5  # MMPose's
        assert low - 1e-5 <= ours[name].min() and ours[name].max() <= high + 1e-5
        p_value = ks_2samp(ours[name], theirs).pvalue
        if ranges == "truncnorm":
            assert p_value > 1e-3, (name, p_value)
        else:
            assert p_value < 1e-6, (name, p_value)


def test_unknown_ranges_are_refused():
    from aan_core.data.face_augmentation import RandomFaceAugmentation

    with pytest.raises(ValueError, match="ranges must be one of"):
        RandomFaceAugmentation(ranges="normal")


def test_channel_shuffle_reorders_each_faces_channels():
    """``channel_shuffle_p`` (PhotometricDistortion's channel swap): each face's output
    channels are its input channels in some order, about ``p`` of them reordered at all
    (5/6 of the shuffled: a drawn order may be the same); at 0 the step is left out."""
    from aan_core.data.face_augmentation import RandomFaceAugmentation

    still = dict(degrees=0.0, translate=0.0, scale=(1.0, 1.0), color_p=0, gamma=(1.0, 1.0),
                 blur_p=0, noise_std=0)
    assert isinstance(RandomFaceAugmentation(**still).photometric, torch.nn.Identity)
    torch.manual_seed(5)
    brightness = torch.rand(600, 1, 1, 1) * 0.9 + 0.1
    images = (brightness * torch.tensor([0.2, 0.5, 0.8]).view(1, 3, 1, 1)).expand(600, 3, 8, 8)
    out, _, _ = RandomFaceAugmentation(channel_shuffle_p=0.5, **still)(
        images.contiguous(), torch.full((600, 1, 2), 3.5))
    orders = (out[:, :, 4, 4] / brightness[:, :, 0, 0]).mul(10).round().int()  # 2, 5, 8
    assert all(sorted(o) == [2, 5, 8] for o in orders.tolist())
    reordered = (orders != torch.tensor([2, 5, 8])).any(1).float().mean().item()
    assert abs(reordered - 0.5 * 5 / 6) < 0.06
