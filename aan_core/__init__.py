"""Pure-PyTorch core of aan-components (no MMPose, no timm).

Attentional Alignment Networks: residual stages with spatial attention ``F = (1 + M) * H``,
the cosine "nonlinear embedding" ``cos(W x + b)`` and a coordinate regressor.
``timm_hooks`` and the MMPose layer (``aan_components``) build on these modules.
"""

from .aan_features import AANFeatureExtractor, make_pool, make_stem
from .attention import AttentionGate, AttentionResidualStage, SpatialAttention, make_bottleneck
from .coordinate_regressor import REGRESSOR_INPUTS, CoordinateRegressor, regressor_input_cells
from .cosine_embedding import CosineEmbedding, random_fourier_features, rbf_kernel
from .inference_optimization import fuse_conv_bn, optimize_for_inference

__all__ = [
    "AANFeatureExtractor",
    "REGRESSOR_INPUTS",
    "AttentionGate",
    "AttentionResidualStage",
    "CoordinateRegressor",
    "CosineEmbedding",
    "SpatialAttention",
    "fuse_conv_bn",
    "make_bottleneck",
    "make_pool",
    "make_stem",
    "optimize_for_inference",
    "random_fourier_features",
    "rbf_kernel",
    "regressor_input_cells",
]
