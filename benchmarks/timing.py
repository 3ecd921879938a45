"""What the benchmark scripts share: a median of repeated timings."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], repeats: int, *, warmup: bool = True) -> float:
    """Median wall time of ``fn`` over ``repeats`` calls (after one untimed call)."""
    if warmup:
        fn()  # imports, caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
