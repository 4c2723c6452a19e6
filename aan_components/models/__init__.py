"""MMPose models of aan-components; importing this registers them in ``mmpose.registry.MODELS``."""

from mmpose.registry import MODELS

from aan_core import AttentionResidualStage, CosineEmbedding

from .aan_backbone import AANBackbone
from .aan_pose_estimator import AANPoseEstimator
from .cosine_embedding_head import CosineEmbeddingHead
from .face_batch_augment import RandomFaceBatchAugment
from .intermediate_supervision_loss import IntermediateSupervisionLoss
from .timm_attention_backbone import TimmAttentionBackbone

# The pure-torch building blocks, buildable from configs too.
MODELS.register_module(module=AttentionResidualStage)
MODELS.register_module(module=CosineEmbedding)

__all__ = [
    "AANBackbone",
    "AANPoseEstimator",
    "AttentionResidualStage",
    "CosineEmbedding",
    "CosineEmbeddingHead",
    "IntermediateSupervisionLoss",
    "RandomFaceBatchAugment",
    "TimmAttentionBackbone",
]
