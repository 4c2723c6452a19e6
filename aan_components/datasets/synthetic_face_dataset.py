"""``SyntheticFaceDataset``: procedurally rendered faces with exact landmarks, for MMPose."""

from __future__ import annotations

import os.path as osp
from copy import deepcopy

import mmpose
import numpy as np
from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.registry import DATASETS
from tqdm import tqdm

from aan_core.data.synthetic_faces import LAYOUTS, render_synthetic_face

CELEBA_METAINFO = osp.join(osp.dirname(__file__), "celeba_metainfo.py")


def _mmpose_metainfo(name: str) -> str:
    """Path of one of MMPose's dataset_info files (installed under ``mmpose/.mim``)."""
    rel = osp.join("configs", "_base_", "datasets", name)
    installed = osp.join(osp.dirname(mmpose.__file__), ".mim", rel)
    return installed if osp.isfile(installed) else rel


# Metainfo of each landmark layout: MMPose's own for 68 (300W) and 19 (AFLW) points.
METAINFO_BY_LAYOUT = {
    68: _mmpose_metainfo("300w.py"),
    19: _mmpose_metainfo("aflw.py"),
    5: CELEBA_METAINFO,
}


@DATASETS.register_module()
class SyntheticFaceDataset(BaseCocoStyleDataset):
    """Synthetic face-alignment dataset: sample ``i`` is ``render_synthetic_face(seed, i)``.

    Faces vary in head pose (yaw +-50, pitch +-20, roll +-25 degrees, far side
    self-occluded), identity, expression (mouth open, eyes closed, brows), scale and
    position, lighting, skin and background colours, clutter and texture, occluders
    (bars, blobs, hands), blur and noise. Landmarks are exact; ``keypoints_visible`` is 0 for
    self-occluded or out-of-image points. Each item carries its rendered image, so the
    pipeline starts with ``LoadImage`` as for files (it keeps the given image).

    Args:
        num_samples: Number of faces.
        seed: Identifies the set; use different seeds for train and test sets.
        image_size: Side of the rendered square images.
        num_points: 68 (300W layout and metainfo), 19 (AFLW) or 5 (CelebA).
        cache: Render every face once, up front (with a progress bar), and keep them in
            memory (``num_samples * image_size^2 * 3`` bytes; shared by forked workers).
            Otherwise faces are rendered on the fly (~4 ms at 128 px).
        **kwargs: ``BaseCocoStyleDataset`` arguments (``pipeline``, ``test_mode``,
            ``metainfo``, ``data_mode``...); ``ann_file`` and ``data_root`` are not used.

    Example:
        >>> import aan_components.plugin
        >>> from mmpose.registry import DATASETS
        >>> ds = DATASETS.build(dict(type='SyntheticFaceDataset', num_samples=4))
        >>> ds[0]['keypoints'].shape
        (1, 68, 2)
    """

    def __init__(self, num_samples: int = 1000, seed: int = 0, image_size: int = 128,
                 num_points: int = 68, cache: bool = False, metainfo: dict | None = None,
                 **kwargs) -> None:
        if num_points not in LAYOUTS:
            raise ValueError(
                f"SyntheticFaceDataset.num_points must be one of {LAYOUTS}, got {num_points}")
        if num_samples < 1:
            raise ValueError(f"SyntheticFaceDataset.num_samples must be >= 1, got {num_samples}")
        self.num_samples = int(num_samples)
        self.seed = int(seed)
        self.image_size = int(image_size)
        self.num_points = int(num_points)
        self.cache = cache
        self._images: np.ndarray | None = None
        if metainfo is None:
            metainfo = dict(from_file=METAINFO_BY_LAYOUT[num_points])
        kwargs.setdefault("ann_file", "")
        super().__init__(metainfo=metainfo, **kwargs)

    def load_data_list(self) -> list[dict]:
        data_list = []
        faces = range(self.num_samples)
        if self.cache:
            self._images = np.empty((self.num_samples, self.image_size, self.image_size, 3),
                                    np.uint8)
            faces = tqdm(faces, desc=f"rendering synthetic faces (seed {self.seed})",
                         unit="face", mininterval=1.0)
        for i in faces:
            info = dict(id=i, img_id=i, img_path=f"synthetic://seed{self.seed}/{i}",
                        category_id=np.array(1), iscrowd=0, segmentation=None)
            if self.cache:
                face = render_synthetic_face(self.seed, i, self.image_size, self.num_points)
                self._images[i] = face.image
                info.update(self._annotation(face))
            data_list.append(info)
        return data_list

    def _annotation(self, face) -> dict:
        x1, y1, x2, y2 = face.bbox
        return dict(
            bbox=face.bbox.reshape(1, 4),
            bbox_score=np.ones(1, np.float32),
            keypoints=face.keypoints[None],
            keypoints_visible=face.visible[None],
            num_keypoints=int(face.visible.sum()),
            area=np.array((x2 - x1) * (y2 - y1), np.float32),
            head_pose=face.pose,
        )

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        if self._images is not None:
            info["img"] = self._images[idx].copy()
        else:
            face = render_synthetic_face(self.seed, idx, self.image_size, self.num_points)
            info["img"] = face.image
            info.update(self._annotation(face))
        info["img_shape"] = info["ori_shape"] = (self.image_size, self.image_size)
        info["raw_ann_info"] = deepcopy({k: info[k] for k in ("id", "img_id", "img_path")})
        return info
