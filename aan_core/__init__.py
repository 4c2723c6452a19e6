"""Pure-PyTorch core of aan-components (no MMPose, no timm).

Attentional Alignment Networks: residual stages with spatial attention ``F = (1 + M) * H``,
the cosine "nonlinear embedding" ``cos(W x + b)`` and a coordinate regressor.
``timm_hooks`` and the MMPose layer (``aan_components``) build on these modules.

Grouped by concern, each subpackage importing only those below it: :mod:`aan_core.utils`
(files and input errors); :mod:`aan_core.data` (synthetic faces, batch augmentation),
:mod:`aan_core.network` (the layers and the model) and :mod:`aan_core.evaluation` (metrics,
protocols, the paper's numbers); :mod:`aan_core.inference` (BN folding, smoothing).

The names below are loaded on first use (module ``__getattr__``, PEP 562): importing a
torch-free module of this package (the file and JSON helpers that ``aan convert`` uses) does
not import torch, which alone takes about 2 s to import on a small CPU.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real types, for IDEs and type checkers; at run time, __getattr__
    from .inference.inference_optimization import fuse_conv_bn, optimize_for_inference
    from .network.aan_features import (
        DEFAULT_STAGE_CHANNELS,
        DEFAULT_STEM_CHANNELS,
        AANFeatureExtractor,
        make_pool,
        make_stem,
    )
    from .network.attention import AAN_INIT_GAIN, AttentionGate, FixedGain, SpatialAttention
    from .network.attention_factory import ATTENTION_FORMS, create_attention
    from .network.attention_spec import attention_name, legacy_attention
    from .network.attention_stage import AttentionResidualStage, make_bottleneck
    from .network.coordinate_regressor import (
        REGRESSOR_INPUTS,
        CoordinateRegressor,
        regressor_input_cells,
    )
    from .network.cosine_embedding import (
        EMBEDDING_DIM,
        CosineEmbedding,
        random_fourier_features,
        rbf_kernel,
    )
    from .network.landmark_model import (
        AANLandmarkModel,
        LandmarkRegressionModel,
        landmark_loss,
        make_regressors,
    )

# public name -> the module that defines it (the same as the imports above)
_LAZY_NAMES = {
    "AANFeatureExtractor": "network.aan_features",
    "DEFAULT_STAGE_CHANNELS": "network.aan_features",
    "DEFAULT_STEM_CHANNELS": "network.aan_features",
    "make_pool": "network.aan_features",
    "make_stem": "network.aan_features",
    "AAN_INIT_GAIN": "network.attention",
    "AttentionGate": "network.attention",
    "FixedGain": "network.attention",
    "SpatialAttention": "network.attention",
    "ATTENTION_FORMS": "network.attention_factory",
    "attention_name": "network.attention_spec",
    "create_attention": "network.attention_factory",
    "legacy_attention": "network.attention_spec",
    "AttentionResidualStage": "network.attention_stage",
    "make_bottleneck": "network.attention_stage",
    "REGRESSOR_INPUTS": "network.coordinate_regressor",
    "CoordinateRegressor": "network.coordinate_regressor",
    "regressor_input_cells": "network.coordinate_regressor",
    "CosineEmbedding": "network.cosine_embedding",
    "EMBEDDING_DIM": "network.cosine_embedding",
    "random_fourier_features": "network.cosine_embedding",
    "rbf_kernel": "network.cosine_embedding",
    "AANLandmarkModel": "network.landmark_model",
    "LandmarkRegressionModel": "network.landmark_model",
    "landmark_loss": "network.landmark_model",
    "make_regressors": "network.landmark_model",
    "fuse_conv_bn": "inference.inference_optimization",
    "optimize_for_inference": "inference.inference_optimization",
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

