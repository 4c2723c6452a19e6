"""``IntermediateSupervisionLoss``: one regression loss on the final and every early prediction."""

from __future__ import annotations

from collections.abc import Sequence

from mmpose.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class IntermediateSupervisionLoss(nn.Module):
    """Applies one MMPose regression loss to the final prediction and to each intermediate
    (per-stage) prediction, against the same ground truth (AAN, Sec. 3.2).

    Returns a dict with one weighted term per prediction, so mmengine logs each stage's loss
    separately and sums them into the total (every key contains ``loss``)::

        {'loss_kpt': w_f * L(final), 'loss_kpt_stage1': w_1 * L(stage 1), ...}

    The weights are summed as given (the paper: all losses summed, each at weight 1), so a
    head with four branches weighs its data term 5x as much as one without, against the
    same weight decay (with Adam's coupled L2; decoupled decay, ``AdamW``, does not depend
    on the loss scale). ``normalise_weights=True`` divides every weight by their total
    (``final_weight + sum(stage_weights)``), so that they sum to 1 with or without branches.

    Args:
        loss: Config of the wrapped loss (``SmoothL1Loss``, ``L1Loss``, ``MSELoss``,
            ``WingLoss``, ``SoftWingLoss``, ...). Its ``use_target_weight`` decides whether
            target weights are applied.
        stage_weights: Weight of each intermediate prediction, one number for all stages or
            one per stage (then its length must equal the number of stage predictions).
        final_weight: Weight of the final prediction.
        loss_name: Key of the final term; stage terms get ``_stage{i}`` appended (1-based).
        normalise_weights: Divide the weights by their total (above).

    Example:
        >>> import aan_components.plugin, torch
        >>> from mmpose.registry import MODELS
        >>> loss = MODELS.build(dict(type='IntermediateSupervisionLoss',
        ...                          loss=dict(type='L1Loss'), stage_weights=0.5))
        >>> t = torch.zeros(2, 5, 2)
        >>> out = loss(torch.ones(2, 5, 2), [torch.ones(2, 5, 2)], t)
        >>> {k: round(v.item(), 3) for k, v in out.items()}
        {'loss_kpt': 1.0, 'loss_kpt_stage1': 0.5}
    """

    def __init__(
        self,
        loss: dict | None = None,
        stage_weights: float | Sequence[float] = 1.0,
        final_weight: float = 1.0,
        loss_name: str = "loss_kpt",
        normalise_weights: bool = False,
    ) -> None:
        super().__init__()
        if "loss" not in loss_name:
            raise ValueError(
                f"IntermediateSupervisionLoss.loss_name={loss_name!r} must contain 'loss', "
                "or mmengine would log it but leave it out of the total"
            )
        loss = loss if loss is not None else dict(type="SmoothL1Loss", use_target_weight=True)
        self.loss = MODELS.build(loss)
        self.stage_weights = (
            float(stage_weights) if isinstance(stage_weights, (int, float))
            else tuple(float(w) for w in stage_weights)
        )
        self.final_weight = float(final_weight)
        self.loss_name = loss_name
        self.normalise_weights = normalise_weights

    def weights_for(self, num_stages: int) -> tuple[float, ...]:
        """The weight of each of ``num_stages`` intermediate predictions."""
        if isinstance(self.stage_weights, float):
            return (self.stage_weights,) * num_stages
        if len(self.stage_weights) != num_stages:
            raise ValueError(
                f"IntermediateSupervisionLoss.stage_weights has {len(self.stage_weights)} "
                f"entries but the head makes {num_stages} intermediate predictions"
            )
        return self.stage_weights

    def forward(
        self,
        final_pred: Tensor,
        stage_preds: Sequence[Tensor],
        target: Tensor,
        target_weight: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Weighted loss of each prediction.

        Args:
            final_pred: Final coordinates, :math:`(B, K, 2)`.
            stage_preds: Intermediate coordinates, each :math:`(B, K, 2)`, shallow to deep.
            target: Ground-truth coordinates, :math:`(B, K, 2)`.
            target_weight: Per-point weights, :math:`(B, K, 1)` or :math:`(B, K)`.

        Returns:
            ``{loss_name: ..., f'{loss_name}_stage{i}': ...}``, each already weighted.
        """
        weights = self.weights_for(len(stage_preds))
        final_weight = self.final_weight
        if self.normalise_weights:
            total = final_weight + sum(weights)
            final_weight, weights = final_weight / total, tuple(w / total for w in weights)
        losses = {self.loss_name: final_weight * self.loss(final_pred, target, target_weight)}
        for i, (pred, w) in enumerate(zip(stage_preds, weights, strict=True), 1):
            losses[f"{self.loss_name}_stage{i}"] = w * self.loss(pred, target, target_weight)
        return losses
