"""How long every picture takes, for every preset.

For each preset and detail level: the time to build the graph, write its DOT
text and lay it out as SVG with ``dot``, and its edge count; for each chart:
the time to build the figure and to write its self-contained HTML. Target:
each preset's default view (``dense`` detail, long blocks elided) renders in
at most 1 s, DenseNet-264 included. Times are medians of a few runs.

    .venv/bin/python benchmarks/bench_render.py [--repeats N]
"""

from __future__ import annotations

import argparse

from timing import median_seconds  # benchmarks/timing.py

from densviz import PRESETS, make_plan
from densviz.draw.charts import CHARTS
from densviz.draw.graph import Detail, build_graph
from densviz.draw.render import render, to_dot
from densviz.export import chart_html

TARGET_S = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"graphs: median of {args.repeats} runs")
    print(f"{'preset':<20} {'detail':<9} {'edges':>6} {'graph':>8} {'DOT':>8} {'SVG':>8} {'total':>8}")
    worst_default = 0.0
    for name, preset in PRESETS.items():
        plan = make_plan(preset.config, preset.input)
        for detail in Detail:
            graph = build_graph(plan, detail)
            dot = to_dot(graph)
            t_graph = median_seconds(lambda plan=plan, detail=detail: build_graph(plan, detail), args.repeats)
            t_dot = median_seconds(lambda graph=graph: to_dot(graph), args.repeats)
            t_svg = median_seconds(lambda dot=dot: render(dot, "svg"), args.repeats)
            total = t_graph + t_dot + t_svg
            if detail is Detail.DENSE:
                worst_default = max(worst_default, total)
            print(
                f"{name:<20} {detail.value:<9} {len(graph.edges):>6} {t_graph * 1e3:>6.1f}ms {t_dot * 1e3:>6.1f}ms {t_svg:>7.2f}s {total:>7.2f}s"
            )
    verdict = "meets" if worst_default <= TARGET_S else "MISSES"
    print(
        f"slowest default view (dense): {worst_default:.2f} s, {worst_default / TARGET_S:.2f}× the {TARGET_S:g} s target ({verdict} it)"
    )
    print()
    print(f"charts: median of {args.repeats} runs")
    print(f"{'preset':<20} {'chart':<14} {'figure':>8} {'HTML':>8}")
    for name in ("tiny", "densenet121", "densenet264", "densenet_bc190_k40"):
        preset = PRESETS[name]
        plan = make_plan(preset.config, preset.input)
        for kind, make in CHARTS.items():
            fig = make(plan)
            t_fig = median_seconds(lambda make=make, plan=plan: make(plan), args.repeats)
            t_html = median_seconds(lambda fig=fig: chart_html(fig), args.repeats)
            print(f"{name:<20} {kind.value:<14} {t_fig * 1e3:>6.0f}ms {t_html * 1e3:>6.0f}ms")


if __name__ == "__main__":
    main()
