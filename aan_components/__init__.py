"""aan-components: Attentional Alignment Networks as MMPose modules.

``import aan_components`` (or ``custom_imports = dict(imports=['aan_components'])`` in a
config) registers the AAN backbone, head, loss, datasets and metrics in MMPose's registries.
On mmcv-lite it first makes ``mmpose.models`` importable (models needing compiled mmcv ops
then fail with a clear error when built), and on every stack it makes mmengine load local
checkpoints with ``torch.load(weights_only=True)`` and a small allowlist; on machines
without CUDA it lets ``--launcher pytorch`` train on CPUs (gloo).
"""

from .compat import (
    install_cpu_distributed_support,
    install_missing_ops_module,
    register_safe_local_loader,
)

install_missing_ops_module()
register_safe_local_loader()
install_cpu_distributed_support()

from .datasets import SyntheticFaceDataset  # noqa: E402  (after the compat set-up above)
from .engine import TimeBudgetHook  # noqa: E402
from .evaluation import FaceAlignmentMetric  # noqa: E402
from .models import (  # noqa: E402
    AANBackbone,
    AANPoseEstimator,
    AttentionResidualStage,
    CosineEmbedding,
    CosineEmbeddingHead,
    IntermediateSupervisionLoss,
    TimmAttentionBackbone,
)

__version__ = "0.1.0"

__all__ = [
    "AANBackbone",
    "AANPoseEstimator",
    "AttentionResidualStage",
    "CosineEmbedding",
    "CosineEmbeddingHead",
    "FaceAlignmentMetric",
    "IntermediateSupervisionLoss",
    "SyntheticFaceDataset",
    "TimeBudgetHook",
    "TimmAttentionBackbone",
    "__version__",
]
