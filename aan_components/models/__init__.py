"""MMPose models of aan-components; importing this registers them in ``mmpose.registry.MODELS``."""

from mmpose.registry import MODELS

from aan_core import AttentionResidualStage, CosineEmbedding

from ..compat.mmcv_lite import install_missing_ops_module

# mmpose.models does not import on mmcv-lite without the mmcv.ops stand-in (a no-op with full
# mmcv; see aan_components.plugin): put it in place before the modules below import it.
install_missing_ops_module()

from .aan_backbone import AANBackbone  # noqa: E402
from .aan_pose_estimator import AANPoseEstimator  # noqa: E402
from .cosine_embedding_head import CosineEmbeddingHead  # noqa: E402
from .euclidean_loss import EuclideanLoss  # noqa: E402
from .face_batch_augment import RandomFaceBatchAugment  # noqa: E402
from .intermediate_supervision_loss import IntermediateSupervisionLoss  # noqa: E402
from .pixel_batch_augment_preprocessor import PixelBatchAugmentPreprocessor  # noqa: E402
from .timm_attention_backbone import TimmAttentionBackbone  # noqa: E402

# The pure-torch building blocks, buildable from configs too.
MODELS.register_module(module=AttentionResidualStage)
MODELS.register_module(module=CosineEmbedding)

__all__ = [
    "AANBackbone",
    "AANPoseEstimator",
    "AttentionResidualStage",
    "CosineEmbedding",
    "CosineEmbeddingHead",
    "EuclideanLoss",
    "IntermediateSupervisionLoss",
    "PixelBatchAugmentPreprocessor",
    "RandomFaceBatchAugment",
    "TimmAttentionBackbone",
]
