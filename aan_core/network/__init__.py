"""The paper's network in plain PyTorch: the attention after every residual stage,
``F = (1 + M) * H`` (:mod:`~aan_core.network.attention`; its forms built by name,
:mod:`~aan_core.network.attention_factory`; how a form is named, without torch for the tools
that read configs, :mod:`~aan_core.network.attention_spec`), the stage and the feature extractor
(:mod:`~aan_core.network.attention_stage`, :mod:`~aan_core.network.aan_features`), the cosine
embedding ``cos(W x + b)`` (:mod:`~aan_core.network.cosine_embedding`), the coordinate
regressor (:mod:`~aan_core.network.coordinate_regressor`) and the whole model with its loss
(:mod:`~aan_core.network.landmark_model`).

Their public names import from ``aan_core``; this package imports none of its modules.
"""
