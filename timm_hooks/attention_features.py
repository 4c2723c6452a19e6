"""Attention stages on any timm backbone: an attention form (AAN's ``F = (1 + M) * H`` by
default) on each selected feature map, inside the backbone (the next stage reads the gated
map, as in AAN) or on its outputs only."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import timm
import torch
from timm.models._features import (
    FeatureDictNet,
    FeatureGetterNet,
    FeatureHookNet,
    FeatureInfo,
)
from timm.models.efficientnet import EfficientNetFeatures
from timm.models.mobilenetv3 import MobileNetV3Features
from torch import Tensor, nn

from aan_core.network.attention_factory import AttentionSpec, attention_name, create_attention

from .attention_forms import ATTENTION_FORMS

__all__ = ["AttentionFeatures", "PLACEMENTS", "attach_attention", "feature_channels"]

PLACEMENTS = ("in_stage", "outputs_only")
"""Where :class:`AttentionFeatures` puts its gates: inside the backbone, or on its outputs."""

# timm's feature extractors whose every level is the output (or, for a 'forward_pre' level,
# the input) of the module feature_info names, a module that runs once per forward and
# whose output the rest of the network reads: a forward hook there gates the stage in place.
# Others (HRNet's: its levels come out of parallel branches after the last stage; FX graph
# extractors) keep placement='outputs_only'.
_IN_STAGE_EXTRACTORS = (FeatureDictNet, FeatureHookNet, FeatureGetterNet, EfficientNetFeatures,
                        MobileNetV3Features)


def feature_channels(model_name: str, out_indices: Sequence[int] | None = None,
                     **timm_kwargs) -> tuple[int, ...]:
    """Channels of each feature level of a timm model, from its ``feature_info``, without
    allocating or loading weights (the model is built on the ``meta`` device)."""
    kwargs = dict(timm_kwargs)
    if out_indices is not None:
        kwargs["out_indices"] = tuple(out_indices)
    with torch.device("meta"):
        model = timm.create_model(model_name, pretrained=False, features_only=True, **kwargs)
    return tuple(model.feature_info.channels())


def _is_nhwc(features: nn.Module) -> bool:
    fmt = getattr(features, "output_fmt", "NCHW")
    return getattr(fmt, "value", str(fmt)) == "NHWC"


def _stage_module(features: nn.Module, name: str) -> nn.Module:
    """The module ``feature_info`` names ``name``, inside a timm feature extractor (whose
    ``FeatureListNet`` joins a first-level ``Sequential``'s names with ``_``; whose
    ``FeatureGetterNet`` / ``FeatureHookNet`` keeps the model in ``.model``)."""
    roots = [features]
    if isinstance(getattr(features, "model", None), nn.Module):
        roots.append(features.model)
    for root in roots:
        for candidate in (name, name.replace(".", "_", 1)):
            try:
                return root.get_submodule(candidate)
            except AttributeError:
                continue
    raise TypeError(f"{type(features).__name__} has no module {name!r} (named by its "
                    f"feature_info): in-stage attention cannot be placed there; use "
                    f"placement='outputs_only'")


# timm's channel attentions: a gain per channel, which a norm over each position's channels
# does not cancel (it changes the vector's direction), unlike a gain per position.
_CHANNEL_FORMS = ("se", "eca")


def _qualified_name(features: nn.Module, module: nn.Module) -> str:
    for name, candidate in features.named_modules():
        if candidate is module:
            return name
    raise TypeError(f"{type(module).__name__} is not inside {type(features).__name__}")


def _next_module(features: nn.Module, module: nn.Module) -> nn.Module | None:
    """The module run right after ``module``: its next sibling in its parent container
    (timm's feature extractors and stage lists run their children in order)."""
    name = _qualified_name(features, module)
    parent = features.get_submodule(name.rsplit(".", 1)[0]) if "." in name else features
    children = list(parent.children())
    index = next(i for i, child in enumerate(children) if child is module)
    return children[index + 1] if index + 1 < len(children) else None


def _position_norm(stage: nn.Module | None, channels: int) -> nn.Module | None:
    """The LayerNorm over ``channels`` that begins ``stage`` on its only path, if any: the
    first module of a ``Sequential``, or of the stage's leading ``downsample`` (timm's
    ConvNeXt stages: ``downsample = Sequential(LayerNorm2d, Conv2d)``). It divides each
    position's channel vector by its own norm, so it cancels a per-position gain
    ``(1 + M(x, y))`` exactly. A residual block's pre-norm (ViT) is not one: its shortcut
    keeps the gain."""
    while stage is not None:
        if isinstance(stage, nn.LayerNorm):
            return stage if tuple(stage.normalized_shape) == (channels,) else None
        first = next(iter(stage.named_children()), None)
        if first is None or not (isinstance(stage, nn.Sequential) or first[0] == "downsample"):
            return None
        stage = first[1]
    return None


class _InputSize:
    """The ``(H, W)`` of the image in the current forward (token maps need it)."""

    hw: tuple[int, int] | None = None


class _StageGate:
    """A forward hook (``'forward'`` levels) or pre-hook (``'forward_pre'`` levels) that
    replaces a stage's map ``H`` by ``(1 + M(H)) * H``, in the stage's own layout: NCHW,
    NHWC (Swin), or ``(B, N, C)`` tokens with prefix tokens first (ViT: the patch tokens are
    gated as a map, the prefix tokens pass)."""

    def __init__(self, gate: nn.Module, name: str, channels: int, reduction: int,
                 nhwc: bool, input_size: _InputSize) -> None:
        self.gate, self.name, self.channels = gate, name, channels
        self.reduction, self.nhwc, self.input_size = reduction, nhwc, input_size
        self.ran = False  # set by every forward through the hook; AttentionFeatures resets it
        # relocated: the next stage's per-position norm, after which the gain is re-applied
        self.norm_name: str | None = None
        self._gated: Tensor | None = None
        self._gain: Tensor | None = None

    def gate_map(self, h: Tensor) -> Tensor:
        """The form on an NCHW map; a relocated gate keeps its gain for :meth:`after_norm`."""
        if self.norm_name is None:
            return self.gate(h)
        self._gain = self.gate.position_gain(h)
        return h * self._gain

    def after_norm(self, module: nn.Module, args: tuple, output: Tensor) -> Tensor:
        """The next stage's per-position norm cancelled the gain: apply it to its output."""
        if self._gain is None or args[0] is not self._gated:
            raise RuntimeError(
                f"in-stage attention: the norm {self.norm_name!r} did not read module "
                f"{self.name!r}'s gated map in this forward, so the gain cannot be moved after "
                f"it; use placement='outputs_only'")
        gain, self._gain, self._gated = self._gain, None, None
        hw = tuple(gain.shape[2:])
        if output.ndim == 4 and output.shape[1] == self.channels and output.shape[2:] == hw:
            return output * gain
        if output.ndim == 4 and output.shape[-1] == self.channels and output.shape[1:3] == hw:
            return output * gain.permute(0, 2, 3, 1)  # a channels-last norm
        raise RuntimeError(f"in-stage attention: the norm {self.norm_name!r} gave "
                           f"{tuple(output.shape)}, not module {self.name!r}'s map layout")

    def __call__(self, module: nn.Module, args: tuple, output: Tensor) -> Tensor:
        gated = self.gated(output)
        if self.norm_name is not None:  # held only until the next stage's norm reads it
            self._gated = gated
        return gated

    def before(self, module: nn.Module, args: tuple) -> tuple:
        return (self.gated(args[0]), *args[1:])

    def gated(self, h: Tensor) -> Tensor:
        self.ran = True
        if isinstance(h, Tensor) and h.ndim == 4:
            if self.nhwc and h.shape[-1] == self.channels:
                return self.gate_map(h.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
            if not self.nhwc and h.shape[1] == self.channels:
                return self.gate_map(h)
        elif isinstance(h, Tensor) and h.ndim == 3 and h.shape[-1] == self.channels:
            return self.gated_tokens(h)
        shape = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
        raise RuntimeError(
            f"in-stage attention: module {self.name!r} gave {shape}, not a map with "
            f"{self.channels} channels (its feature_info); use placement='outputs_only'")

    def gated_tokens(self, tokens: Tensor) -> Tensor:
        batch, count, channels = tokens.shape
        height, width = self.input_size.hw
        r = self.reduction
        for h, w in ((-(-height // r), -(-width // r)), (height // r, width // r)):
            prefix = count - h * w
            if prefix >= 0:
                break
        else:
            raise RuntimeError(f"in-stage attention: module {self.name!r} gave {count} tokens, "
                               f"fewer than a {height}x{width} image's patches at stride {r}")
        patches = tokens[:, prefix:].transpose(1, 2).reshape(batch, channels, h, w)
        gated = self.gate(patches).flatten(2).transpose(1, 2)
        return torch.cat([tokens[:, :prefix], gated], dim=1)


class AttentionFeatures(nn.Module):
    """A timm feature extractor whose every feature map goes through an attention form: by
    default AAN's, weighted by its own spatial attention map (``aan_core``'s gate),
    ``F = (1 + M(H)) * H``; or a control, or timm's ``se`` / ``eca`` / ``cbam``
    (:data:`~timm_hooks.ATTENTION_FORMS`).

    ``placement`` says where:

    - ``'in_stage'`` (default): inside the backbone, on the output of each module that
      ``feature_info`` names (forward hooks on those modules), so the next stage reads the
      gated map, as in AAN's own network. The backbone object itself is changed: it computes
      the gated stages wherever it is called, and cannot be given to a second
      ``AttentionFeatures``. Works for timm's generic feature extractors (``features_only``
      ResNet, RegNet, ConvNeXt, Swin, DenseNet, CSP..., hook-based ones, and
      ``forward_intermediates`` models such as ViT, whose patch tokens are gated as a map)
      and for EfficientNet / MobileNetV3; other extractors (HRNet) raise ``TypeError``.
      Where the next stage begins with a LayerNorm over each position's channels (ConvNeXt's
      ``downsample``), which cancels a per-position gain exactly, the gain computed on the
      level's map is applied again to that norm's output (:attr:`relocated`); a form whose
      spatial gain cannot be moved there (``'cbam'``) is refused;
    - ``'outputs_only'``: the backbone runs unchanged and only the maps it returns are gated
      (what the heads read; no stage reads a gated map).

    Outputs are NCHW whatever the family (Swin-like models emit NHWC; they are permuted).
    ``feature_info`` is the wrapped model's (channels, reduction, module of each output), so
    code written for timm's ``features_only`` models works unchanged.

    Args:
        features: A timm feature extractor (``features_only=True``, or a ``FeatureGetterNet``).
        attention: The form on every level, a name or a dict with options
            (:func:`~aan_core.network.attention_factory.create_attention`); ``'none'`` returns the
            backbone's own maps (ablation).
        placement: ``'in_stage'`` or ``'outputs_only'`` (above).
        attention_forms: The forms to choose from (default
            :data:`~timm_hooks.ATTENTION_FORMS`: ``aan_core``'s and timm's).

    Shape:
        - Input: :math:`(B, 3, H, W)`
        - Output: list of :math:`(B, C_i, H / r_i, W / r_i)` with ``C_i, r_i`` from
          ``feature_info``.

    Example:
        >>> feats = attach_attention('resnet18', out_indices=(1, 2, 3, 4))
        >>> [f.shape[1] for f in feats(torch.randn(1, 3, 64, 64))]
        [64, 128, 256, 512]
        >>> feats.feature_info.reduction()
        [4, 8, 16, 32]
        >>> feats.placement  # layer2 reads layer1's gated map
        'in_stage'
    """

    def __init__(self, features: nn.Module, attention: AttentionSpec = "aan",
                 placement: str = "in_stage",
                 attention_forms: Mapping[str, Callable[..., nn.Module]] | None = None) -> None:
        super().__init__()
        info = getattr(features, "feature_info", None)
        if not isinstance(info, FeatureInfo):
            raise TypeError(
                f"AttentionFeatures needs a timm feature extractor (a model created with "
                f"features_only=True); {type(features).__name__} has no timm FeatureInfo. "
                f"Use attach_attention(), which converts a regular timm model.")
        if placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
        if getattr(features, "_aan_in_stage_gates", False):
            raise ValueError(
                f"this {type(features).__name__} already carries in-stage attention gates of "
                f"another AttentionFeatures (forward hooks on its stages); build a new "
                f"backbone")
        self.features = features
        self.feature_info = info
        self.nhwc = _is_nhwc(features)
        self.placement = placement
        forms = ATTENTION_FORMS if attention_forms is None else attention_forms
        self.attention = attention_name(attention)
        self.gates = nn.ModuleList(create_attention(attention, c, forms)
                                   for c in info.channels())
        self.in_stage = self.attention != "none" and placement == "in_stage"
        self._input_size = _InputSize()
        self._stage_hooks: list[_StageGate] = []
        if self.in_stage:
            self._place_gates_in_stages()

    def _place_gates_in_stages(self) -> None:
        if not isinstance(self.features, _IN_STAGE_EXTRACTORS):
            raise TypeError(
                f"in-stage attention needs a feature extractor whose levels are stage "
                f"outputs that the next stage reads; {type(self.features).__name__}'s are not "
                f"(e.g. HRNet's come from parallel branches after the last stage); use "
                f"placement='outputs_only'")
        nhwc = self.nhwc
        placed = []
        for gate, level in zip(self.gates, self.feature_info.get_dicts(), strict=True):
            module = _stage_module(self.features, level["module"])
            hook = _StageGate(gate, level["module"], level["num_chs"], level["reduction"],
                              nhwc, self._input_size)
            norm = None
            if level.get("hook_type", "forward") != "forward_pre":
                norm = _position_norm(_next_module(self.features, module), level["num_chs"])
            if norm is not None:
                hook.norm_name = self._relocate(gate, level["module"], norm)
                norm = norm if hook.norm_name else None  # a channel gain: it acts as it is
            placed.append((module, hook, level, norm))
        for module, hook, level, norm in placed:
            self._stage_hooks.append(hook)
            if level.get("hook_type", "forward") == "forward_pre":
                module.register_forward_pre_hook(hook.before, prepend=True)
            else:
                # first among the module's hooks: timm's own (FeatureHookNet) see the gated map
                module.register_forward_hook(hook, prepend=True)
            if norm is not None:
                norm.register_forward_hook(hook.after_norm, prepend=True)
        self.features._aan_in_stage_gates = True

    def _relocate(self, gate: nn.Module, stage: str, norm: nn.Module) -> str | None:
        """The name of ``norm`` (which cancels ``stage``'s per-position gain) after which the
        gain is applied again; a form whose gain cannot be moved there is refused."""
        name = _qualified_name(self.features, norm)
        if not hasattr(gate, "position_gain") and self.attention not in _CHANNEL_FORMS:
            raise ValueError(
                f"attention={self.attention!r} in-stage: the LayerNorm {name!r} that begins "
                f"the stage after {stage!r} divides each position by its own norm and cancels "
                f"the form's spatial gain, which cannot be moved after it; use 'aan' (moved "
                f"there), 'se' / 'eca' (per channel: kept) or placement='outputs_only'")
        return name if hasattr(gate, "position_gain") else None

    @property
    def relocated(self) -> dict[int, str]:
        """Levels whose gain the next stage's per-position LayerNorm cancels, each with that
        norm's name: the gain ``1 + M`` computed on the level's map is applied again to the
        norm's output (ConvNeXt: ``stages.{i+1}.downsample[0]``), where it acts."""
        return {i: hook.norm_name for i, hook in enumerate(self._stage_hooks)
                if hook.norm_name is not None}

    @property
    def out_channels(self) -> tuple[int, ...]:
        return tuple(self.feature_info.channels())

    @property
    def attention_maps(self) -> tuple[Tensor | None, ...]:
        """Each output's attention map ``M`` from the last forward (``None``: a form without
        a spatial map)."""
        return tuple(getattr(g, "attention_map", None) for g in self.gates)

    def forward(self, x: Tensor) -> list[Tensor]:
        if self.in_stage:
            self._input_size.hw = (int(x.shape[-2]), int(x.shape[-1]))
            for hook in self._stage_hooks:
                hook.ran = False
        feats = self.features(x)
        if isinstance(feats, dict):
            feats = list(feats.values())
        if len(feats) != len(self.gates):
            raise RuntimeError(
                f"{type(self.features).__name__} returned {len(feats)} feature maps but its "
                f"feature_info lists {len(self.gates)}")
        if self.in_stage:
            missed = [hook.name for hook in self._stage_hooks if not hook.ran]
            if missed:
                raise RuntimeError(
                    f"in-stage attention: {type(self.features).__name__} never ran "
                    f"{missed} as modules in this forward; use placement='outputs_only'")
            return [f.permute(0, 3, 1, 2) if self.nhwc else f for f in feats]
        out = []
        for f, gate in zip(feats, self.gates, strict=True):
            if self.nhwc:
                f = f.permute(0, 3, 1, 2)
            out.append(gate(f))
        return out


def attach_attention(model: str | nn.Module, out_indices: Sequence[int] | None = None,
                     pretrained: bool = False, attention: AttentionSpec = "aan",
                     placement: str = "in_stage",
                     attention_forms: Mapping[str, Callable[..., nn.Module]] | None = None,
                     **timm_kwargs) -> AttentionFeatures:
    """Put AAN attention (or another attention form) on the feature stages of a timm
    backbone.

    Args:
        model: A timm model name (created with ``features_only=True``), a timm
            ``features_only`` model, or a regular timm model that supports
            ``forward_intermediates`` (wrapped with timm's ``FeatureGetterNet``, which drops
            its classifier). Existing weights (pretrained or trained) are kept as they are;
            only the new attention blocks are initialised.
        out_indices: Which feature levels to return (timm's meaning); ``None``: timm's
            default. Not allowed with an already built ``features_only`` model (its levels
            are fixed).
        pretrained: With a name: load timm's pretrained weights (from the local cache or
            the hub; this project never downloads them itself).
        attention: The form, a name or a dict with options (:class:`AttentionFeatures`);
            ``'none'``: no attention (ablation), same outputs as the backbone.
        placement: ``'in_stage'`` (the gated map feeds the next stage, as in AAN) or
            ``'outputs_only'`` (only the returned maps are gated); see
            :class:`AttentionFeatures`.
        attention_forms: See :class:`AttentionFeatures`.
        **timm_kwargs: Passed to ``timm.create_model`` (e.g. ``img_size`` for ViTs).

    Raises:
        TypeError: ``model`` is neither a name nor a timm model that can give features, or
            its feature levels cannot take in-stage attention; the message says why.
    """
    if isinstance(model, str):
        kwargs = dict(timm_kwargs)
        if out_indices is not None:
            kwargs["out_indices"] = tuple(out_indices)
        try:
            features = timm.create_model(model, pretrained=pretrained, features_only=True,
                                         **kwargs)
        except RuntimeError as err:
            raise TypeError(f"timm model {model!r} cannot give feature maps "
                            f"(features_only): {err}") from err
    elif isinstance(getattr(model, "feature_info", None), FeatureInfo):
        if out_indices is not None:
            raise ValueError(
                "out_indices cannot be changed on an already built features_only model; "
                "create it with the out_indices you need")
        features = model
    elif hasattr(model, "forward_intermediates"):
        features = FeatureGetterNet(model, out_indices=tuple(out_indices) if out_indices
                                    else 4, output_fmt="NCHW")
    else:
        raise TypeError(
            f"{type(model).__name__} is not a timm model with feature maps: it is neither "
            f"features_only nor supports forward_intermediates; create it with "
            f"timm.create_model(name, features_only=True)")
    return AttentionFeatures(features, attention=attention, placement=placement,
                             attention_forms=attention_forms)
