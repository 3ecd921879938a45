"""The columns of the layer and block tables: one spec for the CLI, the page and the CSV files.

Each :class:`Column` names its key, its header (with the unit where there is
one) and how to read its value from a row. The CSV files hold every column with
raw values; ``densviz summary`` and the page's Layers view show the columns
marked ``on_screen``, under the same headers, the counts with thousands
separators. No torch, plotly or streamlit here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, NamedTuple, TypeVar

from densviz.core.layers import BlockSummary, LayerPlan
from densviz.core.memory import LayerMemory
from densviz.core.plan import ArchitecturePlan

__all__ = [
    "BLOCK_COLUMNS",
    "LAYER_COLUMNS",
    "BlockRow",
    "Cell",
    "Column",
    "LayerRow",
    "Style",
    "block_rows",
    "headers",
    "hw_text",
    "layer_rows",
    "on_screen",
    "texts",
    "values",
]

Cell = int | float | str | None
"""A raw value: what the CSV writes (``None`` as an empty field) and the page sorts by."""

R = TypeVar("R")


class Style(StrEnum):
    """How a column's values are shown as text."""

    TEXT = "text"
    """Words, left-aligned."""
    INT = "int"
    """A small integer (channels, a block number), right-aligned, no separators."""
    COUNT = "count"
    """A large integer (parameters, MACs, bytes), right-aligned, with thousands separators."""
    PERCENT = "percent"
    """A fraction shown as a percentage with one decimal."""


@dataclass(frozen=True)
class Column(Generic[R]):
    """One column of a table.

    Attributes:
        key: Stable identifier (snake_case).
        header: What the column is called everywhere, with its unit.
        get: The raw value of a row.
        style: How the value is shown as text.
        on_screen: Shown by ``densviz summary`` and the page; ``False`` for the
            columns only the CSV holds (too wide for a terminal).
    """

    key: str
    header: str
    get: Callable[[R], Cell]
    style: Style = Style.TEXT
    on_screen: bool = True

    @property
    def right(self) -> bool:
        """Whether a text table right-aligns this column."""
        return self.style is not Style.TEXT

    def text(self, value: Cell) -> str:
        """The value as a text table shows it (``-`` for none)."""
        if value is None:
            return "-"
        if self.style is Style.COUNT and isinstance(value, int):
            return f"{value:,}"
        if self.style is Style.PERCENT and isinstance(value, float):
            return f"{value:.1%}"
        return str(value)


class LayerRow(NamedTuple):
    """A plan row with its memory estimate."""

    layer: LayerPlan
    memory: LayerMemory


class BlockRow(NamedTuple):
    """A dense block with the network's parameter count (for its share)."""

    block: BlockSummary
    total_params: int


def hw_text(hw: Sequence[int]) -> str:
    """A (height, width) pair as ``56×56``."""
    return f"{hw[0]}×{hw[1]}"


LAYER_COLUMNS: tuple[Column[LayerRow], ...] = (
    Column("name", "layer", lambda r: r.layer.name),
    Column("kind", "kind", lambda r: r.layer.kind.value),
    Column("block", "block", lambda r: r.layer.block, Style.INT, on_screen=False),  # the name says it
    Column("index", "index", lambda r: r.layer.index, Style.INT, on_screen=False),
    Column("in_channels", "C in", lambda r: r.layer.in_channels, Style.INT),
    Column("out_channels", "C out", lambda r: r.layer.out_channels, Style.INT),
    Column("in_height", "H in", lambda r: r.layer.in_hw[0], Style.INT),
    Column("in_width", "W in", lambda r: r.layer.in_hw[1], Style.INT),
    Column("out_height", "H out", lambda r: r.layer.out_hw[0], Style.INT),
    Column("out_width", "W out", lambda r: r.layer.out_hw[1], Style.INT),
    Column("params", "params", lambda r: r.layer.params, Style.COUNT),
    Column("macs", "MACs", lambda r: r.layer.macs, Style.COUNT),
    Column("output_bytes", "output (bytes)", lambda r: r.layer.output_bytes, Style.COUNT),
    Column("reads", "reads", lambda r: len(r.layer.inputs), Style.INT),
    Column(
        "inference_live_bytes", "inference live (bytes)", lambda r: r.memory.live_bytes, Style.COUNT, on_screen=False
    ),
    Column(
        "training_saved_naive_bytes",
        "training saved naive (bytes)",
        lambda r: r.memory.saved_naive_bytes,
        Style.COUNT,
        on_screen=False,
    ),
    Column(
        "training_saved_efficient_bytes",
        "training saved efficient (bytes)",
        lambda r: r.memory.saved_efficient_bytes,
        Style.COUNT,
        on_screen=False,
    ),
    Column("inputs", "inputs", lambda r: " ".join(r.layer.inputs), on_screen=False),
)
"""The layer table: one row per module of the plan."""

BLOCK_COLUMNS: tuple[Column[BlockRow], ...] = (
    Column("name", "block", lambda r: r.block.name),
    Column("index", "index", lambda r: r.block.index, Style.INT, on_screen=False),
    Column("layers", "layers", lambda r: r.block.layers, Style.INT),
    Column("in_channels", "C in", lambda r: r.block.in_channels, Style.INT),
    Column("out_channels", "C out", lambda r: r.block.out_channels, Style.INT),
    Column("transition_channels", "C after transition", lambda r: r.block.transition_channels, Style.INT),
    Column("height", "H", lambda r: r.block.hw[0], Style.INT),
    Column("width", "W", lambda r: r.block.hw[1], Style.INT),
    Column("params", "params", lambda r: r.block.params, Style.COUNT),
    Column("macs", "MACs", lambda r: r.block.macs, Style.COUNT),
    Column("output_bytes", "output (bytes)", lambda r: r.block.output_bytes, Style.COUNT),
    Column(
        "share_of_params",
        "share of params",
        lambda r: r.block.params / r.total_params if r.total_params else 0.0,
        Style.PERCENT,
    ),
)
"""The block table: one row per dense block."""


def layer_rows(plan: ArchitecturePlan) -> list[LayerRow]:
    """The plan's modules, in forward order, each with its memory estimate."""
    memory = {m.name: m for m in plan.memory.layers}
    return [LayerRow(r, memory[r.name]) for r in plan.layers]


def block_rows(plan: ArchitecturePlan) -> list[BlockRow]:
    """The plan's dense blocks."""
    return [BlockRow(b, plan.totals.params) for b in plan.blocks]


def on_screen(columns: Sequence[Column[R]]) -> tuple[Column[R], ...]:
    """The columns a terminal or the page shows."""
    return tuple(c for c in columns if c.on_screen)


def headers(columns: Sequence[Column[R]]) -> tuple[str, ...]:
    """The columns' headers, in order."""
    return tuple(c.header for c in columns)


def values(columns: Sequence[Column[R]], rows: Sequence[R]) -> list[tuple[Cell, ...]]:
    """The raw values, one tuple per row."""
    return [tuple(c.get(row) for c in columns) for row in rows]


def texts(columns: Sequence[Column[R]], rows: Sequence[R]) -> list[tuple[str, ...]]:
    """The values as text, one tuple per row."""
    return [tuple(c.text(c.get(row)) for c in columns) for row in rows]
