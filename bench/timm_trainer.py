"""A timm backbone (AAN attention on or off) with the AAN head or a plain linear head, for
the equal-budget study (``python -m bench.aan_study --backbones``).

Pure PyTorch + ``aan_core`` + ``timm_hooks`` (no MMPose). What the two heads are:

- ``'aan'``: AAN's output head and intermediate supervision carried over to the timm
  feature pyramid (every map of the backbone's ``feature_info``): the final regressor is
  AAN's (cosine embedding of width 256, then one linear layer) on the **flattened last
  map** (``'flatten'``, what the Table 5 study found best; at 128 px the last map is 4 x 4),
  and every ``feature_info`` map gets a linear branch (no embedding) trained with the same
  L2 loss at weight 1, dropped at test time. A branch reads its map pooled to 4 x 4 and
  flattened (``'grid4'``): timm's first maps are at stride 2 or 4 (64 x 64 at 128 px), too
  large to flatten (resnet18's first branch would hold 35 M weights), while ``'grid4'``
  keeps coarse position, which ``'gap'`` loses. The ``grid4`` branch input is a choice made
  here, not measured against another.
- ``'linear'``: what a timm user would put on a backbone: global average pooling of the
  last map, one linear layer to ``K x 2``; no embedding, no branches. Only the last map is
  extracted (``out_indices`` = the last level), so with attention on only that map is gated.

Attention (``attach_attention(..., attention=True)``) weights each extracted map by
``(1 + M) * H``: inside the backbone by default (``placement='in_stage'``: the next stage
reads the gated map, as in AAN), or only on the maps the heads read
(``placement='outputs_only'``, what every backbone run before the option measured); off,
the maps are the backbone's own.
"""

from __future__ import annotations

import timm
import torch
from torch import nn

from aan_core import EMBEDDING_DIM, CoordinateRegressor, LandmarkRegressionModel
from timm_hooks import attach_attention

HEADS = ("aan", "linear")
FINAL_INPUT = {"aan": "flatten", "linear": "gap"}
BRANCH_INPUT = "grid4"


def timm_kwargs_for(backbone: str, size: int) -> dict:
    """``img_size=size`` for the families built for one input size (ViT, Swin: timm's
    ``fixed_input_size``); nothing for the others, which take any size."""
    cfg = timm.models.get_pretrained_cfg(backbone)
    return dict(img_size=size) if cfg is not None and cfg.fixed_input_size else {}


def last_level(backbone: str, **timm_kwargs) -> int:
    """timm's index of the deepest feature level of ``backbone`` (built on ``meta``)."""
    with torch.device("meta"):
        model = timm.create_model(backbone, pretrained=False, features_only=True,
                                  **timm_kwargs)
    return model.feature_info.out_indices[-1]


class TimmLandmarkTrainer(LandmarkRegressionModel):
    """A timm backbone with AAN attention on/off and the ``'aan'`` or ``'linear'`` head.

    ``aan_core.LandmarkRegressionModel`` on ``timm_hooks`` features (the interface of
    ``aan_core.AANLandmarkModel``): ``forward(x, target)`` gives the training loss (final
    prediction + every branch, weights 1), ``predict(x)`` the test-time coordinates.

    Args:
        backbone: timm model name.
        head: ``'aan'`` or ``'linear'`` (module docstring).
        attention: AAN attention on the extracted maps.
        size: Crop side (the ``'flatten'`` head is sized for it).
        num_points: ``K``.
        pretrained: Load timm's weights (local cache or hub); they are kept as loaded.
        placement: ``'in_stage'`` or ``'outputs_only'`` (module docstring).
        output_init, embedding_sigma, normalise_weights: How the regressors start and
            the loss weights (``aan_core.AANLandmarkModel``'s options; paper-literal by
            default).

    Raises:
        ValueError: An unknown head.

    Shape:
        - x: :math:`(B, 3, S, S)`, target: :math:`(B, K, 2)` in ``[0, 1]``
        - predict: :math:`(B, K, 2)`
    """

    def __init__(self, backbone: str, head: str, attention: bool, size: int,
                 num_points: int = 68, pretrained: bool = False, placement: str = "in_stage",
                 output_init: str = "normal", embedding_sigma: float | str | None = None,
                 normalise_weights: bool = False) -> None:
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        kwargs = timm_kwargs_for(backbone, size)
        out_indices = (last_level(backbone, **kwargs),) if head == "linear" else None
        features = attach_attention(backbone, out_indices=out_indices, pretrained=pretrained,
                                    attention=attention, placement=placement, **kwargs)
        was_training = features.training
        features.eval()
        with torch.no_grad():
            sizes = [tuple(m.shape[2:]) for m in features(torch.zeros(1, 3, size, size))]
        features.train(was_training)
        channels = features.out_channels
        regressor = CoordinateRegressor(
            channels[-1], num_points, embedding_dim=EMBEDDING_DIM if head == "aan" else None,
            embedding_sigma=embedding_sigma if head == "aan" else None,
            regressor_input=FINAL_INPUT[head], feature_size=sizes[-1], output_init=output_init)
        branches = nn.ModuleList(
            CoordinateRegressor(c, num_points, embedding_dim=None, regressor_input=BRANCH_INPUT,
                                output_init=output_init)
            for c in channels) if head == "aan" else nn.ModuleList()
        super().__init__(features, regressor, branches,
                         normalise_weights=normalise_weights)
        self.feature_sizes = sizes
