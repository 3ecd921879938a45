"""Feature maps of a dense layer, and the grid they are tiled into."""

from __future__ import annotations

import pytest

import densviz.run as rt
from densviz import build_model
from densviz.core.config import PRESETS, ConfigError

TINY, TINY_INPUT = PRESETS["tiny"].config, PRESETS["tiny"].input


def test_feature_maps_of_a_dense_layer() -> None:
    model = build_model(TINY).eval()
    x = rt.preprocess(rt.sample_images()["flower"], TINY_INPUT, 3)
    maps = rt.capture_feature_maps(model, x, ["features.denseblock2.denselayer2", "features.transition1"])
    layer = maps["features.denseblock2.denselayer2"]
    assert layer.output.shape == (8, 16, 16)  # its k = 8 new maps
    assert layer.inherited is not None and layer.inherited.shape == (24, 16, 16)  # 16 + 8 it reads
    assert maps["features.transition1"].inherited is None
    grid = rt.feature_grid(layer.inherited)
    assert grid.shape == (5 * 17 - 1, 5 * 17 - 1) and grid.dtype.name == "uint8"  # 24 maps in a 5×5 grid
    with pytest.raises(ConfigError, match="layer must be a module of this network"):
        rt.capture_feature_maps(model, x, ["features.nowhere"])
