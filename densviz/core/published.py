"""Published results beside published sizes, each number with where it was printed.

The numbers live in ``published.json`` next to this module, as text exactly as
printed, each with its source:

* Huang et al. 2017 ("Densely Connected Convolutional Networks", CVPR 2017,
  arXiv:1608.06993), Table 2: error rates (%) on C10, C10+, C100, C100+ and
  SVHN of the six DenseNets that are densviz's CIFAR presets and of the ResNets
  the paper compares them with, parameters rounded to 0.1 M.
* torchvision's model docs, weights ``IMAGENET1K_V1``: ImageNet-1K acc@1 and
  acc@5 (%), the exact parameter count and GFLOPS of DenseNet-121/161/169/201
  and, for the comparison, ResNet-18/34/50/101/152. torchvision's "GFLOPS"
  count one multiply-add as one operation: DenseNet-121's 2.83 is densviz's
  2.83 GMACs.

:func:`load_published` reads the file once and returns typed rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from densviz.core.config import PRESETS

__all__ = [
    "ACCURACY_COLUMNS",
    "COLUMNS",
    "ERROR_COLUMNS",
    "Benchmark",
    "Family",
    "Number",
    "PublishedRow",
    "load_published",
    "parse_count",
    "rows_with",
]

ERROR_COLUMNS = ("C10", "C10+", "C100", "C100+", "SVHN")
"""Table 2's columns: test error in %."""
ACCURACY_COLUMNS = ("acc@1", "acc@5")
"""torchvision's columns: ImageNet-1K validation accuracy in %."""
COLUMNS: dict[str, str] = {
    "C10": "CIFAR-10",
    "C10+": "CIFAR-10, augmented",
    "C100": "CIFAR-100",
    "C100+": "CIFAR-100, augmented",
    "SVHN": "Street View House Numbers",
    "acc@1": "ImageNet-1K top-1",
    "acc@5": "ImageNet-1K top-5",
}
"""Every column a result may be in, and the data set it measures ("+": translation and mirroring)."""

_FILE = "published.json"
_SCALES = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9}


class Family(StrEnum):
    """The two families the paper's figures compare."""

    DENSENET = "DenseNet"
    RESNET = "ResNet"


class Benchmark(StrEnum):
    """Where a row's results were measured: CIFAR/SVHN (Table 2) or ImageNet (torchvision)."""

    CIFAR = "cifar"
    IMAGENET = "imagenet"


def parse_count(text: str) -> float:
    """A count as printed: ``"0.8M"`` -> 800000.0, ``"7,978,856"`` -> 7978856.0, ``"2.83"`` -> 2.83.

    Raises:
        ValueError: if the text is not a number with an optional k, M or G.
    """
    s = text.strip().replace(",", "")
    unit = s[-1:] if s[-1:].isalpha() else ""
    if unit not in _SCALES:
        raise ValueError(f"{text!r}: unknown unit; use k, M or G")
    number = s[: len(s) - len(unit)]
    try:
        return float(number) * _SCALES[unit]
    except ValueError:
        raise ValueError(f"{text!r} is not a number as printed, such as 0.8M or 7,978,856") from None


@dataclass(frozen=True)
class Number:
    """One published number.

    Attributes:
        text: As printed (``"0.8M"``, ``"4.51"``, ``"7,978,856"``).
        value: Its value (``800000.0``, ``4.51``, ``7978856.0``).
        source: Where it is printed (``"Huang et al. 2017, Table 2, column C10+"``).
    """

    text: str
    value: float
    source: str

    @property
    def decimals(self) -> int:
        """The digits printed after the decimal point (``"0.8M"``: 1, ``"74.434"``: 3)."""
        s = self.text.strip().rstrip("kMG")
        return len(s.split(".")[1]) if "." in s else 0

    @property
    def half_unit(self) -> float:
        """Half the last printed digit, in the number's own unit: how far a rounded number can be off.

        ``"0.8M"`` -> 50000.0 (rounded to 0.1 M), ``"7,978,856"`` -> 0.5 (exact).
        """
        unit = self.text.strip()[-1:]
        return 0.5 * 10.0**-self.decimals * _SCALES.get(unit, 1.0)


@dataclass(frozen=True)
class PublishedRow:
    """One network as published: its size and its results.

    Attributes:
        model: Its name as the source prints it (``"DenseNet-BC (k = 12)"``).
        short: A short label for charts (``"BC L=100, k=12"``).
        family: DenseNet or ResNet.
        benchmark: CIFAR/SVHN (Table 2) or ImageNet (torchvision).
        depth: The depth L as published.
        k: The growth rate (DenseNets only).
        params: The parameter count as published (rounded to 0.1 M in Table 2, exact in torchvision).
        preset: The :data:`~densviz.core.config.PRESETS` key of the same network, if there is one.
        cites: For Table 2's ResNets: the work the paper took the row from, as ``[n] authors year, title``.
        results: Each column's published number (error % for :data:`ERROR_COLUMNS`, accuracy % for
            :data:`ACCURACY_COLUMNS`); a column the source leaves blank ("-") is absent.
        gflops: torchvision's GFLOPS (one multiply-add counted once, so densviz's GMACs), if published.
    """

    model: str
    short: str
    family: Family
    benchmark: Benchmark
    depth: int
    k: int | None
    params: Number
    preset: str | None
    cites: str | None
    results: Mapping[str, Number]
    gflops: Number | None

    def error(self, column: str) -> float | None:
        """The error in % in ``column``: as printed for Table 2, 100 − accuracy for acc@1/acc@5; None if not published.

        Raises:
            KeyError: for a column that is not in :data:`COLUMNS`.
        """
        if column not in COLUMNS:
            raise KeyError(f"unknown column {column!r}; the columns are {', '.join(COLUMNS)}")
        number = self.results.get(column)
        if number is None:
            return None
        if column in ACCURACY_COLUMNS:
            return round(100.0 - number.value, number.decimals)
        return number.value

    def sources(self) -> list[tuple[str, Number]]:
        """Every published number of the row with what it is: ``params``, each column, ``gflops``."""
        pairs = [("params", self.params), *self.results.items()]
        return [*pairs, ("gflops", self.gflops)] if self.gflops else pairs


def _number(raw: Any, where: str) -> Number:
    """A ``{"value": text, "source": text}`` object as a :class:`Number`."""
    if not isinstance(raw, dict) or not isinstance(raw.get("value"), str) or not isinstance(raw.get("source"), str):
        raise ValueError(f"{_FILE}: {where} must be {{'value': text, 'source': text}}, not {raw!r}")
    if not raw["source"].strip():
        raise ValueError(f"{_FILE}: {where} has no source")
    return Number(raw["value"], parse_count(raw["value"]), raw["source"])


def _row(raw: dict[str, Any]) -> PublishedRow:
    """One row of the file, checked: known columns, a source for every number, a real preset."""
    where = f"{raw.get('model')} (L={raw.get('depth')})"
    unknown = set(raw["results"]) - set(COLUMNS)
    if unknown:
        raise ValueError(f"{_FILE}: {where} has unknown columns {sorted(unknown)}")
    preset = raw.get("preset")
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"{_FILE}: {where} names preset {preset!r}, which densviz does not have")
    results = {col: _number(v, f"{where} {col}") for col, v in raw["results"].items()}
    return PublishedRow(
        model=str(raw["model"]),
        short=str(raw["short"]),
        family=Family(raw["family"]),
        benchmark=Benchmark(raw["benchmark"]),
        depth=int(raw["depth"]),
        k=None if raw.get("k") is None else int(raw["k"]),
        params=_number(raw["params"], f"{where} params"),
        preset=preset,
        cites=raw.get("cites"),
        results=MappingProxyType(results),
        gflops=None if raw.get("gflops") is None else _number(raw["gflops"], f"{where} gflops"),
    )


@cache
def load_published() -> tuple[PublishedRow, ...]:
    """Every published row, in the file's order (Table 2's ResNets, its DenseNets, then torchvision's).

    Raises:
        ValueError: if the file breaks its own rules (a number without a source, an unknown column
            or preset).
    """
    text = resources.files("densviz.core").joinpath(_FILE).read_text(encoding="utf-8")
    return tuple(_row(raw) for raw in json.loads(text)["rows"])


def rows_with(column: str) -> tuple[PublishedRow, ...]:
    """The rows that publish a result in ``column`` (``"C10+"``, ``"acc@1"``…).

    Raises:
        KeyError: for a column that is not in :data:`COLUMNS`.
    """
    if column not in COLUMNS:
        raise KeyError(f"unknown column {column!r}; the columns are {', '.join(COLUMNS)}")
    return tuple(r for r in load_published() if column in r.results)
