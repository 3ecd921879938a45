"""How long the page takes to follow a slider.

In one process, with Streamlit's AppTest: for densenet121 and densenet264, on
each view (Compare with the preset pinned as A), after the growth-rate slider
moves to a value not seen before (so no cache helps), the median of a few
moves of: "drawn", the time until the whole page (headline, view) is drawn,
and "marked", the time until the run ends with the mark of the background
check against PyTorch in place (the run waits for the check after drawing
the page). Targets, for "drawn": at most 0.3 s for densenet121's default
view, at most 1 s for every view of every preset.

    .venv/bin/python benchmarks/bench_app.py [--moves N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

import densviz.ui.page as page
from densviz.core.config import PRESETS
from densviz.ui.session import Key
from densviz.ui.state import Pinned

_drawn: list[float] = []


def _timed(view: Callable[[Any], None]) -> Callable[[Any], None]:
    def draw(net: Any) -> None:
        view(net)
        _drawn.append(time.perf_counter())

    return draw


APP = str(Path(__file__).resolve().parents[1] / "app.py")
VIEWS = list(page.VIEWS)  # every view, in the selector's order
DEFAULT_TARGET_S, ANY_TARGET_S = 0.3, 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=5)
    args = parser.parse_args()
    for name in list(page.VIEWS):  # the page reads this dict at every run
        page.VIEWS[name] = _timed(page.VIEWS[name])
    print(f"rerun after a growth-rate move, median of {args.moves} moves (AppTest, one process)")
    print(f"{'preset':<12} {'view':<13} {'drawn':>8} {'max':>8} {'marked':>8}")
    worst_any = 0.0
    default_121 = 0.0
    for preset in ("densenet121", "densenet264"):
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["preset"] = preset
        at.run()
        k = 32
        for view in VIEWS:
            at.session_state["view"] = view
            if view == "Compare":  # compare against the preset itself: two plans, two overview graphs
                at.session_state[Key.PINNED.value] = Pinned(PRESETS[preset].config, PRESETS[preset].input, preset)
            at.run()  # the view's first drawing, not timed
            times, marked = [], []
            for _ in range(args.moves):
                k = k + 1 if k < 60 else 8  # always a new config: no cache hit
                _drawn.clear()
                start = time.perf_counter()
                at.slider(key="growth_rate").set_value(k).run()
                marked.append(time.perf_counter() - start)
                times.append(_drawn[-1] - start)
                assert not at.exception, [e.value for e in at.exception]
            median = statistics.median(times)
            worst_any = max(worst_any, median)
            if preset == "densenet121" and view == VIEWS[0]:
                default_121 = median
            print(f"{preset:<12} {view:<13} {median:>7.3f}s {max(times):>7.3f}s {statistics.median(marked):>7.3f}s")
    print(
        f"densenet121 default view drawn in {default_121:.3f} s, {default_121 / DEFAULT_TARGET_S:.2f}× the {DEFAULT_TARGET_S} s target ({'meets' if default_121 <= DEFAULT_TARGET_S else 'MISSES'} it)"
    )
    print(
        f"slowest view drawn in {worst_any:.3f} s, {worst_any / ANY_TARGET_S:.2f}× the {ANY_TARGET_S} s target ({'meets' if worst_any <= ANY_TARGET_S else 'MISSES'} it)"
    )


if __name__ == "__main__":
    main()
