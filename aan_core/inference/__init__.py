"""A trained network at work: BatchNorm folded and channels-last for fast inference
(:mod:`~aan_core.inference.inference_optimization`) and One Euro smoothing of landmark tracks
over a video's frames (:mod:`~aan_core.inference.temporal_smoothing`).

Import the module you need; this package imports none of them.
"""
