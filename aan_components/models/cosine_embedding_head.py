"""``CosineEmbeddingHead``: AAN's coordinate-regression head for MMPose."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmpose.evaluation.functional import keypoint_pck_accuracy
from mmpose.models.heads import RegressionHead
from mmpose.models.heads.base_head import BaseHead
from mmpose.registry import KEYPOINT_CODECS, MODELS
from mmpose.utils.tensor_utils import to_numpy
from torch import Tensor, nn

from aan_core import CoordinateRegressor

from .intermediate_supervision_loss import IntermediateSupervisionLoss


@MODELS.register_module()
class CosineEmbeddingHead(RegressionHead):
    """Global pooling -> ``cos(W x + b)`` (d = 256) -> linear layer -> ``K x 2`` (AAN, Sec. 3.3),
    plus one small predictor per backbone stage for intermediate supervision (Sec. 3.2).

    Works like MMPose's ``RegressionHead`` (it inherits ``predict``: decoder, flip test with
    ``flip_test`` / ``shift_coords`` in ``test_cfg``) and takes normalised coordinates from
    the ``RegressionLabel`` codec. Features may be maps ``(B, C, H, W)`` (pooled here) or
    vectors ``(B, C)`` (e.g. after MMPose's ``GlobalAveragePooling`` neck).

    The intermediate branches (pooling + linear layer) are used by :meth:`loss` only;
    :meth:`forward` and :meth:`predict` never run them, so they cost nothing at test time.

    Args:
        in_channels: Channels of the backbone outputs. An int: the head reads the last
            feature map only (no intermediate supervision). A sequence (one entry per
            backbone output, shallow to deep): the final prediction reads the last one and
            every output gets an intermediate branch.
        num_joints: ``K``, landmarks to predict.
        embedding_dim: Width ``d`` of the cosine embedding; ``None`` replaces it by a plain
            linear layer (the "w/o embedding" ablation).
        embedding_sigma: RBF bandwidth of the embedding's random-Fourier-feature
            initialisation (``None``: ``sqrt(in_channels)``).
        loss: Loss config. With intermediate branches it must be an
            ``IntermediateSupervisionLoss``; without, any MMPose regression loss.
        decoder: Codec config used by ``predict`` (``RegressionLabel``).
        init_cfg: mmengine init config. The default keeps the modules' own initialisation
            (random Fourier features for the embedding).

    Example:
        >>> import aan_components, torch
        >>> from mmpose.registry import MODELS
        >>> head = MODELS.build(dict(type='CosineEmbeddingHead', in_channels=[64, 128],
        ...                          num_joints=68))
        >>> feats = (torch.randn(2, 64, 8, 8), torch.randn(2, 128, 4, 4))
        >>> head(feats).shape
        torch.Size([2, 68, 2])
    """

    _version = 2

    def __init__(
        self,
        in_channels: int | Sequence[int],
        num_joints: int,
        embedding_dim: int | None = 256,
        embedding_sigma: float | None = None,
        loss: dict | None = None,
        decoder: dict | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        # RegressionHead.__init__ builds its own single fc layer; this head builds its own
        # layers and reuses RegressionHead's predict (decoding and flip test) only.
        BaseHead.__init__(self, init_cfg)
        branch_channels = (
            [] if isinstance(in_channels, int) else [int(c) for c in in_channels]
        )
        final_channels = in_channels if isinstance(in_channels, int) else branch_channels[-1]
        if embedding_dim is not None and embedding_dim < 1:
            raise ValueError(
                f"CosineEmbeddingHead.embedding_dim must be >= 1 or None (no embedding), "
                f"got {embedding_dim}"
            )
        self.in_channels = in_channels
        self.num_joints = num_joints
        self.embedding_dim = embedding_dim
        self.regressor = CoordinateRegressor(final_channels, num_joints, embedding_dim,
                                             embedding_sigma)
        self.branches = nn.ModuleList(
            CoordinateRegressor(c, num_joints, embedding_dim=None) for c in branch_channels
        )
        if loss is None:
            loss = dict(type="IntermediateSupervisionLoss",
                        loss=dict(type="SmoothL1Loss", use_target_weight=True))
        self.loss_module = MODELS.build(loss)
        if self.branches and not isinstance(self.loss_module, IntermediateSupervisionLoss):
            raise ValueError(
                f"CosineEmbeddingHead: in_channels={list(branch_channels)} gives "
                f"{len(self.branches)} intermediate branches, so `loss` must be an "
                f"IntermediateSupervisionLoss, got {type(self.loss_module).__name__}. Wrap it: "
                f"loss=dict(type='IntermediateSupervisionLoss', loss=<your loss config>)"
            )
        if isinstance(self.loss_module, IntermediateSupervisionLoss):
            self.loss_module.weights_for(len(self.branches))  # fail now on a length mismatch
        self.decoder = KEYPOINT_CODECS.build(decoder) if decoder is not None else None

    def forward(self, feats: tuple[Tensor, ...]) -> Tensor:
        """Final coordinates (normalised) from the last feature map, :math:`(B, K, 2)`."""
        return self.regressor(feats[-1])

    def forward_branches(self, feats: tuple[Tensor, ...]) -> list[Tensor]:
        """Intermediate predictions, one per branch, each :math:`(B, K, 2)`."""
        if len(feats) != len(self.branches):
            raise ValueError(
                f"CosineEmbeddingHead has {len(self.branches)} intermediate branches "
                f"(in_channels={self.in_channels}) but got {len(feats)} feature maps; match "
                f"in_channels to the backbone's out_indices"
            )
        return [branch(f) for branch, f in zip(self.branches, feats, strict=True)]

    def loss(self, inputs: tuple[Tensor, ...], batch_data_samples, train_cfg=None) -> dict:
        """Losses of the final and every intermediate prediction, plus ``acc_pose``."""
        pred = self.forward(inputs)
        keypoint_labels = torch.cat(
            [d.gt_instance_labels.keypoint_labels for d in batch_data_samples])
        keypoint_weights = torch.cat(
            [d.gt_instance_labels.keypoint_weights for d in batch_data_samples])
        # A non-finite label never reaches the loss: MMPose's codec gives NaN points weight 0
        # but keeps the NaN, and its weighted losses compute 0 * NaN = NaN.
        finite = torch.isfinite(keypoint_labels).all(-1)
        keypoint_weights = keypoint_weights * finite
        keypoint_labels = torch.where(finite.unsqueeze(-1), keypoint_labels,
                                      torch.zeros_like(keypoint_labels))
        weights = keypoint_weights.unsqueeze(-1)

        if isinstance(self.loss_module, IntermediateSupervisionLoss):
            stage_preds = self.forward_branches(inputs) if self.branches else []
            losses = self.loss_module(pred, stage_preds, keypoint_labels, weights)
        else:
            losses = dict(loss_kpt=self.loss_module(pred, keypoint_labels, weights))

        _, avg_acc, _ = keypoint_pck_accuracy(
            pred=to_numpy(pred),
            gt=to_numpy(keypoint_labels),
            mask=to_numpy(keypoint_weights) > 0,
            thr=0.05,
            norm_factor=np.ones((pred.size(0), 2), dtype=np.float32))
        losses["acc_pose"] = torch.tensor(avg_acc, device=keypoint_labels.device)
        return losses

    @property
    def default_init_cfg(self) -> None:
        return None
