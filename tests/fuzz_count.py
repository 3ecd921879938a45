"""The fuzz cases' count (``tests/fuzz.py``): each case ends valid, refused with a sentence, or FAILED."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

counts: dict[str, Counter[str]] = {}
"""Per entry point, how its cases ended; the report prints them in the order the entry points first ran."""


def tally(entry: str, fn: Callable[[], object], allowed: tuple[type[BaseException], ...]) -> None:
    c = counts.setdefault(entry, Counter())
    try:
        fn()
        c["valid"] += 1
    except allowed as err:
        c["refused"] += 1
        if not str(err).strip():
            c["FAILED (no sentence)"] += 1
    except SystemExit as exc:  # the CLI's own exit
        c["refused" if exc.code == 2 else "valid" if exc.code == 0 else "FAILED"] += 1
    except Exception as err:
        c[f"FAILED ({type(err).__name__}: {str(err)[:60]})"] += 1


Opts = Callable[[Callable[..., None]], Callable[..., None]]
"""What an entry point's cases are run under: hypothesis' settings for this run (``fuzz.run``'s ``examples``)."""
