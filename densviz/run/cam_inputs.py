"""A class activation map row's inputs, checked before its pass, and the picture its maps are laid over.

Which modules a row shows (:func:`cam_modules`, each dense block and
transition, with their labels), which class it explains (:func:`parse_target`:
an index, or a name where the classes are known), whether its pass fits the
memory budget (:func:`check_cam_memory`, to call before a big network is
built), and the input as a picture (:func:`input_picture`). No Captum here:
the pass itself and the maps are :mod:`densviz.run.cam`'s (which re-exports
these names).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from densviz.core.config import DenseNetConfig, InputSpec
from densviz.core.errors import ConfigError
from densviz.core.memory import DEFAULT_BUDGET_BYTES
from densviz.core.plan import make_plan
from densviz.core.units import format_bytes

__all__ = ["cam_modules", "check_cam_memory", "input_picture", "module_label", "parse_target"]


# --- which modules -------------------------------------------------------------


def cam_modules(cfg: DenseNetConfig, *, final_norm: bool = False) -> tuple[str, ...]:
    """The modules a row shows for a DenseNet: each dense block and transition in forward order.

    Args:
        cfg: The architecture (only the number of blocks matters).
        final_norm: Also ``features.norm5``, the batch norm after the last block (the classic
            Grad-CAM layer of torchvision's DenseNets: the last maps before the pooling).

    Returns:
        ``features.denseblock1``, ``features.transition1``, …, ``features.denseblockN``
        (then ``features.norm5``): the plan's row and block names.
    """
    names: list[str] = []
    for b in range(1, len(cfg.block_config) + 1):
        names.append(f"features.denseblock{b}")
        if b < len(cfg.block_config):
            names.append(f"features.transition{b}")
    if final_norm:
        names.append("features.norm5")
    return tuple(names)


def module_label(module: str) -> str:
    """A panel's label: ``block 2``, ``transition 1``, ``final norm``; any other module its own path."""
    leaf = module.removeprefix("features.")
    for prefix, word in (("denseblock", "block"), ("transition", "transition")):
        if leaf.startswith(prefix) and leaf[len(prefix) :].isdigit():
            return f"{word} {leaf[len(prefix) :]}"
    return "final norm" if leaf == "norm5" else module


# --- checks before a pass --------------------------------------------------------


def parse_target(
    text: str | int | None, num_classes: int, classes: Sequence[str] | None = None, *, flag: str = "--target"
) -> int | None:
    """The class a row should explain: an index, or a class's name where the classes are known.

    Args:
        text: ``None`` (the predicted class), an index (``985``) or a name (``daisy``, any case).
        num_classes: The network's classes.
        classes: Their names, where known.
        flag: How the user gave it, for the sentence.

    Raises:
        ConfigError: naming the value and what is allowed (the index range, or the names).
    """
    if text is None:
        return None
    value = str(text).strip()
    allowed = f"a class index 0–{num_classes - 1}" + (" or a class name" if classes else "")
    try:
        index = int(value)
    except ValueError:
        index = None
    if index is not None:
        if not 0 <= index < num_classes:
            raise ConfigError(
                "target",
                text,
                allowed,
                message=f"{flag} {value}: this network has {num_classes:,} classes, so give {allowed}.",
            )
        return index
    if not classes:
        raise ConfigError(
            "target",
            text,
            allowed,
            message=f"{flag} {value!r}: this network's classes have no names here, so give {allowed}.",
        )
    matches = [i for i, name in enumerate(classes) if name.casefold() == value.casefold()]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ConfigError(
            "target",
            text,
            allowed,
            message=f"{flag} {value!r} names {len(matches)} classes ({', '.join(map(str, matches))}); give the index.",
        )
    near = [name for name in classes if value.casefold() in name.casefold()][:5]
    hint = f" (classes containing it: {', '.join(near)})" if near else ""
    raise ConfigError(
        "target", text, allowed, message=f"{flag} {value!r} is not a class of this network; give {allowed}{hint}."
    )


def check_cam_memory(cfg: DenseNetConfig, hw: tuple[int, int], budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
    """Refuse, before anything is built, a row whose pass would need more memory than the budget.

    A pass with gradients keeps what a training step keeps for its backward (every
    dense layer's concatenation and normalised input), so the plan's naive
    training-step estimate for one image bounds it.

    Raises:
        ConfigError: naming the estimate and the budget.
    """
    plan = make_plan(cfg, InputSpec(batch=1, height=hw[0], width=hw[1]))
    need = plan.memory.training_naive_bytes
    if need > budget_bytes:
        raise ConfigError(
            "memory",
            need,
            f"at most {format_bytes(budget_bytes)}",
            message=(
                f"Class activation maps for this network at {hw[0]}×{hw[1]} need about {format_bytes(need)} "
                f"(one image, forward and backward), over the memory budget of {format_bytes(budget_bytes)}; "
                "lower the input size, the growth rate or the layers per block."
            ),
        )


# --- the picture under the maps ------------------------------------------------------


def input_picture(
    x: Tensor, mean: Sequence[float] | float | None = None, std: Sequence[float] | float | None = None
) -> np.ndarray:
    """The first image of a network input as a picture: (H, W, 3) uint8.

    Args:
        x: (N, C, H, W) or (C, H, W), normalised.
        mean: The per-channel (or one) mean the input was normalised with, to undo it; with ``std``.
        std: The standard deviation it was divided by.

    Without ``mean`` and ``std`` (a random input, or a grey luminance of
    normalised colours) the image is stretched from its minimum to its maximum.
    A one-channel image is shown grey.
    """
    image = (x if x.dim() == 3 else x[0]).detach().float().cpu()  # (C, H, W)
    if mean is not None and std is not None:
        c = image.shape[0]
        m = torch.as_tensor(mean, dtype=torch.float32).reshape(-1, 1, 1).expand(c, 1, 1)
        s = torch.as_tensor(std, dtype=torch.float32).reshape(-1, 1, 1).expand(c, 1, 1)
        image = (image * s + m).clamp(0, 1)
    else:
        lo, hi = float(image.min()), float(image.max())
        image = (image - lo) / (hi - lo) if hi > lo else torch.zeros_like(image)
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    return (image[:3].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)  # (H, W, 3)
