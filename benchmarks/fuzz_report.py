"""Hostile input at every entry point, counted: each case must end valid or in a sentence.

The entry points and their strategies live in ``tests/fuzz.py`` (the slow test
runs them at a small size); this script runs them at full size and prints the
counts per entry point. Exits 1 on any failure.

    .venv/bin/python benchmarks/fuzz_report.py [--examples N]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.fuzz
from tests.fuzz import main

if __name__ == "__main__":
    main()
