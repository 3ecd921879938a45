"""Where each block looks: class activation maps at every dense block and transition, from one pass.

For one image and one class (the predicted one, or a chosen target), a map per
module tells which positions of that module's output raised the class's score.
Side by side from block 1 to the last block they show attention sharpen with
depth. Two methods, both computed by Captum (PyTorch's interpretability
library), never by arithmetic of ours:

- **Grad-CAM** (Selvaraju et al., arXiv 1610.02391; ``captum.attr.LayerGradCam``
  with the paper's ReLU): each channel weighted by its gradient averaged over
  the map, summed over channels. Smooth, class-discriminative, coarse.
- **Gradient × activation** (``captum.attr.LayerGradientXActivation``, summed
  over channels): the gradient at each position times the activation there.
  Chosen because it keeps *where inside the map* the evidence lies (Grad-CAM
  averages the gradient over the map and can only weigh whole channels), so
  the two side by side separate "which features" from "which pixels"; and it
  needs exactly the gradients and activations Grad-CAM needs, so both come
  from the same pass. The alternatives Captum offers cost more or do not fit
  DenseNet: Layer Integrated Gradients and Layer Conductance take 20–50
  passes each (the issue's budget is under 3× one pass); LRP and DeepLift need
  every non-linearity to be a module, but DenseNet applies its final ReLU and
  every concatenation functionally.

One forward and one backward pass serve every module: Captum's
``LayerGradientXActivation`` takes a list of layers, and with
``multiply_by_inputs=False`` it returns each layer's gradient of the class
score from a single ``torch.autograd.grad`` call (the activations are kept by
a forward hook in the same pass). The parameters are frozen for the pass, so
the backward computes no weight gradients and stops at the earliest module
asked for. Each method's Captum class is then applied per module to the
network *above* that module linearised at this input, ``f(a) = ⟨g, a⟩`` (``g``
the gradient just computed): its gradient at the module is ``g`` and its
activation is ``a``, which is all either method reads, so the maps are exactly
those of calling Captum on the whole network once per module (a test checks
it), at the cost of one pass instead of one per module. On DenseNet-121 at
224×224 on one CPU thread a row takes about 2× a plain forward pass
(``benchmarks/bench_cam.py``).

The API, for the page and the command line (results are plain data: numpy
arrays, ints and strings; nothing holds a tensor)::

    from densviz.run.cam import CamMethod, cam_rows, cam_modules, input_picture, parse_target

    rows = cam_rows(model, x, methods=tuple(CamMethod), target=None, classes=names, device="auto")
    row = rows[CamMethod.GRADCAM]           # a CamRow
    row.target, row.target_name             # the class explained (the predicted one here)
    row.predicted, row.predicted_probability
    for panel in row.panels:                # block 1, transition 1, block 2, …, the last block
        panel.module                        # 'features.denseblock2': the plan's and the Graph view's id
        panel.label                         # 'block 2'
        panel.raw                           # (h, w) float32 at the module's resolution (the plan's out H×W)
        panel.upsampled                     # (H, W) float32 in [0, 1] at the input's size, for overlays
    picture = input_picture(x, IMAGENET_MEAN, IMAGENET_STD)  # (H, W, 3) uint8, what the network saw

and :mod:`densviz.draw.cam` blends a row over the picture (per-panel RGB
arrays, or one labelled PNG row). :func:`cam_row` is the one-method shortcut;
:func:`check_cam_memory` is the memory guard to call before building a big
network for it (a pass with gradients keeps what a training step keeps); the
caller keeps the time guard (a row costs under 3× one forward pass, so
``densviz.run.timing``'s measured pass bounds it). The checks before a pass
and the input's picture live in :mod:`densviz.run.cam_inputs` (re-exported
here); this module makes the pass and calls Captum.

The parameters' ``requires_grad`` flags are switched off for the pass and
restored after the last concurrent CAM pass on the same model ends (a model
shared by several sessions may run several at once); nothing else about the
model changes, apart from what a forward pass does too (it is put in eval
mode and moved to the device).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from densviz.core.config import DenseNetConfig
from densviz.core.errors import ConfigError
from densviz.run.cam_inputs import cam_modules, check_cam_memory, input_picture, module_label, parse_target
from densviz.run.devices import choose_device

__all__ = [
    "CamMethod",
    "CamPanel",
    "CamRow",
    "cam_modules",
    "cam_row",
    "cam_rows",
    "check_cam_memory",
    "input_picture",
    "module_label",
    "parse_target",
]


class CamMethod(StrEnum):
    """How a map is computed (the value is what ``densviz cam --method`` takes)."""

    GRADCAM = "gradcam"
    """Grad-CAM: channels weighted by their map-averaged gradient, summed, ReLU (``LayerGradCam``)."""
    GRAD_X_ACT = "gradxact"
    """Gradient × activation at each position, summed over channels (``LayerGradientXActivation``)."""

    @property
    def label(self) -> str:
        """The method's name for people: ``Grad-CAM``, ``Gradient × activation``."""
        return {CamMethod.GRADCAM: "Grad-CAM", CamMethod.GRAD_X_ACT: "Gradient × activation"}[self]


@dataclass(frozen=True)
class CamPanel:
    """One module's map.

    Attributes:
        module: The module's path, as in the plan and the Graph view (``features.denseblock2``).
        label: For people: ``block 2``, ``transition 1``, ``final norm``.
        raw: (h, w) float32 at the module's output resolution, as Captum computed it: Grad-CAM
            after its ReLU (≥ 0); gradient × activation signed.
        upsampled: (H, W) float32 in [0, 1] at the input's size: ``raw`` upsampled bilinearly
            (Captum's ``LayerAttribution.interpolate``), its positive part divided by its maximum.
            All zeros where no position raised the score (see :attr:`empty`).
    """

    module: str
    label: str
    raw: np.ndarray
    upsampled: np.ndarray

    @property
    def hw(self) -> tuple[int, int]:
        """The module's output (height, width)."""
        return int(self.raw.shape[0]), int(self.raw.shape[1])

    @property
    def empty(self) -> bool:
        """Whether no position raised the class's score here (the map is all zeros)."""
        return not bool(self.upsampled.any())


@dataclass(frozen=True)
class CamRow:
    """One image's maps for one class and one method, from block 1 to the last block.

    Attributes:
        target: The class explained (an index into the logits).
        target_name: Its name where the classes are known, else ``None``.
        method: How the maps were computed.
        panels: One per module, in forward order.
        predicted: The class the network predicts for the image.
        predicted_name: Its name where known, else ``None``.
        predicted_probability: Its softmax probability.
        target_probability: The target's softmax probability.
        input_hw: The input's (height, width): every ``upsampled`` map's shape.
    """

    target: int
    target_name: str | None
    method: CamMethod
    panels: tuple[CamPanel, ...]
    predicted: int
    predicted_name: str | None
    predicted_probability: float
    target_probability: float
    input_hw: tuple[int, int]

    @property
    def explains_prediction(self) -> bool:
        """Whether the target is the predicted class."""
        return self.target == self.predicted

    def describe_target(self) -> str:
        """The target for a sentence: ``daisy (class 985)`` or ``class 3``."""
        return f"{self.target_name} (class {self.target})" if self.target_name else f"class {self.target}"


# --- the pass ----------------------------------------------------------------------

_FREEZE_LOCK = threading.Lock()
_FROZEN: weakref.WeakKeyDictionary[nn.Module, tuple[int, list[tuple[nn.Parameter, bool]]]] = weakref.WeakKeyDictionary()
"""Model -> (CAM passes running on it, each parameter's ``requires_grad`` before the first began)."""


@contextmanager
def _frozen(model: nn.Module) -> Iterator[None]:
    """Parameters without gradients for the pass: no weight gradients, a backward that stops early.

    Counted per model, so concurrent passes on a shared model restore the flags only when the last ends.
    """
    with _FREEZE_LOCK:
        count, saved = _FROZEN.get(model, (0, []))
        if count == 0:
            saved = [(p, p.requires_grad) for p in model.parameters()]
            for p, _ in saved:
                p.requires_grad_(False)
        _FROZEN[model] = (count + 1, saved)
    try:
        yield
    finally:
        with _FREEZE_LOCK:
            count, saved = _FROZEN[model]
            if count == 1:
                for p, flag in saved:
                    p.requires_grad_(flag)
                del _FROZEN[model]
            else:
                _FROZEN[model] = (count - 1, saved)


class _Linearised(nn.Module):
    """The network above one module, to first order at this input: ``f(a) = ⟨g, a⟩`` per image.

    Its gradient at ``layer`` is ``g`` and its activation there is ``a``: all that
    Grad-CAM and gradient × activation read, so Captum's classes give on it the
    maps they give on the whole network.
    """

    def __init__(self, gradient: Tensor) -> None:
        super().__init__()
        self.layer = nn.Identity()
        self.gradient = gradient  # (1, C, h, w)

    def forward(self, activation: Tensor) -> Tensor:
        """(1, C, h, w) -> (1,): the score's first-order change."""
        out: Tensor = (self.layer(activation) * self.gradient).flatten(1).sum(1)
        return out


def _attribute(method: CamMethod, gradient: Tensor, activation: Tensor) -> Tensor:
    """One module's map by Captum's own class for the method: (1, 1, h, w)."""
    from captum.attr import LayerGradCam, LayerGradientXActivation  # type: ignore[import-untyped]

    surrogate = _Linearised(gradient)
    if method is CamMethod.GRADCAM:
        out: Tensor = LayerGradCam(surrogate, surrogate.layer).attribute(activation, relu_attributions=True)
    else:  # (1, C, h, w), summed to one map per module as LayerGradCam sums
        out = LayerGradientXActivation(surrogate, surrogate.layer).attribute(activation).sum(1, keepdim=True)
    return out.detach()


def _upsample(raw: Tensor, hw: tuple[int, int]) -> np.ndarray:
    """(1, 1, h, w) -> (H, W) in [0, 1]: bilinear, then the positive part over its maximum."""
    from captum.attr import LayerAttribution

    up = LayerAttribution.interpolate(raw, hw, interpolate_mode="bilinear")[0, 0].clamp(min=0)  # (H, W)
    top = float(up.max())
    return (up / top if top > 0 else torch.zeros_like(up)).numpy().astype(np.float32)


def _gradients_and_activations(
    model: nn.Module, x: Tensor, layers: Sequence[nn.Module], target: int | None
) -> tuple[list[Tensor], list[Tensor], Tensor, int]:
    """One forward and one backward pass: every layer's gradient of the target's score, its activation, the logits, the target.

    The target is chosen inside the pass (the argmax of the logits when ``None``),
    so the predicted class costs no extra pass.
    """
    from captum.attr import LayerGradientXActivation

    activations: dict[int, Tensor] = {}
    seen: dict[str, Any] = {}

    def keep(i: int) -> Any:
        def hook(_m: nn.Module, _inputs: Any, out: Tensor) -> None:
            # registered before Captum's hook, so it sees the module's own output; a clone, because an
            # in-place op after the module (DenseNet's final ReLU) would change a view of it
            activations[i] = out.detach().clone()

        return hook

    def score(inputs: Tensor) -> Tensor:
        logits: Tensor = model(inputs)  # (1, K)
        k = int(logits[0].argmax()) if target is None else target
        if not 0 <= k < logits.shape[1]:
            raise ConfigError("target", k, f"a class index 0–{logits.shape[1] - 1}",
                              message=f"Class {k} is not an output of this network, which has {logits.shape[1]:,} (0–{logits.shape[1] - 1}).")  # fmt: skip
        seen["logits"], seen["target"] = logits.detach(), k
        return logits[:, k]  # (1,): Captum differentiates this score

    handles = [layer.register_forward_hook(keep(i)) for i, layer in enumerate(layers)]
    try:
        grads = LayerGradientXActivation(score, list(layers), multiply_by_inputs=False).attribute(x)
    finally:
        for h in handles:
            h.remove()
    return [g.detach() for g in grads], [activations[i] for i in range(len(layers))], seen["logits"], seen["target"]


def cam_rows(
    model: nn.Module,
    x: Tensor,
    *,
    methods: Sequence[CamMethod | str] = (CamMethod.GRADCAM,),
    target: int | None = None,
    classes: Sequence[str] | None = None,
    modules: Sequence[str] | None = None,
    device: str | torch.device = "auto",
) -> dict[CamMethod, CamRow]:
    """Class activation maps of one image at every module, for each method, from one forward and one backward pass.

    Args:
        model: Any network with named modules; a DenseNet of :func:`densviz.nn.model.build_model`
            by default shows :func:`cam_modules` (moved to the device, put in eval mode).
        x: The input, (N, C, H, W) or (C, H, W); only the first image is explained.
        methods: Which maps to make (each costs only Captum's per-module arithmetic after the pass).
        target: The class to explain; ``None`` for the predicted class.
        classes: The classes' names where known, one per output.
        modules: The modules to show, by path; ``None`` for :func:`cam_modules` of the model's config.
        device: ``auto`` (CUDA, then MPS, then the CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

    Returns:
        One :class:`CamRow` per method, keyed by it.

    Raises:
        ConfigError: for a target the network does not have, a module it does not have, class names
            that do not fit its outputs, or a device that is not there.
    """
    chosen = [CamMethod(m) for m in methods]
    names = _module_names(model, modules)
    found = dict(model.named_modules())
    missing = [n for n in names if n not in found]
    if missing:
        raise ConfigError("module", missing[0], "a module of this network, such as features.denseblock1",
                          message=f"{missing[0]!r} is not a module of this network; give one such as {names[0] if names[0] in found else 'features.denseblock1'}.")  # fmt: skip
    where = choose_device(str(device)) if not isinstance(device, torch.device) else device
    model = model.to(where).eval()
    image = (x if x.dim() == 4 else x.unsqueeze(0))[:1].to(where)  # (1, C, H, W)
    hw = (int(image.shape[2]), int(image.shape[3]))
    with _frozen(model), torch.enable_grad():
        grads, acts, logits, k = _gradients_and_activations(model, image, [found[n] for n in names], target)
    probs = torch.softmax(logits[0].float(), 0).cpu()  # (K,)
    if classes is not None and len(classes) != probs.numel():
        raise ConfigError("classes", len(classes), f"{probs.numel()} names",
                          message=f"{len(classes)} class names were given for a network with {probs.numel()} outputs.")  # fmt: skip
    predicted = int(probs.argmax())

    def name(i: int) -> str | None:
        return classes[i] if classes is not None else None

    rows: dict[CamMethod, CamRow] = {}
    for method in chosen:
        panels = []
        for module, g, a in zip(names, grads, acts, strict=True):
            raw = _attribute(method, g.float().cpu(), a.float().cpu())  # (1, 1, h, w)
            panels.append(
                CamPanel(module, module_label(module), raw[0, 0].numpy().astype(np.float32), _upsample(raw, hw))
            )
        rows[method] = CamRow(
            target=k,
            target_name=name(k),
            method=method,
            panels=tuple(panels),
            predicted=predicted,
            predicted_name=name(predicted),
            predicted_probability=float(probs[predicted]),
            target_probability=float(probs[k]),
            input_hw=hw,
        )
    return rows


def cam_row(
    model: nn.Module,
    x: Tensor,
    *,
    method: CamMethod | str = CamMethod.GRADCAM,
    target: int | None = None,
    classes: Sequence[str] | None = None,
    modules: Sequence[str] | None = None,
    device: str | torch.device = "auto",
) -> CamRow:
    """One method's row: :func:`cam_rows` with ``methods=(method,)``."""
    chosen = CamMethod(method)
    rows = cam_rows(model, x, methods=(chosen,), target=target, classes=classes, modules=modules, device=device)
    return rows[chosen]


def _module_names(model: nn.Module, modules: Sequence[str] | None) -> tuple[str, ...]:
    """The modules asked for, or a DenseNet's blocks and transitions."""
    if modules is not None:
        if not modules:
            raise ConfigError("module", "", "at least one module", message="Name at least one module to map.")
        return tuple(modules)
    cfg = getattr(model, "config", None)
    if not isinstance(cfg, DenseNetConfig):
        raise ConfigError("module", "", "module paths", message="Name the modules to map: this is not a densviz DenseNet.")  # fmt: skip
    return cam_modules(cfg)
