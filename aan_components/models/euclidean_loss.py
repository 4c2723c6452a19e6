"""``EuclideanLoss``: the L2 coordinate loss at Caffe's scale, ``sum((pred - gt)^2) / (2 N)``."""

from __future__ import annotations

from mmpose.models.losses import MSELoss
from mmpose.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class EuclideanLoss(MSELoss):
    """Caffe's ``EuclideanLoss`` for coordinates: the squared error summed over the points
    and their two coordinates, averaged over the batch and halved, ``sum((p - g)^2) / (2 N)``.

    That is MMPose's element-mean :class:`~mmpose.models.losses.MSELoss` times the number
    of points ``K``, read from the prediction's shape: no config has to restate ``K``. With
    the plain element mean the gradients are ``K`` times smaller, and the paper's weight
    decay (Adam's coupled L2, 1e-3) then outweighs them (docs/reproducing.md, "The loss scale").

    Args:
        use_target_weight: Multiply prediction and target by the per-point weights first
            (as ``MSELoss``; a point of weight 0 adds nothing).
        loss_weight: Extra factor on top of the ``K`` scale (default 1).

    Shape:
        - output: :math:`(N, K, 2)`
        - target: :math:`(N, K, 2)`
        - target_weight: :math:`(N, K, 1)` (or broadcastable to the output)
        - returns: a scalar

    Example:
        >>> import torch
        >>> from aan_components.models import EuclideanLoss
        >>> loss = EuclideanLoss()
        >>> loss(torch.ones(2, 5, 2), torch.zeros(2, 5, 2))  # 2 * 5 * 2 / (2 * 2)
        tensor(5.)
    """

    def forward(self, output: Tensor, target: Tensor, target_weight: Tensor | None = None
                ) -> Tensor:
        return super().forward(output, target, target_weight) * output.shape[-2]
