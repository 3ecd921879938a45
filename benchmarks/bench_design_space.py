"""The Design space view after a budget slider moves: the rerun's time, against the 0.5 s target.

Drives the page with Streamlit's AppTest in this process (the server's side of
a rerun: the sweep in closed form, the filter, the front, the figure), moving
the parameter budget to a new value each time so nothing comes from a cache,
and prints the median and the slowest beside the target.

    .venv/bin/python benchmarks/bench_design_space.py [--moves 8]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TARGET_S = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=8)
    args = parser.parse_args()
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["view"] = "Design space"
    at.run()
    top = at.slider(key="ds_max_params").max
    times = []
    for i in range(args.moves):
        value = round(top * (0.9 - 0.07 * i), 2)  # a new budget each time: no cached sweep or figure
        start = time.perf_counter()
        at.slider(key="ds_max_params").set_value(value).run()
        times.append(time.perf_counter() - start)
        assert not at.exception
    median, worst = statistics.median(times), max(times)
    print(f"Design space (DenseNet-121's neighbourhood, {args.moves} budget moves), rerun after a slider move:")
    print(f"  median {median:.3f} s, slowest {worst:.3f} s; target {TARGET_S} s, ratio {worst / TARGET_S:.2f}")


if __name__ == "__main__":
    main()
