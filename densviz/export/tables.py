"""The plan's layers and blocks as CSV: every column of :mod:`densviz.core.table`, raw numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from densviz.core.plan import ArchitecturePlan
from densviz.core.table import BLOCK_COLUMNS, LAYER_COLUMNS, Cell, block_rows, headers, layer_rows, values

__all__ = ["blocks_csv", "layers_csv"]


def _csv(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)  # None is written as an empty field
    return buf.getvalue()


def layers_csv(plan: ArchitecturePlan) -> str:
    """One row per module: the plan's numbers, with its memory estimates."""
    return _csv(headers(LAYER_COLUMNS), values(LAYER_COLUMNS, layer_rows(plan)))


def blocks_csv(plan: ArchitecturePlan) -> str:
    """One row per dense block."""
    return _csv(headers(BLOCK_COLUMNS), values(BLOCK_COLUMNS, block_rows(plan)))
