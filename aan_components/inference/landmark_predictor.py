"""``LandmarkPredictor``: a config + checkpoint -> landmarks of the faces of images, batched.

Faces come from given boxes, from a face detector whose boxes are calibrated to the model's
training boxes (``face_finder.FaceFinder``), or, explicitly, from the whole image."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from aan_core.utils.input_errors import AANInputError

from ..config_file import ConfigError, require_fields, unknown_field_error
from .face_detection import FaceDetector, build_face_detector
from .face_finder import FaceFinder, FoundFaces
from .model_loading import load_pose_model

__all__ = ["FaceLandmarks", "LandmarkPredictor"]


@dataclass
class FaceLandmarks:
    """Landmarks of one face: ``keypoints`` :math:`(K, 2)` in image pixels, ``box``
    ``(x1, y1, x2, y2)`` the model cropped the face from, ``scores`` :math:`(K,)` (1 for
    direct regression), ``source`` where the box came from (a box file, a detector and its
    calibration, a tracked frame, the whole image) and ``detector_box`` the detector's own
    ``(x1, y1, x2, y2, score)`` when a detector found the face."""

    box: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray
    source: str = ""
    detector_box: np.ndarray | None = None

    def to_json(self) -> dict:
        out = dict(box=[round(float(v), 2) for v in self.box], box_source=self.source)
        if self.detector_box is not None:
            out.update(detector_box=[round(float(v), 2) for v in self.detector_box[:4]],
                       detector_score=round(float(self.detector_box[4]), 4))
        return dict(out, keypoints=np.round(self.keypoints, 2).tolist(),
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
    config. The checkpoint is loaded safely (``weights_only``, docs/install.md) and strictly
    (:func:`~aan_components.inference.model_loading.load_pose_model`).

    Args:
        config: MMPose config file (or ``Config``).
        checkpoint: Checkpoint file; ``None`` keeps the initial weights.
        device: ``'cpu'``, ``'cuda'``...
        batch_size: Faces per forward pass.
        optimize: Fold BatchNorm into the convolutions and use channels-last memory
            (``aan_core.optimize_for_inference``; what it gains on a CPU, and how far the
            outputs move: ``python -m bench.cpu_speed``, docs/benchmarks.md).
        compile: ``torch.compile`` the backbone (faster again on a CPU after about a minute
            of compilation on the first batch: for long videos and large folders).
        allow_partial: Load a checkpoint that does not fit the config (what fits; one line
            reported); by default a mismatch is an error (:func:`load_pose_model`).
        detector: Find the faces of images given without boxes: a name (``'mtcnn'``,
            ``'dlib-hog'``: :mod:`~aan_components.inference.face_detection`) or a
            :class:`FaceDetector`; ``None``: such an image is one face, the whole image.
        calibrate: Map the detector's boxes onto the convention of the config's training
            boxes with the shipped calibration (``box_calibration``); without one for that
            convention, the boxes are used as detected (``face_finder.calibration`` is
            ``None``; ``aan predict`` says so).
        detect_every: In ``predict(..., track=True)`` (videos), run the detector every this
            many frames and track the faces from the previous frame's landmarks in between.

    Example:
        Two faces given by their boxes (``detector='mtcnn'`` finds them instead; a trained
        model needs its checkpoint, e.g. ``LandmarkPredictor(config, 'iter_50000.pth')``):

        >>> from aan_core.data.synthetic_faces import render_synthetic_face
        >>> image = np.hstack([render_synthetic_face(0, i, image_size=128).image
        ...                    for i in range(2)])  # BGR, 128 x 256
        >>> p = LandmarkPredictor('mm_configs/aan_300w.py')
        >>> boxes = np.array([[16, 16, 112, 112], [144, 16, 240, 112]], np.float32)
        >>> (result,) = p.predict([('two_faces.png', image, boxes)])
        >>> [f.keypoints.shape for f in result.faces], result.faces[1].source
        ([(68, 2), (68, 2)], 'given')
    """

    def __init__(self, config, checkpoint: str | None = None, device: str = "cpu",
                 batch_size: int = 32, optimize: bool = True, compile: bool = False,
                 allow_partial: bool = False, detector: str | FaceDetector | None = None,
                 calibrate: bool = True, detect_every: int = 1) -> None:
        from .box_calibration import BoxCalibration, box_convention

        if batch_size < 1:
            raise AANInputError(f"batch size must be >= 1, got {batch_size}")
        self.model = load_pose_model(config, checkpoint, device, allow_partial)
        require_fields(self.model.cfg, self.model.cfg.filename or "config",
                       "test_dataloader.dataset.pipeline")
        if optimize:
            from aan_core.inference.inference_optimization import optimize_for_inference

            optimize_for_inference(self.model, inplace=True)
        if compile:
            self.model.backbone = torch.compile(self.model.backbone)
        self.batch_size = int(batch_size)
        self.pipeline = self._test_pipeline()
        self.face_finder: FaceFinder | None = None
        if detector is not None:
            if isinstance(detector, str):
                detector = build_face_detector(detector, device)
            self.face_finder = FaceFinder(
                detector, box_convention(self.model.cfg),
                calibration=None if calibrate else BoxCalibration(),
                detect_every=detect_every)
        self.checkpoint = checkpoint
        self.keep_crops = False  # fill ImageLandmarks.crops
        self.keep_attention = False  # fill ImageLandmarks.attention (attention backbones)

    @classmethod
    def from_pretrained(cls, name: str | None = None, device: str = "cpu",
                        detector: str | FaceDetector | None = "mtcnn",
                        **kwargs) -> LandmarkPredictor:
        """The model shipped inside the package (docs/pretrained_model.md), its weights'
        sha256 checked before they load; faces found by MTCNN, its boxes calibrated to the
        model's training boxes (300W's landmark extent), unless ``detector`` says otherwise.

        The name follows Hugging Face's and timm's hub models (``from_pretrained``,
        ``pretrained=True``): weights that come with the library, by name.

        Args:
            name: A shipped model (:func:`aan_components.pretrained.pretrained_names`);
                ``None``: the default one, the model ``aan predict IMAGE`` uses.
            device, detector: As for :class:`LandmarkPredictor`.
            **kwargs: The other arguments of :class:`LandmarkPredictor`.

        Raises:
            AANInputError: an unknown name, or a shipped file that is missing or whose
                sha256 is not the recorded one (one line naming the file).

        Example:
            >>> p = LandmarkPredictor.from_pretrained(detector=None)
            >>> from aan_core.utils.image_file import read_image
            >>> image = read_image("tests/data/mmpose_face_samples/300w/indoor_029.png")
            >>> (result,) = p.predict([("face.png", image, np.array([[0, 0, 60, 60]]))])
            >>> result.faces[0].keypoints.shape, p.checkpoint.endswith(".pth")
            ((68, 2), True)
        """
        from ..pretrained import DEFAULT_MODEL, pretrained_model

        model = pretrained_model(name or DEFAULT_MODEL)
        return cls(str(model.config), str(model.checkpoint), device, detector=detector,
                   **kwargs)

    def _test_pipeline(self):
        """The config's test pipeline, built; a field it does not know is the config's error.

        Raises:
            ConfigError: naming the config, the field and the nearest valid one.
        """
        from mmengine.dataset import Compose
        from mmpose.registry import TRANSFORMS

        cfg = self.model.cfg
        pipeline = cfg.test_dataloader.dataset.pipeline
        field = "test_dataloader.dataset.pipeline"
        try:
            return Compose(pipeline)
        except TypeError as e:
            raise (unknown_field_error(cfg.filename, e, pipeline, field, (TRANSFORMS,))
                   or ConfigError(f"{cfg.filename}: field {field}: {e}")) from None
        except (KeyError, ValueError, AssertionError) as e:
            raise ConfigError(f"{cfg.filename}: field {field}: {e}") from None

    @property
    def num_keypoints(self) -> int:
        return int(self.model.dataset_meta["num_keypoints"])

    def find_faces(self, image: np.ndarray, boxes: np.ndarray | None, box_source: str,
                   previous: tuple[str, np.ndarray, np.ndarray] | None = None) -> FoundFaces:
        """The faces of one image: ``boxes`` when given, else the detector's (or the previous
        frame's, see :class:`FaceFinder`), else the whole image."""
        if boxes is not None:
            return FoundFaces(np.asarray(boxes, np.float32).reshape(-1, 4), box_source)
        if self.face_finder is not None:
            return self.face_finder.find(image, previous)
        h, w = image.shape[:2]
        return FoundFaces(np.array([[0, 0, w, h]], np.float32), "whole image")

    def predict(self, items: Iterable[tuple[str, np.ndarray, np.ndarray | None]],
                box_source: str = "given", track: bool = False) -> Iterator[ImageLandmarks]:
        """Landmarks for a stream of ``(name, BGR image, boxes (N, 4) or None)``, in order.

        ``None`` boxes: the detector's faces (or the whole image without a detector). Images
        are processed lazily in batches of faces, so a folder or a video never has to fit in
        memory.

        Args:
            items: The images and their boxes.
            box_source: Recorded as the source of given boxes (e.g. the box file's name).
            track: The items are the frames of one video: between detections, faces are
                tracked from the previous frame's landmarks (``detect_every``). Each frame
                then runs on its own, since the next frame's boxes depend on it.
        """
        pending: list[tuple[ImageLandmarks, int]] = []  # (result, faces still to fill)
        batch: list[tuple[ImageLandmarks, dict, str, np.ndarray | None]] = []
        previous = None
        for name, image, boxes in items:
            found = self.find_faces(image, boxes, box_source, previous if track else None)
            result = ImageLandmarks(name, image)
            pending.append((result, len(found.boxes)))
            for i, box in enumerate(found.boxes):
                info = dict(img=image, img_path=name, bbox=box[None],
                            bbox_score=np.ones(1, np.float32))
                info.update(self.model.dataset_meta)
                detected = None if found.detector_boxes is None else found.detector_boxes[i]
                batch.append((result, self.pipeline(info), found.source, detected))
                if len(batch) == self.batch_size:
                    self._run(batch)
                    batch = []
            if track:  # the next frame's boxes may come from this frame's landmarks
                if batch:
                    self._run(batch)
                    batch = []
                previous = (name, np.array([f.box for f in result.faces]).reshape(-1, 4),
                            np.array([f.keypoints for f in result.faces]))
            while pending and len(pending[0][0].faces) == pending[0][1]:
                yield pending.pop(0)[0]
        if batch:
            self._run(batch)
        for result, _ in pending:
            yield result

    @torch.no_grad()
    def _run(self, batch: list[tuple[ImageLandmarks, dict, str, np.ndarray | None]]) -> None:
        from mmengine.dataset import pseudo_collate

        samples = self.model.test_step(pseudo_collate([d for _, d, _, _ in batch]))
        maps = []
        if self.keep_attention:  # the maps of this batch's forward, before the next one
            maps = [m for m in getattr(self.model.backbone, "attention_maps", ()) if m is not None]
        for i, ((result, data, source, detected), sample) in enumerate(
                zip(batch, samples, strict=True)):
            pred = sample.pred_instances
            scores = pred.get("keypoint_scores")
            kpts = np.asarray(pred.keypoints[0], np.float64)
            if not np.isfinite(kpts).all():  # never a NaN in the results (nor in their JSON)
                raise AANInputError(
                    f"{f'checkpoint {self.checkpoint}' if self.checkpoint else 'the model'}: "
                    f"its landmarks for {result.name} are not finite (NaN or inf): nothing "
                    f"written (weights that overflow? a diverged training?)")
            result.faces.append(FaceLandmarks(
                box=np.asarray(data["data_samples"].gt_instances.bboxes[0], np.float64),
                keypoints=kpts,
                scores=np.ones(len(kpts)) if scores is None else np.asarray(scores[0]),
                source=source, detector_box=detected))
            if self.keep_crops:
                result.crops.append(data["inputs"].permute(1, 2, 0).numpy().copy())
            if self.keep_attention:
                result.attention.append([m[i, 0].float().cpu().numpy() for m in maps])
