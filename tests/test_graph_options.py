"""GraphOptions: the graph's settings, checked in one place, from the page or the CLI to render and export."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from densviz.core.config import PRESETS, ConfigError
from densviz.core.plan import make_plan
from densviz.draw.graph import DEFAULT_MAX_FULL_LAYERS, Detail
from densviz.draw.options import GraphOptions
from densviz.export import export

TINY = make_plan(PRESETS["tiny"].config, PRESETS["tiny"].input)  # three blocks


def test_defaults_and_a_detail_given_as_a_string() -> None:
    options = GraphOptions()
    assert (options.detail, options.block, options.direction, options.show_cost, options.max_full_layers) == (
        Detail.DENSE,
        None,
        "TB",
        False,
        DEFAULT_MAX_FULL_LAYERS,
    )
    assert GraphOptions("chain").detail is Detail.CHAIN
    assert GraphOptions("chain") == GraphOptions(Detail.CHAIN) and hash(GraphOptions("chain"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.block = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "sentence"),
    [
        ({"detail": "full"}, "detail must be one of dense, chain, overview; got 'full'."),
        ({"direction": "up"}, "direction must be TB (top to bottom) or LR (left to right); got 'up'."),
        ({"max_full_layers": 0}, "max_full_layers must be an integer from 1 to 24; got 0."),
        ({"max_full_layers": True}, "max_full_layers must be an integer from 1 to 24"),
    ],
)
def test_bad_settings_are_refused_when_made(kwargs: dict[str, object], sentence: str) -> None:
    with pytest.raises(ConfigError) as info:
        GraphOptions(**kwargs)  # type: ignore[arg-type]
    assert sentence in str(info.value)


@pytest.mark.parametrize("block", [0, -1, 17])
def test_a_block_number_outside_the_table_is_refused_when_made(block: int) -> None:
    with pytest.raises(ConfigError, match="block must be an integer from 1 to 16"):
        GraphOptions(block=block)


@pytest.mark.parametrize("block", [4, 16])
def test_the_block_is_checked_against_the_plan(block: int) -> None:
    options = GraphOptions(block=block)  # the plan decides how many blocks there are
    with pytest.raises(ConfigError, match="block must be a block number from 1 to 3"):
        options.check(TINY)
    assert GraphOptions(block=3).check(TINY).block == 3


def test_the_file_stem_names_detail_and_block() -> None:
    assert GraphOptions().stem == "graph-dense"
    assert GraphOptions(Detail.OVERVIEW, block=2).stem == "graph-overview-block2"


def test_export_takes_one_options_object(tmp_path: Path) -> None:
    options = GraphOptions(Detail.CHAIN, block=2, direction="LR", show_cost=True)
    result = export(TINY, tmp_path, ["dot"], graph_options=options, charts=[])
    assert [p.name for p in result.files] == ["graph-chain-block2.dot"]
    dot = (tmp_path / "graph-chain-block2.dot").read_text()
    assert "rankdir=LR" in dot and "features.denseblock2.concat1" in dot and "denseblock1.denselayer1" not in dot
    with pytest.raises(ConfigError, match="block must be a block number from 1 to 3"):
        export(TINY, tmp_path / "no", ["dot"], graph_options=GraphOptions(block=4))
    assert not (tmp_path / "no").exists()  # refused before any work
