"""MMPose models of aan-components; importing this registers them in ``mmpose.registry.MODELS``."""

from mmpose.registry import MODELS

from aan_core import AttentionResidualStage, CosineEmbedding

from .aan_backbone import AANBackbone
from .cosine_embedding_head import CosineEmbeddingHead
from .intermediate_supervision_loss import IntermediateSupervisionLoss

# The pure-torch building blocks, buildable from configs too.
MODELS.register_module(module=AttentionResidualStage)
MODELS.register_module(module=CosineEmbedding)

__all__ = [
    "AANBackbone",
    "AttentionResidualStage",
    "CosineEmbedding",
    "CosineEmbeddingHead",
    "IntermediateSupervisionLoss",
]
