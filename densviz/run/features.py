"""Feature maps: capture modules' outputs for the first image, and tile channels into one grey image."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from densviz.core.config import ConfigError

__all__ = ["FeatureMaps", "capture_feature_maps", "feature_grid"]


@dataclass(frozen=True)
class FeatureMaps:
    """One module's maps for the first image.

    Attributes:
        name: The module.
        output: Its output, (C, H, W) float32 on the CPU.
        inherited: For a dense layer, the concatenation it read, (C_in, H, W).
    """

    name: str
    output: Tensor
    inherited: Tensor | None


def capture_feature_maps(model: nn.Module, x: Tensor, names: Sequence[str]) -> dict[str, FeatureMaps]:
    """Run once and keep the first image's maps of the named modules.

    A dense layer's input is the list of earlier outputs; its concatenation is
    kept as ``inherited``, so that the maps it reuses and the k it adds can be
    shown side by side.
    """
    modules = dict(model.named_modules())
    outputs: dict[str, Tensor] = {}
    inputs: dict[str, Tensor] = {}
    handles = []
    for name in names:
        if name not in modules:
            raise ConfigError("layer", name, "a module of this network, such as features.denseblock1.denselayer2")
        module = modules[name]

        def after(_m: nn.Module, args: tuple[Any, ...], out: Tensor, name: str = name) -> None:
            outputs[name] = out[0].detach().float().cpu()  # (C, H, W)
            first = args[0] if args else None
            if isinstance(first, list):  # a dense layer reads the list of earlier outputs
                inputs[name] = torch.cat([t[0] for t in first], 0).detach().float().cpu()

        handles.append(module.register_forward_hook(after))
    try:
        with torch.inference_mode():
            model.eval()(x[:1].to(next(model.parameters()).device))
    finally:
        for h in handles:
            h.remove()
    return {n: FeatureMaps(n, outputs[n], inputs.get(n)) for n in names}


def feature_grid(maps: Tensor, max_channels: int = 64, columns: int | None = None) -> np.ndarray:
    """Tile channels of a (C, H, W) tensor into one grey image, each channel scaled to its own range.

    Returns:
        (rows·(H+1)−1, cols·(W+1)−1) uint8: channels separated by one-pixel lines.
    """
    c = min(maps.shape[0], max_channels)
    cols = columns or math.ceil(math.sqrt(c))
    rows = math.ceil(c / cols)
    h, w = maps.shape[1], maps.shape[2]
    grid = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), 255, dtype=np.uint8)
    for i in range(c):
        m = maps[i].numpy()
        lo, hi = float(m.min()), float(m.max())
        tile = np.zeros_like(m) if hi <= lo else (m - lo) / (hi - lo)
        r, q = divmod(i, cols)
        grid[r * (h + 1) : r * (h + 1) + h, q * (w + 1) : q * (w + 1) + w] = (tile * 255).astype(np.uint8)
    return grid
