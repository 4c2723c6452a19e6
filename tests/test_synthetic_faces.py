"""Synthetic faces: determinism, geometry, layouts, and the MMPose dataset around them."""

import numpy as np
import pytest
from mmengine.config import Config
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import DATASETS

from aan_components.datasets import METAINFO_BY_LAYOUT
from aan_core.data.synthetic_faces import (
    FLIP_INDICES,
    LAYOUTS,
    mean_face_3d,
    render_synthetic_face,
    subset_matrix,
)


def test_same_seed_and_index_give_the_same_pixels_and_points():
    a, b = render_synthetic_face(3, 17), render_synthetic_face(3, 17)
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.keypoints, b.keypoints) and np.array_equal(a.bbox, b.bbox)
    c, d = render_synthetic_face(3, 18), render_synthetic_face(4, 17)
    assert not np.array_equal(a.image, c.image) and not np.array_equal(a.image, d.image)


@pytest.mark.parametrize("size", [64, 128, 200])
def test_points_outside_the_image_are_invisible(size):
    """Points that leave the image are marked invisible, and the 30 faces drawn here do have
    such points (3-4 faces, 5-6 points at each size), so the check is exercised. Wrong input
    caught: visibility without the inside-the-image test (``visible = front`` only)."""
    outside_total = 0
    for i in range(30):
        face = render_synthetic_face(0, i, image_size=size)
        assert face.image.shape == (size, size, 3) and face.image.dtype == np.uint8
        assert (face.visible > 0).sum() >= 40, "most points of a face are visible"
        outside = ((face.keypoints < 0) | (face.keypoints > size - 1)).any(1)
        assert not (face.visible[outside] > 0).any(), f"face {i}: a point outside is visible"
        outside_total += int(outside.sum())
        x1, y1, x2, y2 = face.bbox
        assert x2 > x1 and y2 > y1
    assert outside_total >= 3, "the sample must contain points outside the image"


def _inside(face, idx):
    return bool(((face.keypoints[idx] > 0) & (face.keypoints[idx] < 127)).all())


def test_far_side_is_self_occluded_on_turned_heads():
    faces = [render_synthetic_face(0, i) for i in range(150)]
    right_turned = [f for f in faces if f.pose[0] > 40 and _inside(f, slice(0, 5))]
    left_turned = [f for f in faces if f.pose[0] < -40 and _inside(f, slice(12, 17))]
    assert right_turned and left_turned, "the pose range includes strong yaw both ways"
    # positive yaw turns the image-right side (jaw 12-16) away from the camera
    assert all(f.visible[:5].min() == 1 for f in right_turned)
    assert sum(f.visible[12:17].min() == 0 for f in right_turned) > len(right_turned) / 2
    assert all(f.visible[12:17].min() == 1 for f in left_turned)
    assert sum(f.visible[:5].min() == 0 for f in left_turned) > len(left_turned) / 2
    frontal = [f for f in faces if abs(f.pose[0]) < 5 and abs(f.pose[1]) < 10
               and _inside(f, slice(0, 17))]
    assert frontal and all(f.visible[:17].min() == 1 for f in frontal)


def test_left_eye_is_image_left_as_in_ibug():
    for i in range(40):
        k = render_synthetic_face(1, i).keypoints
        assert k[36:42, 0].mean() < k[42:48, 0].mean()
        assert k[48, 0] < k[54, 0] and k[8, 1] > k[30, 1]  # chin below the nose tip


@pytest.mark.parametrize("layout", LAYOUTS)
def test_flip_pairs_match_the_geometry_and_mmpose_metainfo(layout):
    face = mean_face_3d()[:, :2]
    mirrored = face.copy()
    mirrored[:, 0] *= -1
    points = subset_matrix(layout) @ face
    mirrored_points = subset_matrix(layout) @ mirrored[FLIP_INDICES[68]]
    # mirroring the face and swapping pairs gives back the same layout points...
    flipped = points.copy()
    flipped[:, 0] *= -1
    np.testing.assert_allclose(flipped[FLIP_INDICES[layout]], mirrored_points, atol=1e-9)
    # ...and the pairs are those of the MMPose metainfo the dataset declares
    meta = parse_pose_metainfo(dict(from_file=METAINFO_BY_LAYOUT[layout]))
    assert meta["flip_indices"] == FLIP_INDICES[layout]
    assert meta["num_keypoints"] == layout
    # a symmetric mean face: each layout point's mirror image is its pair
    np.testing.assert_allclose(flipped[FLIP_INDICES[layout]], points, atol=0.05)


@pytest.mark.parametrize("layout", [19, 5])
def test_subset_layouts_are_means_of_68_points(layout):
    face = render_synthetic_face(2, 5, num_points=68)
    sub = render_synthetic_face(2, 5, num_points=layout)
    np.testing.assert_allclose(sub.keypoints, subset_matrix(layout) @ face.keypoints, atol=1e-4)
    assert np.array_equal(sub.image, face.image)


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_points"):
        render_synthetic_face(0, 0, num_points=21)
    with pytest.raises(ValueError, match="image_size"):
        render_synthetic_face(0, 0, image_size=16)


PIPELINE = [dict(type="LoadImage"), dict(type="GetBBoxCenterScale"),
            dict(type="TopdownAffine", input_size=(96, 96)),
            dict(type="GenerateTarget", encoder=dict(type="RegressionLabel",
                                                     input_size=(96, 96))),
            dict(type="PackPoseInputs")]


@pytest.mark.parametrize("cache", [False, True])
def test_dataset_through_mmpose_pipeline(cache):
    ds = DATASETS.build(dict(type="SyntheticFaceDataset", num_samples=6, seed=7, cache=cache,
                             pipeline=PIPELINE))
    assert len(ds) == 6 and ds.metainfo["dataset_name"] == "300w"
    item = ds[2]
    assert tuple(item["inputs"].shape) == (3, 96, 96)
    labels = item["data_samples"].gt_instance_labels
    assert labels.keypoint_labels.shape == (1, 68, 2)
    info = ds.get_data_info(2)
    face = render_synthetic_face(7, 2)
    # RegressionLabel by hand: the crop is the box's square, padded by GetBBoxCenterScale's
    # 1.25; labels are the points in crop units (0..1). Wrong input caught: labels of another
    # face (index 3), or a crop without the 1.25 padding.
    x1, y1, x2, y2 = face.bbox
    side = 1.25 * max(x2 - x1, y2 - y1)
    corner = np.array([(x1 + x2) / 2, (y1 + y2) / 2]) - side / 2
    np.testing.assert_allclose(labels.keypoint_labels[0].numpy(),
                               (face.keypoints - corner) / side, atol=1e-4)
    np.testing.assert_array_equal(labels.keypoint_weights[0].numpy(), face.visible)
    assert np.array_equal(info["img"], face.image)
    assert np.array_equal(info["keypoints"][0], face.keypoints)


def test_dataset_rejects_bad_config():
    with pytest.raises(ValueError, match="SyntheticFaceDataset.num_points"):
        DATASETS.build(dict(type="SyntheticFaceDataset", num_points=7))


def test_synthetic_config_builds(tmp_path):
    from conftest import REPO

    cfg = Config.fromfile(str(REPO / "mm_configs" / "aan_synthetic.py"))
    assert cfg.train_dataloader.dataset.type == "SyntheticFaceDataset"
    assert cfg.train_dataloader.dataset.seed != cfg.test_dataloader.dataset.seed
    assert cfg.optim_wrapper.optimizer.type == "Adam"
