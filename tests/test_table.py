"""One column spec for the layer and block tables: the CLI, the page and the CSV files agree."""

from __future__ import annotations

import csv
import io
import re

import pytest

from densviz.cli import main
from densviz.core.config import PRESETS
from densviz.core.plan import make_plan
from densviz.core.table import (
    BLOCK_COLUMNS,
    LAYER_COLUMNS,
    Column,
    Style,
    block_rows,
    headers,
    layer_rows,
    on_screen,
    texts,
    values,
)
from densviz.export import blocks_csv, layers_csv
from tests.test_app import start

TINY = PRESETS["tiny"]


def _cli_headers(capsys: pytest.CaptureFixture[str]) -> list[tuple[str, ...]]:
    """The header line of each table ``densviz summary`` prints (the line above its rule of dashes)."""
    assert main(["summary", "--preset", "tiny"]) == 0
    lines = capsys.readouterr().out.splitlines()
    return [
        tuple(re.split(r"\s{2,}", lines[i - 1].strip()))
        for i, line in enumerate(lines)
        if line.startswith("-") and set(line) <= {"-", " "}
    ]


def _csv_header(text: str) -> tuple[str, ...]:
    return tuple(next(csv.reader(io.StringIO(text))))


def _is_subsequence(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    rest = iter(long)
    return all(any(h == x for x in rest) for h in short)


def test_cli_page_and_csv_use_the_same_column_headers(capsys: pytest.CaptureFixture[str]) -> None:
    plan = make_plan(TINY.config, TINY.input)
    cli_layers, cli_blocks = _cli_headers(capsys)
    at = start({"preset": "tiny", "view": "Layers"})
    page_layers, page_blocks = (tuple(frame.value.columns) for frame in at.dataframe[:2])
    csv_layers, csv_blocks = _csv_header(layers_csv(plan)), _csv_header(blocks_csv(plan))

    assert cli_layers == page_layers == headers(on_screen(LAYER_COLUMNS))
    assert cli_blocks == page_blocks == headers(on_screen(BLOCK_COLUMNS))
    assert csv_layers == headers(LAYER_COLUMNS) and csv_blocks == headers(BLOCK_COLUMNS)
    assert _is_subsequence(cli_layers, csv_layers) and _is_subsequence(cli_blocks, csv_blocks)


def test_the_csv_keeps_raw_numbers_and_the_screen_groups_them() -> None:
    plan = make_plan(PRESETS["densenet121"].config, PRESETS["densenet121"].input)
    conv0 = dict(zip(headers(LAYER_COLUMNS), values(LAYER_COLUMNS, layer_rows(plan))[0], strict=True))
    assert conv0["params"] == 9_408 and conv0["MACs"] == 118_013_952 and conv0["block"] is None
    shown = dict(zip(headers(LAYER_COLUMNS), texts(LAYER_COLUMNS, layer_rows(plan))[0], strict=True))
    assert shown["params"] == "9,408" and shown["MACs"] == "118,013,952" and shown["block"] == "-"
    csv_conv0 = next(csv.DictReader(io.StringIO(layers_csv(plan))))
    assert csv_conv0["MACs"] == "118013952" and csv_conv0["block"] == ""
    last = dict(zip(headers(BLOCK_COLUMNS), texts(BLOCK_COLUMNS, block_rows(plan))[-1], strict=True))
    assert last["C after transition"] == "-" and last["share of params"] == "27.0%"


def test_every_header_is_unique_and_every_key_snake_case() -> None:
    for columns in (LAYER_COLUMNS, BLOCK_COLUMNS):
        assert len(set(headers(columns))) == len(columns)
        assert all(re.fullmatch(r"[a-z_]+", c.key) for c in columns)
        assert all("," not in c.header for c in columns)  # a CSV header needs no quotes


def test_a_column_formats_by_its_style() -> None:
    count: Column[int] = Column("n", "n", lambda r: r, Style.COUNT)
    assert count.text(1234567) == "1,234,567" and count.right
    assert Column("s", "s", lambda r: r, Style.PERCENT).text(0.125) == "12.5%"
    text: Column[str] = Column("t", "t", lambda r: r)
    assert text.text("conv") == "conv" and not text.right and text.text(None) == "-"
