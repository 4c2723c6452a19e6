"""``LandmarkPredictor``: a config + checkpoint -> landmarks of given face boxes, batched."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from aan_core.input_errors import AANInputError

from ..config_file import require_fields
from .model_loading import load_pose_model

__all__ = ["FaceLandmarks", "LandmarkPredictor"]


@dataclass
class FaceLandmarks:
    """Landmarks of one face: ``keypoints`` :math:`(K, 2)` in image pixels, ``box``
    ``(x1, y1, x2, y2)``, ``scores`` :math:`(K,)` (1 for direct regression)."""

    box: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray

    def to_json(self) -> dict:
        return dict(bbox=[round(float(v), 2) for v in self.box],
                    keypoints=np.round(self.keypoints, 2).tolist(),
                    keypoint_scores=np.round(self.scores, 4).tolist())


@dataclass
class ImageLandmarks:
    """All faces of one image (or video frame)."""

    name: str
    image: np.ndarray | None = None  # the input image (BGR), for drawing
    faces: list[FaceLandmarks] = field(default_factory=list)
    crops: list[np.ndarray] = field(default_factory=list)  # network input crops (BGR)
    # per face, the backbone's attention map of each stage, (h_i, w_i) (``keep_attention``)
    attention: list[list[np.ndarray]] = field(default_factory=list)


class LandmarkPredictor:
    """Predict face landmarks with any MMPose top-down model (AAN or not).

    The model's own test pipeline (``GetBBoxCenterScale``, ``TopdownAffine``...) crops each
    face from its box; faces of many images are batched together; flip test follows the
    config. The checkpoint is loaded safely (``weights_only``, see README) and strictly
    (:func:`~aan_components.inference.model_loading.load_pose_model`).

    Args:
        config: MMPose config file (or ``Config``).
        checkpoint: Checkpoint file; ``None`` keeps the initial weights.
        device: ``'cpu'``, ``'cuda'``...
        batch_size: Faces per forward pass.
        optimize: Fold BatchNorm into the convolutions and use channels-last memory
            (``aan_core.optimize_for_inference``; 2x faster on CPU for AAN, outputs equal
            within 1e-4 px; ``bench/cpu_speed.py``).
        compile: ``torch.compile`` the backbone (a further 1.2x on CPU for AAN, after about a
            minute of compilation on the first batch: for long videos and large folders).
        allow_partial: Load a checkpoint that does not fit the config (what fits; one line
            reported); by default a mismatch is an error (:func:`load_pose_model`).

    Example:
        >>> import aan_components, cv2  # doctest: +SKIP
        >>> p = LandmarkPredictor('mm_configs/aan_300w.py', 'best.pth')  # doctest: +SKIP
        >>> img = cv2.imread('face.jpg')  # doctest: +SKIP
        >>> (result,) = p.predict([('face.jpg', img, None)])  # doctest: +SKIP
        >>> result.faces[0].keypoints.shape  # doctest: +SKIP
        (68, 2)
    """

    def __init__(self, config, checkpoint: str | None = None, device: str = "cpu",
                 batch_size: int = 32, optimize: bool = True, compile: bool = False,
                 allow_partial: bool = False) -> None:
        from mmengine.dataset import Compose

        if batch_size < 1:
            raise AANInputError(f"batch size must be >= 1, got {batch_size}")
        self.model = load_pose_model(config, checkpoint, device, allow_partial)
        require_fields(self.model.cfg, self.model.cfg.filename or "config",
                       "test_dataloader.dataset.pipeline")
        if optimize:
            from aan_core.inference_optimization import optimize_for_inference

            optimize_for_inference(self.model, inplace=True)
        if compile:
            self.model.backbone = torch.compile(self.model.backbone)
        self.batch_size = int(batch_size)
        self.pipeline = Compose(self.model.cfg.test_dataloader.dataset.pipeline)
        self.keep_crops = False  # fill ImageLandmarks.crops
        self.keep_attention = False  # fill ImageLandmarks.attention (attention backbones)

    @property
    def num_keypoints(self) -> int:
        return int(self.model.dataset_meta["num_keypoints"])

    def predict(self, items: Iterable[tuple[str, np.ndarray, np.ndarray | None]]
                ) -> Iterator[ImageLandmarks]:
        """Landmarks for a stream of ``(name, BGR image, boxes (N, 4) or None)``, in order.

        ``None`` boxes use the whole image as one face. Images are processed lazily in
        batches of faces, so a folder or a video never has to fit in memory.
        """
        pending: list[tuple[ImageLandmarks, int]] = []  # (result, faces still to fill)
        batch: list[tuple[ImageLandmarks, dict]] = []
        for name, image, boxes in items:
            h, w = image.shape[:2]
            if boxes is None:
                boxes = np.array([[0, 0, w, h]], np.float32)
            result = ImageLandmarks(name, image)
            pending.append((result, len(boxes)))
            for box in np.asarray(boxes, np.float32).reshape(-1, 4):
                info = dict(img=image, img_path=name, bbox=box[None],
                            bbox_score=np.ones(1, np.float32))
                info.update(self.model.dataset_meta)
                batch.append((result, self.pipeline(info)))
                if len(batch) == self.batch_size:
                    self._run(batch)
                    batch = []
            while pending and len(pending[0][0].faces) == pending[0][1]:
                yield pending.pop(0)[0]
        if batch:
            self._run(batch)
        for result, _ in pending:
            yield result

    @torch.no_grad()
    def _run(self, batch: list[tuple[ImageLandmarks, dict]]) -> None:
        from mmengine.dataset import pseudo_collate

        samples = self.model.test_step(pseudo_collate([d for _, d in batch]))
        maps = []
        if self.keep_attention:  # the maps of this batch's forward, before the next one
            maps = [m for m in getattr(self.model.backbone, "attention_maps", ()) if m is not None]
        for i, ((result, data), sample) in enumerate(zip(batch, samples, strict=True)):
            pred = sample.pred_instances
            scores = pred.get("keypoint_scores")
            kpts = np.asarray(pred.keypoints[0], np.float64)
            result.faces.append(FaceLandmarks(
                box=np.asarray(data["data_samples"].gt_instances.bboxes[0], np.float64),
                keypoints=kpts,
                scores=np.ones(len(kpts)) if scores is None else np.asarray(scores[0])))
            if self.keep_crops:
                result.crops.append(data["inputs"].permute(1, 2, 0).numpy().copy())
            if self.keep_attention:
                result.attention.append([m[i, 0].float().cpu().numpy() for m in maps])
