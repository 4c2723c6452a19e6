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
from torch import Tensor

from aan_core import EMBEDDING_DIM, CosineEmbedding, make_regressors
from aan_core.network.coordinate_regressor import start_at_mean_shape

from .intermediate_supervision_loss import IntermediateSupervisionLoss


@MODELS.register_module()
class CosineEmbeddingHead(RegressionHead):
    """Feature vector -> ``cos(W x + b)`` (d = 256) -> linear layer -> ``K x 2`` (AAN,
    Sec. 3.3), plus one small predictor per backbone stage for intermediate supervision
    (Sec. 3.2).

    Works like MMPose's ``RegressionHead`` (it inherits ``predict``: decoder, flip test with
    ``flip_test`` / ``shift_coords`` in ``test_cfg``) and takes normalised coordinates from
    the ``RegressionLabel`` codec. Features may be maps ``(B, C, H, W)`` (pooled here) or
    vectors ``(B, C)`` (e.g. after MMPose's ``GlobalAveragePooling`` neck; ``'gap'`` only).

    How a map becomes the regressor's vector is chosen for the final head
    (``final_input``) and for the branches (``branch_input``) separately: ``'gap'``
    (global average pooling; the default), ``'flatten'`` (the whole ``C x H x W`` map: the
    paper's wording read literally; needs ``feature_sizes``) or ``'grid<S>'``
    (average-pooled to ``S x S``, then flattened). See :class:`aan_core.CoordinateRegressor`.
    A checkpoint whose regressors were trained with another input is refused with a message
    naming the input it used.

    The intermediate branches (vectorising + linear layer) are used by :meth:`loss` only;
    :meth:`forward` and :meth:`predict` never run them, so they cost nothing at test time.

    Starts that depend on the data (both off by default) are set by the first training
    batch, in :meth:`loss`, and never on loaded weights (a checkpoint, a resumed run):
    ``output_init='mean_shape'`` starts every regressor (final and branches) at that
    batch's mean shape of the normalised labels (points of weight 0 left out; the mean
    over all processes in distributed training), with output weights 0;
    ``embedding_sigma='median'`` sets the embedding's bandwidth to the median pairwise
    distance of that batch's input vectors. See :class:`aan_core.CoordinateRegressor`.

    Args:
        in_channels: Channels of the backbone outputs. An int: the head reads the last
            feature map only (no intermediate supervision). A sequence (one entry per
            backbone output, shallow to deep): the final prediction reads the last one and
            every output gets an intermediate branch.
        num_joints: ``K``, landmarks to predict.
        embedding_dim: Width ``d`` of the cosine embedding; ``None`` replaces it by a plain
            linear layer (the "w/o embedding" ablation).
        embedding_sigma: RBF bandwidth of the embedding's random-Fourier-feature
            initialisation (``None``: ``sqrt(in_channels / cells)``, cells = 1 for
            ``'gap'``; ``'median'``: the median heuristic on the first training batch).
        final_input: Regressor input of the final head: ``'gap'``, ``'flatten'`` or
            ``'grid<S>'``.
        branch_input: Regressor input of every intermediate branch (same choices).
        feature_sizes: ``(H, W)`` of every backbone output, shallow to deep (for an int
            ``in_channels``: of the last one only); needed by ``'flatten'`` only, e.g.
            ``AANBackbone.feature_sizes(input_size)``.
        output_init: ``'normal'`` (weights ``N(0, 0.01)``, bias 0.5; the layout of
            earlier checkpoints) or ``'mean_shape'`` (above).
        loss: Loss config. With intermediate branches it must be an
            ``IntermediateSupervisionLoss``; without, any MMPose regression loss.
        decoder: Codec config used by ``predict`` (``RegressionLabel``).
        init_cfg: mmengine init config. The default keeps the modules' own initialisation
            (random Fourier features for the embedding).

    Example:
        >>> import aan_components.plugin, torch
        >>> from mmpose.registry import MODELS
        >>> head = MODELS.build(dict(type='CosineEmbeddingHead', in_channels=[64, 128],
        ...                          num_joints=68))
        >>> feats = (torch.randn(2, 64, 8, 8), torch.randn(2, 128, 4, 4))
        >>> head(feats).shape
        torch.Size([2, 68, 2])
    """

    _version = 3  # 3: regressor inputs other than global average pooling

    def __init__(
        self,
        in_channels: int | Sequence[int],
        num_joints: int,
        embedding_dim: int | None = EMBEDDING_DIM,
        embedding_sigma: float | str | None = None,
        final_input: str = "gap",
        branch_input: str = "gap",
        feature_sizes: Sequence[Sequence[int]] | None = None,
        output_init: str = "normal",
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
        num_maps = max(len(branch_channels), 1)
        if feature_sizes is not None and len(feature_sizes) != num_maps:
            raise ValueError(
                f"CosineEmbeddingHead.feature_sizes has {len(feature_sizes)} entries but "
                f"in_channels={in_channels} names {num_maps} feature map(s)")
        sizes = [tuple(s) for s in feature_sizes] if feature_sizes else [None] * num_maps
        self.final_input, self.branch_input = final_input, branch_input
        # the layers of aan_core.AANLandmarkModel (same names behind this head's prefix)
        self.regressor, self.branches = make_regressors(
            branch_channels or [final_channels], num_joints, branches=bool(branch_channels),
            embedding_dim=embedding_dim, embedding_sigma=embedding_sigma,
            final_input=final_input, branch_input=branch_input, feature_sizes=sizes,
            output_init=output_init)
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
        if self.training:  # output_init='mean_shape': the first batch sets the start
            start_at_mean_shape((self.regressor, *self.branches), keypoint_labels,
                                keypoint_weights)

        pred = self.forward(inputs)
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

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys, error_msgs) -> None:
        """Refuse, with a message, regressor weights trained with another regressor input
        (e.g. a head trained on global average pooling loaded into a ``'flatten'`` head);
        strict=False loading would otherwise skip them and leave the head at its random
        initialisation."""
        named = [("final_input", self.final_input, "regressor", self.regressor)]
        named += [("branch_input", self.branch_input, f"branches.{i}", b)
                  for i, b in enumerate(self.branches)]
        for option, mode, name, reg in named:
            first = "embedding.weight" if isinstance(reg.embedding, CosineEmbedding) else \
                "fc.weight"
            saved = state_dict.get(f"{prefix}{name}.{first}")
            expected = reg.in_channels * reg.cells
            if saved is None or saved.ndim != 2 or saved.shape[1] == expected:
                continue
            cells, rest = divmod(saved.shape[1], reg.in_channels)
            used = ("'gap'" if (cells, rest) == (1, 0) else
                    f"one with {cells} cells per channel" if rest == 0 else "another input")
            version = local_metadata.get("version")
            raise ValueError(
                f"CosineEmbeddingHead: the checkpoint's {prefix}{name} reads "
                f"{saved.shape[1]} features (regressor input {used}"
                f"{', head version ' + str(version) if version else ''}) but this head's "
                f"{option}={mode!r} reads {expected}; set model.head.{option} to the input "
                f"the checkpoint was trained with ({used})")
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)
