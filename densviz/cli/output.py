"""What the commands print: text tables, and the ``densviz: …`` lines on stderr."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TypeVar

from densviz.core.table import Column, headers, texts

__all__ = ["column_table", "note", "say", "text_table"]

R = TypeVar("R")


def text_table(header: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[bool]) -> str:
    """A plain-text table: the header, a rule of dashes, the rows; columns two spaces apart.

    Args:
        header: The column titles.
        rows: The cells (anything ``str`` can show).
        right: Per column, whether it is right-aligned.
    """
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def column_table(columns: Sequence[Column[R]], rows: Sequence[R]) -> str:
    """A text table of the given columns of :mod:`densviz.core.table`, under their headers."""
    return text_table(headers(columns), texts(columns, rows), [c.right for c in columns])


def say(msg: str) -> None:
    """``densviz: msg…`` on stderr: a slow step begins."""
    print(f"densviz: {msg}…", file=sys.stderr, flush=True)


def note(msg: str) -> None:
    """``densviz: note: msg`` on stderr: something simplified or left out."""
    print(f"densviz: note: {msg}", file=sys.stderr)
