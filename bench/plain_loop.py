"""The plain training loop of ``bench.cpu_train_speed``'s ``plain`` arm: a config's network,
batch, arithmetic and per-sample augmentation in a plain ``for`` loop, with no Runner, data
loader, pipeline or data samples. It is the yardstick for the product loop's overhead.

- The network: the model the config builds (MMPose's registry: ``AANPoseEstimator`` with its
  backbone, head and loss, ``init_weights()`` as the Runner calls it), so the two arms train
  the very same modules; the step calls its backbone, the head's ``forward`` /
  ``forward_branches`` and its ``loss_module`` on tensors.
- The arithmetic: what the config's CPU switch sets (:func:`plain_settings`): bf16 autocast
  on the forward with the ``fp32_modules`` in fp32 (``BF16AutocastOptimWrapper``), the
  config's optimizer (torch's own, ``fused`` as the config says), channels-last weights
  (``ChannelsLastHook``) and the compute threads ``CPUThreadsHook`` gives the model in the
  config's own run (the cores its loader workers leave), unless told otherwise.
- The data: the config's per-sample training pipeline read transform by transform
  (:class:`PlainFaceAugmentation`, :class:`PlainFaceData`): each face decoded on its first
  draw and kept (as ``LoadFaceImage(cache_images=True)``), then one OpenCV ``warpAffine`` per
  face that does
  ``RandomFlip``, ``RandomBBoxTransform`` and ``TopdownAffine`` at once, with the ranges drawn
  as those transforms draw them, then ``PhotometricDistortion``'s draws and arithmetic, in the
  training process. The data preprocessor's channel order and normalisation follow.

The annotation file is read once, before the loop, by the config's dataset class (its
parsing and metainfo, no pipeline).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import cv2
import numpy as np
import torch
from torch import nn

# the pipeline transforms the plain loop does itself; anything else in a config's training
# pipeline (a transform it cannot repeat) refuses the plain arm
SUPPORTED = ("LoadFaceImage", "LoadImage", "GetBBoxCenterScale", "RandomFlip",
             "RandomBBoxTransform", "TopdownAffine", "PhotometricDistortion", "GenerateTarget",
             "PackPoseInputs")


def train_pipeline(cfg) -> list[dict]:
    """The per-sample training pipeline of a config (inside a ``CropCacheDataset`` too)."""
    return list(train_dataset(cfg).pipeline)


def train_dataset(cfg):
    """The config's training dataset (the one inside a ``CropCacheDataset``)."""
    data = cfg.train_dataloader.dataset
    return data.dataset if data.type == "CropCacheDataset" else data


def plain_supports(cfg) -> str | None:
    """``None`` when the plain loop can repeat a config's training data path, else why not."""
    if not train_dataset(cfg).get("ann_file"):
        return "its faces are not read from an annotation file"
    if cfg.model.get("data_preprocessor", {}).get("batch_augments"):
        return "its augmentation runs on the batch, in the data preprocessor"
    for t in train_pipeline(cfg):
        if t["type"] not in SUPPORTED:
            return f"its pipeline has {t['type']}"
        if t["type"] == "RandomFlip" and t.get("direction", "horizontal") != "horizontal":
            return "its RandomFlip is not horizontal"
        if t["type"] == "TopdownAffine" and t.get("use_udp", False):
            return "its TopdownAffine uses UDP"
    return None


class PlainFaceAugmentation:
    """The crops and regression targets of a config's per-sample pipeline, made with OpenCV
    in the calling process.

    Args:
        pipeline: The config's training pipeline (a list of transform dicts).
        flip_indices: Each keypoint's mirror partner (the dataset's metainfo).

    Shape:
        - :meth:`__call__` input: image :math:`(H, W, 3)` uint8 BGR, a face's data info
          (``bbox`` :math:`(1, 4)` x1, y1, x2, y2, or ``bbox_center`` and ``bbox_scale``
          :math:`(1, 2)`; ``keypoints`` :math:`(1, K, 2)`; ``keypoints_visible``
          :math:`(1, K)`), as MMPose's datasets give it.
        - Output: crop :math:`(h, w, 3)` uint8 BGR, labels :math:`(K, 2)` (keypoints over the
          crop's size, ``RegressionLabel``), weights :math:`(K,)`.

    Example:
        >>> pipeline = [dict(type='GetBBoxCenterScale'), dict(type='TopdownAffine',
        ...             input_size=(32, 32)), dict(type='PhotometricDistortion')]
        >>> aug = PlainFaceAugmentation(pipeline, flip_indices=[1, 0])
        >>> img = np.zeros((60, 50, 3), np.uint8)
        >>> face = dict(bbox=np.array([[10., 10., 40., 40.]]), keypoints_visible=np.ones((1, 2)),
        ...             keypoints=np.array([[[20., 25.], [30., 25.]]]))
        >>> crop, labels, weights = aug(img, face)
        >>> crop.shape, labels.shape, weights.tolist()
        ((32, 32, 3), (2, 2), [1.0, 1.0])
    """

    def __init__(self, pipeline: Sequence[dict], flip_indices: Sequence[int]) -> None:
        steps = {t["type"]: dict(t) for t in pipeline}
        self.padding = steps.get("GetBBoxCenterScale", {}).get("padding", 1.25)
        flip = steps.get("RandomFlip")
        self.flip_p = 0.0 if flip is None else float(flip.get("prob", 0.5))
        box = steps.get("RandomBBoxTransform")
        self.shift = (0.0, 0.0) if box is None else (box.get("shift_factor", 0.16),
                                                     box.get("shift_prob", 0.3))
        self.scale = ((1.0, 1.0), 0.0) if box is None else (
            tuple(box.get("scale_factor", (0.5, 1.5))), box.get("scale_prob", 1.0))
        self.rotate = (0.0, 0.0) if box is None else (box.get("rotate_factor", 80.0),
                                                      box.get("rotate_prob", 0.6))
        w, h = steps["TopdownAffine"]["input_size"]
        self.size = (int(w), int(h))
        photo = steps.get("PhotometricDistortion")
        self.photometric = None if photo is None else dict(
            brightness_delta=photo.get("brightness_delta", 32),
            contrast_range=tuple(photo.get("contrast_range", (0.5, 1.5))),
            saturation_range=tuple(photo.get("saturation_range", (0.5, 1.5))),
            hue_delta=photo.get("hue_delta", 18))
        self.flip_indices = np.asarray(flip_indices)
        self._draws: list[np.ndarray] = []

    def _box_draw(self) -> np.ndarray:
        """``RandomBBoxTransform``'s truncated normal draws (4 per face), taken from a block of
        64 faces drawn at once (scipy's ``truncnorm.rvs`` costs the same for 1 or 256)."""
        if not self._draws:
            from scipy.stats import truncnorm

            self._draws = list(truncnorm.rvs(-1.0, 1.0, size=(64, 4)).astype(np.float32))
        return self._draws.pop()

    def box(self, face: dict) -> tuple[np.ndarray, np.ndarray]:
        """``GetBBoxCenterScale``: a face's box centre and size, padded."""
        from mmpose.structures.bbox import bbox_xyxy2cs

        if "bbox_center" in face and "bbox_scale" in face:
            return face["bbox_center"][0], face["bbox_scale"][0] * self.padding
        return bbox_xyxy2cs(np.asarray(face["bbox"][0], np.float32), padding=self.padding)

    def geometry(self, img_w: int, face: dict, flip: bool, box_draw: np.ndarray,
                 probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The warp matrix (2 x 3, from the source image to the crop, flip included) and the
        keypoint permutation, for one draw: ``flip``, ``box_draw`` (offset x, offset y,
        scale, rotation, each in [-1, 1]) and ``probs`` (3 uniforms against the shift, scale
        and rotation probabilities)."""
        from mmpose.datasets.transforms import TopdownAffine
        from mmpose.structures.bbox import get_warp_matrix

        center, scale = self.box(face)
        order = np.arange(len(self.flip_indices))
        flip_m = np.eye(3)
        if flip:  # RandomFlip: x -> w - 1 - x for the image, its box and its keypoints
            center = np.array([img_w - center[0] - 1, center[1]], np.float32)
            flip_m = np.array([[-1.0, 0.0, img_w - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
            order = self.flip_indices
        # RandomBBoxTransform, as MMPose draws it
        offset = box_draw[:2] * self.shift[0] if probs[0] < self.shift[1] else np.zeros(2)
        lo, hi = self.scale[0]
        factor = box_draw[2] * (hi - lo) * 0.5 + (hi + lo) * 0.5 \
            if probs[1] < self.scale[1] else 1.0
        rot = box_draw[3] * self.rotate[0] if probs[2] < self.rotate[1] else 0.0
        center = center + offset * scale
        scale = scale * factor
        w, h = self.size
        scale = TopdownAffine._fix_aspect_ratio(scale[None], aspect_ratio=w / h)[0]
        warp = get_warp_matrix(center, scale, float(rot), output_size=(w, h))
        return (np.vstack([warp, [0.0, 0.0, 1.0]]) @ flip_m)[:2], order

    def crop(self, img: np.ndarray, face: dict, flip: bool, box_draw: np.ndarray,
             probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The crop, its keypoints (pixels) and their visibility for one draw (as
        :meth:`geometry`)."""
        warp, order = self.geometry(img.shape[1], face, flip, box_draw, probs)
        crop = cv2.warpAffine(img, warp, self.size, flags=cv2.INTER_LINEAR)
        points = cv2.transform(face["keypoints"][0][order][None].astype(np.float32), warp)[0]
        return crop, points, face["keypoints_visible"][0][order]

    def photometric_distortion(self, img: np.ndarray) -> np.ndarray:
        """``PhotometricDistortion``'s draws and arithmetic on a uint8 BGR crop (MMPose
        1.3's: contrast twice in mode 1, never in mode 0)."""
        p = self.photometric
        contrast_mode, brightness_flag = np.random.randint(2), np.random.randint(2)
        contrast_flag, hsv_mode = np.random.randint(2), np.random.randint(4)
        swap_flag = np.random.randint(2)
        beta = np.random.uniform(-p["brightness_delta"], p["brightness_delta"])
        alpha = np.random.uniform(*p["contrast_range"])
        saturation = np.random.uniform(*p["saturation_range"])
        hue = np.random.randint(-p["hue_delta"], p["hue_delta"])
        order = np.random.permutation(3)

        def convert(x, a=1.0, b=0.0):
            return np.clip(x.astype(np.float32) * a + b, 0, 255).astype(np.uint8)

        if brightness_flag:
            img = convert(img, b=beta)
        if contrast_mode == 1 and contrast_flag:
            img = convert(img, a=alpha)
        if hsv_mode:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
            if hsv_mode in (1, 3):
                img[:, :, 1] = convert(img[:, :, 1], a=saturation)
            if hsv_mode in (2, 3):
                img[:, :, 0] = img[:, :, 0].astype(int) + hue
            img = cv2.cvtColor(img, cv2.COLOR_HSV2BGR)
        if contrast_mode == 1 and contrast_flag:
            img = convert(img, a=alpha)
        if swap_flag:
            img = img[..., order]
        return img

    def __call__(self, img: np.ndarray, face: dict) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray]:
        flip = np.random.rand() < self.flip_p
        crop, points, visible = self.crop(img, face, flip, self._box_draw(), np.random.rand(3))
        if self.photometric is not None:
            crop = self.photometric_distortion(crop)
        w, h = self.size  # GenerateTarget with RegressionLabel
        valid = ((points >= 0) & (points <= [w - 1, h - 1])).all(-1) & (visible > 0.5)
        return crop, (points / [w, h]).astype(np.float32), valid.astype(np.float32)


def plain_settings(cfg) -> dict:
    """What the config's CPU switch sets, for the plain loop: autocast and its fp32 modules,
    the optimizer's arguments, channels-last, compute threads."""
    from aan_components.engine import cpu_supports_bf16
    from aan_components.engine.cpu_threads_hook import compute_threads

    wrapper = cfg.optim_wrapper
    bf16 = wrapper.get("type") == "BF16AutocastOptimWrapper"
    optimizer = dict(wrapper.optimizer)
    kind = optimizer.pop("type")
    hooks = cfg.get("default_hooks", {})
    threads = None  # PyTorch's default, as without CPUThreadsHook
    hook = hooks.get("cpu_threads")
    if hook and "OMP_NUM_THREADS" not in os.environ:
        threads = hook.get("threads", "auto")
        if threads == "auto":  # the model's threads in the config's own run
            threads = compute_threads(len(os.sched_getaffinity(0)),
                                      cfg.train_dataloader.get("num_workers", 0))
    return dict(autocast_bf16=bf16 and cpu_supports_bf16(),
                fp32_modules=tuple(wrapper.get("fp32_modules", ("head",))) if bf16 else (),
                optimizer=kind, optimizer_args=optimizer,
                channels_last=bool(hooks.get("channels_last")), threads=threads)


def build_plain_model(cfg, settings: dict) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The config's model (MMPose's registry) and a torch optimizer, set up as
    ``settings`` says."""
    from mmengine.logging import MMLogger
    from mmpose.registry import MODELS

    from aan_components.engine.bf16_autocast_optim_wrapper import _called_layers
    from aan_core.utils.fp32_modules import run_in_fp32

    model = MODELS.build(cfg.model)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel("WARNING")  # init_weights() logs every parameter at INFO
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    model.train()
    if settings["channels_last"]:
        model.to(memory_format=torch.channels_last)
    for name in settings["fp32_modules"] if settings["autocast_bf16"] else ():
        for layer in _called_layers(model.get_submodule(name)):
            run_in_fp32(layer)
    optimizer = getattr(torch.optim, settings["optimizer"])(model.parameters(),
                                                           **settings["optimizer_args"])
    return model, optimizer


def normalise(crops: np.ndarray, preprocessor: dict) -> torch.Tensor:
    """A batch of uint8 BGR crops :math:`(B, H, W, 3)` as the data preprocessor gives it:
    float NCHW, channels reordered and normalised as ``preprocessor`` (its config) says."""
    x = torch.from_numpy(crops).permute(0, 3, 1, 2)
    if preprocessor.get("bgr_to_rgb", False):
        x = x.flip(1)
    x = x.float()
    mean = torch.tensor(preprocessor.get("mean", (0.0, 0.0, 0.0))).view(1, -1, 1, 1)
    std = torch.tensor(preprocessor.get("std", (1.0, 1.0, 1.0))).view(1, -1, 1, 1)
    return ((x - mean) / std).contiguous()


def plain_step(model: nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor,
               labels: torch.Tensor, weights: torch.Tensor, autocast_bf16: bool) -> float:
    """One training step: the forward under bf16 autocast (when set), the sum of the head's
    losses, backward, optimizer step; returns the loss."""
    head = model.head
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast_bf16):
        feats = model.extract_feat(inputs)
        losses = head.loss_module(head.forward(feats), head.forward_branches(feats), labels,
                                  weights.unsqueeze(-1))
    loss = sum(v for k, v in losses.items() if "loss" in k)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return float(loss.detach())


class PlainFaceData:
    """The config's training faces, drawn in shuffled epochs as batches of crops and targets.

    As the config's data path: each image is decoded on its first draw and kept in memory
    when its ``LoadFaceImage`` has ``cache_images=True`` (decoded on every draw otherwise);
    a config that serves its crops from a ``CropCacheDataset`` (no random transform) has
    every crop made once, before the loop, as that cache is built before training.
    """

    def __init__(self, cfg) -> None:
        from mmpose.registry import DATASETS

        from aan_core.utils.image_file import read_image

        dataset = DATASETS.build(dict(train_dataset(cfg), pipeline=[]))
        self.faces = [dataset.get_data_info(i) for i in range(len(dataset))]
        pipeline = train_pipeline(cfg)
        self.augment = PlainFaceAugmentation(pipeline, dataset.metainfo["flip_indices"])
        self.read_image = read_image
        self.keep_images = any(t.get("cache_images", False) for t in pipeline
                               if t["type"] in ("LoadFaceImage", "LoadImage"))
        self.images: dict[str, np.ndarray] = {}
        self.order: list[int] = []
        self.crops: list[tuple] | None = None
        if cfg.train_dataloader.dataset.type == "CropCacheDataset":
            self.crops = [self.augment(self.image(face), face) for face in self.faces]

    def image(self, face: dict) -> np.ndarray:
        img = self.images.get(face["img_path"])
        if img is None:
            img = self.read_image(face["img_path"])
            if self.keep_images:
                self.images[face["img_path"]] = img
        return img

    def batch(self, size: int) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
        crops, labels, weights = [], [], []
        for _ in range(size):
            if not self.order:
                self.order = list(np.random.permutation(len(self.faces)))
            i = self.order.pop()
            crop, label, weight = self.crops[i] if self.crops is not None else \
                self.augment(self.image(self.faces[i]), self.faces[i])
            crops.append(crop)
            labels.append(label)
            weights.append(weight)
        return (np.stack(crops), torch.from_numpy(np.stack(labels)),
                torch.from_numpy(np.stack(weights)))


def measure_plain(cfg, warmup: int, iters: int, threads: int | None = None) -> dict:
    """images/s of the plain loop from iteration ``warmup`` to the end (the clock starts, as
    ``cpu_train_speed``'s timing hook, once iteration ``warmup``'s batch is made);
    ``threads``: compute threads instead of the switch's rule."""
    why = plain_supports(cfg)
    if why is not None:
        raise ValueError(f"the plain loop cannot repeat this config's data path: {why}")
    before = torch.get_num_threads()
    settings = plain_settings(cfg)
    if threads is not None:
        settings["threads"] = threads
    if settings["threads"] is not None:
        torch.set_num_threads(settings["threads"])
    t0 = time.perf_counter()
    model, optimizer = build_plain_model(cfg, settings)
    data = PlainFaceData(cfg)
    batch = cfg.train_dataloader.batch_size
    preprocessor = cfg.model.get("data_preprocessor", {})
    first = start = None
    for i in range(iters):
        crops, labels, weights = data.batch(batch)
        if i == 1:
            first = time.perf_counter()
        if i == warmup:
            start = time.perf_counter()
        plain_step(model, optimizer, normalise(crops, preprocessor), labels, weights,
                   settings["autocast_bf16"])
    seconds = time.perf_counter() - start
    out = dict(images_per_s=round((iters - warmup) * batch / seconds, 1),
               compute_threads=torch.get_num_threads(),
               first_iterations_s=round(start - first, 1),
               total_s=round(time.perf_counter() - t0, 1))
    torch.set_num_threads(before)
    return out
