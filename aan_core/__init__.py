"""Pure-PyTorch core of aan-components (no MMPose, no timm).

Attentional Alignment Networks: residual stages with spatial attention ``F = (1 + M) * H``,
the cosine "nonlinear embedding" ``cos(W x + b)`` and a coordinate regressor.
``timm_hooks`` and the MMPose layer (``aan_components``) build on these modules.

The names below are loaded on first use (module ``__getattr__``, PEP 562): importing a
torch-free module of this package (the file and JSON helpers that ``aan convert`` uses) does
not import torch, which alone takes about 2 s to import on a small CPU.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real types, for IDEs and type checkers; at run time, __getattr__
    from .aan_features import (
        DEFAULT_STAGE_CHANNELS,
        DEFAULT_STEM_CHANNELS,
        AANFeatureExtractor,
        make_pool,
        make_stem,
    )
    from .attention import AAN_INIT_GAIN, AttentionGate, FixedGain, SpatialAttention
    from .attention_factory import ATTENTION_FORMS, create_attention
    from .attention_spec import attention_name, legacy_attention
    from .attention_stage import AttentionResidualStage, make_bottleneck
    from .coordinate_regressor import REGRESSOR_INPUTS, CoordinateRegressor, regressor_input_cells
    from .cosine_embedding import (
        EMBEDDING_DIM,
        CosineEmbedding,
        random_fourier_features,
        rbf_kernel,
    )
    from .inference_optimization import fuse_conv_bn, optimize_for_inference
    from .landmark_model import (
        AANLandmarkModel,
        LandmarkRegressionModel,
        landmark_loss,
        make_regressors,
    )

# public name -> the module that defines it (the same as the imports above)
_LAZY_NAMES = {
    "AANFeatureExtractor": "aan_features",
    "DEFAULT_STAGE_CHANNELS": "aan_features",
    "DEFAULT_STEM_CHANNELS": "aan_features",
    "make_pool": "aan_features",
    "make_stem": "aan_features",
    "AAN_INIT_GAIN": "attention",
    "AttentionGate": "attention",
    "FixedGain": "attention",
    "SpatialAttention": "attention",
    "ATTENTION_FORMS": "attention_factory",
    "attention_name": "attention_spec",
    "create_attention": "attention_factory",
    "legacy_attention": "attention_spec",
    "AttentionResidualStage": "attention_stage",
    "make_bottleneck": "attention_stage",
    "REGRESSOR_INPUTS": "coordinate_regressor",
    "CoordinateRegressor": "coordinate_regressor",
    "regressor_input_cells": "coordinate_regressor",
    "CosineEmbedding": "cosine_embedding",
    "EMBEDDING_DIM": "cosine_embedding",
    "random_fourier_features": "cosine_embedding",
    "rbf_kernel": "cosine_embedding",
    "AANLandmarkModel": "landmark_model",
    "LandmarkRegressionModel": "landmark_model",
    "landmark_loss": "landmark_model",
    "make_regressors": "landmark_model",
    "fuse_conv_bn": "inference_optimization",
    "optimize_for_inference": "inference_optimization",
}

__all__ = ["AANFeatureExtractor", "AANLandmarkModel", "AAN_INIT_GAIN", "ATTENTION_FORMS",
           "AttentionGate", "AttentionResidualStage", "CoordinateRegressor", "CosineEmbedding",
           "DEFAULT_STAGE_CHANNELS", "DEFAULT_STEM_CHANNELS", "EMBEDDING_DIM", "FixedGain",
           "LandmarkRegressionModel", "REGRESSOR_INPUTS", "SpatialAttention", "attention_name",
           "create_attention", "fuse_conv_bn", "landmark_loss", "legacy_attention",
           "make_bottleneck", "make_pool", "make_regressors", "make_stem", "optimize_for_inference",
           "random_fourier_features", "rbf_kernel", "regressor_input_cells"]


def __getattr__(name: str) -> Any:
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_NAMES})

