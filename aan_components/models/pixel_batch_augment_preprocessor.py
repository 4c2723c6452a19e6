"""``PixelBatchAugmentPreprocessor``: MMPose's ``PoseDataPreprocessor`` whose training batch
augmentation starts from the pixels and normalises its output, instead of augmenting a batch
normalised first.

A crop cache (``CropCacheDataset``) serves crops wider than the model's input, and the batch
augmentation cuts the model's crop out of them. ``PoseDataPreprocessor`` normalises the wide
crops first, one image at a time (channel order, float, mean and std, then stacked): passes
over every pixel of the wide batch that the augmentation then undoes. Here, in training, the
crops are stacked as they come and handed to the augmentation's ``augment_pixels``, which
warps them and normalises the smaller output with the same ``mean``, ``std`` and channel
order. Validation and test batches are ``PoseDataPreprocessor``'s.
"""

from __future__ import annotations

import torch
from mmengine.utils import is_seq_of
from mmpose.models.data_preprocessors import PoseDataPreprocessor
from mmpose.registry import MODELS

__all__ = ["PixelBatchAugmentPreprocessor"]


@MODELS.register_module()
class PixelBatchAugmentPreprocessor(PoseDataPreprocessor):
    """``PoseDataPreprocessor`` that, in training, hands its one batch augmentation the
    crops as pixels (``augment_pixels``, as ``RandomFaceBatchAugment`` has) to augment and
    normalise; out of training it is ``PoseDataPreprocessor``.

    The result is ``PoseDataPreprocessor``'s with the same augmentation, draw for draw, up to
    float rounding, without the passes over the wide batch that normalising it first costs.
    The samples' metainfo gets ``batch_input_shape`` and ``pad_shape`` as there: the batch's
    shape before the augmentation.

    Args:
        *args: ``PoseDataPreprocessor``'s (``mean``, ``std``, ``bgr_to_rgb``, ...).
        **kwargs: ``PoseDataPreprocessor``'s; ``batch_augments`` must be one augmentation
            with ``augment_pixels`` and the same ``mean`` and ``std``, ``mean`` and ``std``
            must be given and ``pad_size_divisor`` must be 1 (the crops of a batch are one
            size).

    Raises:
        ValueError: naming what does not fit, at build; in training, a batch of crops of
            several sizes.

    Shape:
        - training input: ``data['inputs']``, :math:`B` crops :math:`(3, H, W)` of one
          size (or a :math:`(B, 3, H, W)` batch), 0-255, the dataset's channel order.
        - training output: ``inputs`` :math:`(B, 3, H_{out}, W_{out})`, normalised.

    Example:
        >>> import aan_components.models, torch
        >>> from mmengine.structures import InstanceData
        >>> from mmpose.structures import PoseDataSample
        >>> pre = MODELS.build(dict(
        ...     type='PixelBatchAugmentPreprocessor', mean=[123.675, 116.28, 103.53],
        ...     std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
        ...     batch_augments=[dict(type='RandomFaceBatchAugment', mean=[123.675, 116.28,
        ...                          103.53], std=[58.395, 57.12, 57.375],
        ...                          output_size=(64, 64))]))
        >>> samples = [PoseDataSample(gt_instance_labels=InstanceData(
        ...     keypoint_labels=torch.rand(1, 68, 2), keypoint_weights=torch.ones(1, 68)))
        ...     for _ in range(2)]
        >>> crops = [torch.randint(0, 256, (3, 96, 96), dtype=torch.uint8) for _ in range(2)]
        >>> out = pre(dict(inputs=crops, data_samples=samples), training=True)
        >>> out['inputs'].shape, out['data_samples'][0].batch_input_shape
        (torch.Size([2, 3, 64, 64]), (96, 96))
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        name = type(self).__name__
        augments = list(self.batch_augments or [])
        if len(augments) != 1 or not hasattr(augments[0], "augment_pixels"):
            raise ValueError(
                f"{name}: batch_augments must be one augmentation that takes pixels "
                f"(augment_pixels, as RandomFaceBatchAugment); got "
                f"{[type(a).__name__ for a in augments]}")
        if not self._enable_normalize:
            raise ValueError(f"{name}: mean and std are required (its augmentation "
                             f"normalises the training batch with them)")
        augment = augments[0]
        for key in ("mean", "std"):
            mine, theirs = getattr(self, key).flatten(), getattr(augment, key).flatten()
            if mine.shape != theirs.shape or not torch.allclose(mine, theirs):
                raise ValueError(f"{name}: batch_augments[0].{key} is {theirs.tolist()}, the "
                                 f"preprocessor's {key} is {mine.tolist()}: they must match")
        if self.pad_size_divisor != 1:
            raise ValueError(f"{name}: pad_size_divisor must be 1 (got "
                             f"{self.pad_size_divisor}): the crops are not padded")

    def forward(self, data: dict, training: bool = False) -> dict:
        if not training:
            return super().forward(data, training)
        data = self.cast_data(data)
        inputs, samples = data["inputs"], data["data_samples"]
        if is_seq_of(inputs, torch.Tensor):
            shapes = sorted({tuple(x.shape) for x in inputs})
            if len(shapes) != 1:
                raise ValueError(f"{type(self).__name__}: a training batch of crops of one "
                                 f"size is stacked as it is; got {shapes}")
            inputs = torch.stack(inputs)
        shape = tuple(inputs.shape[-2:])
        for sample in samples:
            sample.set_metainfo(dict(batch_input_shape=shape, pad_shape=shape))
        out, samples = self.batch_augments[0].augment_pixels(
            inputs, samples, bgr_to_rgb=self._channel_conversion)
        return dict(inputs=out, data_samples=samples)
