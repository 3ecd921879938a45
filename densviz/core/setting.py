"""What one setting is: its type, range, default, meaning, flag, query key and widget.

:class:`Setting` checks a typed value (as a dataclass or JSON gets it), parses
the text of a link, a flag or a widget, writes a value back as text, and says in
one phrase what is allowed. The table of every setting is
:mod:`densviz.core.settings`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from densviz.core.errors import ConfigError

__all__ = ["Group", "Kind", "Setting", "Widget"]


class Group(StrEnum):
    """Which object a setting belongs to."""

    START = "start"
    """Where the settings start from (a preset)."""
    ARCHITECTURE = "architecture"
    """A field of ``DenseNetConfig``."""
    INPUT = "input"
    """A field of ``InputSpec`` (or the ``input_size`` shorthand)."""
    GRAPH = "graph"
    """How the concatenation graph is drawn (``GraphOptions``)."""
    FORWARD = "forward"
    """How a forward pass runs (``densviz run``, the Forward pass view)."""
    TRAINING = "training"
    """How the Feature reuse training runs (``densviz reuse``)."""


class Kind(StrEnum):
    """The type of a setting's value."""

    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    CHOICE = "choice"
    INT_LIST = "int_list"
    """Comma-separated integers (``block_config``)."""
    SIZE = "size"
    """``224`` or ``224x160`` (height × width)."""
    TEXT = "text"
    """A name or a path, checked where it is used."""


class Widget(StrEnum):
    """How the page shows a setting."""

    SLIDER = "slider"
    NUMBER = "number"
    TOGGLE = "toggle"
    SEGMENTED = "segmented"
    SELECT = "select"
    BLOCKS = "blocks"
    """A block count and one layer count per block."""
    NONE = "none"
    """Not a control of its own (a flag or a query key only)."""


_LINKED = frozenset({Group.START, Group.ARCHITECTURE, Group.INPUT, Group.GRAPH})
"""The groups whose settings a link (the query string) carries."""
_WIDGET_OF_KIND = {Kind.BOOL: Widget.TOGGLE, Kind.CHOICE: Widget.SEGMENTED}

_INT_RE = re.compile(r"^[+-]?[0-9]{1,12}$")  # ASCII digits only: int() also reads ٣ and １２
_FLOAT_RE = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,4})?$")
_SIZE_RE = re.compile(r"^([0-9]{1,6})(?:\s*[x×X*,]\s*([0-9]{1,6}))?$")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_NONE_WORDS = frozenset({"", "auto", "none"})


def _number(value: float) -> str:
    """A bound as a user reads it: 1,024 or 0.5."""
    return f"{value:,}" if float(value).is_integer() and not isinstance(value, float) else f"{value:,g}"


@dataclass(frozen=True)
class Setting:
    """One setting: what it is, what it may be, and where the user meets it.

    Attributes:
        name: Field name, query-string key and widget key (``growth_rate``).
        group: The object it belongs to.
        kind: The type of its value.
        default: Its value when not given (``None``: automatic, see ``meaning``).
        label: The control's label on the page.
        meaning: The paper's (or the tool's) meaning, in one sentence.
        unit: The unit of its value, if any.
        low: Smallest allowed number (for INT, FLOAT and each INT_LIST entry).
        high: Largest allowed number.
        low_open: FLOAT only: ``low`` itself is not allowed.
        high_open: FLOAT only: ``high`` itself is not allowed.
        symbol: FLOAT only: the name in the "allowed" sentence (θ, p).
        choices: CHOICE only: the allowed values, with a label each.
        count: INT_LIST only: (fewest, most) entries.
        optional: ``None`` (typed as ``auto``/``none``/nothing) is allowed.
        widget: The control that shows it (a toggle for BOOL, segments for CHOICE by default).
        widget_range: The control's range where it differs from (low, high).
        step: The control's step.
        flag: The CLI flag; ``""`` for none.
        metavar: The flag's value placeholder in ``--help`` (derived from the kind if empty).
        query: The query-string key; ``""`` for none (by default the name for the network's
            and the graph's settings, none for how a run or a training goes).
        example: An example value for the "allowed" sentence of INT_LIST and SIZE.
        spell_out: CHOICE only: the "allowed" sentence gives each choice's label.
        page_default: Where the page's control starts when it differs from ``default``
            (the app caps a training run at a minute; the command line does not).
    """

    name: str
    group: Group
    kind: Kind
    default: Any
    label: str
    meaning: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    symbol: str = ""
    choices: tuple[tuple[Any, str], ...] = ()
    count: tuple[int, int] = (1, 1)
    optional: bool = False
    widget: Widget = Widget.NONE
    widget_range: tuple[float, float] | None = None
    step: float | None = None
    flag: str = "auto"
    metavar: str = ""
    query: str = "auto"
    example: str = ""
    spell_out: bool = False
    page_default: Any = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: fill the derived defaults once
        if self.flag == "auto":
            set_(self, "flag", "--" + self.name.replace("_", "-"))
        if self.query == "auto":  # links carry the network and its drawing, not how a run or training goes
            set_(self, "query", self.name if self.group in _LINKED else "")
        if not self.metavar:
            set_(self, "metavar", self._default_metavar())
        if self.widget is Widget.NONE and self.kind in _WIDGET_OF_KIND:
            set_(self, "widget", _WIDGET_OF_KIND[self.kind])

    def _default_metavar(self) -> str:
        if self.kind is Kind.CHOICE:
            return "|".join(str(v) for v in self.choice_values)
        if self.kind is Kind.FLOAT:
            return self.symbol.upper() if self.symbol.isascii() else self.symbol
        return "N" if self.kind is Kind.INT else self.name.upper()

    # --- what is allowed -------------------------------------------------

    @property
    def choice_values(self) -> tuple[Any, ...]:
        """CHOICE: the allowed values."""
        return tuple(value for value, _label in self.choices)

    @property
    def allowed(self) -> str:
        """The phrase that ends "NAME must be …" in every error about this setting."""
        lo, hi = self.low, self.high
        if self.kind is Kind.INT:
            return f"an integer from {_number(lo or 0)} to {_number(hi or 0)}"
        if self.kind is Kind.FLOAT:
            s = self.symbol or "x"
            left = "<" if self.low_open else "≤"
            right = "<" if self.high_open else "≤"
            noun = "a probability" if self.symbol == "p" else "a number"
            return f"{noun} {s} with {_number(lo or 0)} {left} {s} {right} {_number(hi or 0)}"
        if self.kind is Kind.BOOL:
            return "true or false"
        if self.kind is Kind.CHOICE:
            if self.spell_out:
                return " or ".join(f"{value} ({label})" for value, label in self.choices)
            return "one of " + ", ".join(str(v) for v in self.choice_values)
        if self.kind is Kind.INT_LIST:
            return (
                f"a list of {self.count[0]} to {self.count[1]} layer counts, each an integer from "
                f"{_number(lo or 0)} to {_number(hi or 0)}, such as {self.example}"
            )
        if self.kind is Kind.SIZE:
            return f"a size such as {self.example} (height x width)"
        return self.meaning

    @property
    def help(self) -> str:
        """The meaning and the default, as ``--help`` and the page's tooltips say it."""
        if self.default is None or self.kind is Kind.TEXT:
            return self.meaning
        return f"{self.meaning} (default {self.to_text(self.default)})"

    @property
    def control_range(self) -> tuple[float, float]:
        """The widget's (min, max)."""
        if self.widget_range is not None:
            return self.widget_range
        assert self.low is not None and self.high is not None, self.name
        return (self.low, self.high)

    # --- typed values ----------------------------------------------------

    def _fail(self, value: Any) -> ConfigError:
        return ConfigError(self.name, value, self.allowed)

    def check(self, value: Any) -> Any:
        """A typed value (as JSON or the dataclass gets it) checked against the table.

        Returns:
            The value, normalised (a tuple for INT_LIST, a float for FLOAT).

        Raises:
            ConfigError: naming the setting, the value and what is allowed.
        """
        if value is None and self.optional:
            return None
        if self.kind is Kind.INT:
            if isinstance(value, bool) or not isinstance(value, int) or not self._in_range(value):
                raise self._fail(value)
            return value
        if self.kind is Kind.FLOAT:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self._fail(value)
            number = float(value)
            if not math.isfinite(number) or not self._in_range(number):
                raise self._fail(value)
            return number
        if self.kind is Kind.BOOL:
            if not isinstance(value, bool):
                raise self._fail(value)
            return value
        if self.kind is Kind.CHOICE:
            same_type = all(
                isinstance(value, str if isinstance(c, str) else int) for c in self.choice_values
            )  # 3.0 ≠ 3
            if isinstance(value, bool) or not same_type or value not in self.choice_values:
                raise self._fail(value)
            return value
        if self.kind is Kind.INT_LIST:
            return self._check_list(value)
        return value

    def _in_range(self, number: float) -> bool:
        lo, hi = self.low, self.high
        above = lo is None or (number > lo if self.low_open else number >= lo)
        below = hi is None or (number < hi if self.high_open else number <= hi)
        return above and below

    def _check_list(self, value: Any) -> tuple[int, ...]:
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise self._fail(value)
        items = tuple(value)
        if not self.count[0] <= len(items) <= self.count[1]:
            raise self._fail(items)
        for n in items:
            if isinstance(n, bool) or not isinstance(n, int) or not self._in_range(n):
                raise self._fail(items)
        return items

    # --- text: query strings, flags, widgets --------------------------------

    def parse(self, text: str) -> Any:
        """Turn the text of a link, a flag or a widget into a checked value.

        Raises:
            ConfigError: naming the setting, the text and what is allowed.
        """
        word = text.strip()
        if self.optional and word.lower() in _NONE_WORDS:
            return None
        if self.kind is Kind.INT:
            if not _INT_RE.fullmatch(word):
                raise self._fail(text)
            return self.check(int(word))
        if self.kind is Kind.FLOAT:
            if not _FLOAT_RE.fullmatch(word) or not math.isfinite(float(word)):
                raise self._fail(text)
            return self.check(float(word))
        if self.kind is Kind.BOOL:
            if word.lower() in _TRUE:
                return True
            if word.lower() in _FALSE:
                return False
            raise self._fail(text)
        if self.kind is Kind.CHOICE:
            for value in self.choice_values:
                if str(value).lower() == word.lower():
                    return value
            raise self._fail(text)
        if self.kind is Kind.INT_LIST:
            parts = [p.strip() for p in word.replace(" ", ",").strip(",").split(",")] if word else []
            if not parts or len(parts) > self.count[1] or not all(_INT_RE.fullmatch(p) for p in parts):
                raise self._fail(text)
            return self.check(tuple(int(p) for p in parts))
        if self.kind is Kind.SIZE:
            match = _SIZE_RE.fullmatch(word)
            if not match:
                raise self._fail(text)
            height = int(match.group(1))
            return (height, int(match.group(2) or height))
        return word

    def to_text(self, value: Any) -> str:
        """The text :meth:`parse` turns back into ``value``."""
        if value is None:
            return "auto"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, tuple | list):
            sep = "x" if self.kind is Kind.SIZE else ","
            return sep.join(str(v) for v in value)
        if isinstance(value, float):
            return repr(value)
        return str(value)
