"""The load test's printed report (``ws_load.py``): the reference, a line a level as it ends, and the tables.

Every figure is one the sessions counted (``ws_users.Tally``) or the machine
showed (``ws_machine.Resources``); quantiles by nearest rank.
"""

from __future__ import annotations

import sys
from pathlib import Path

from densviz.core.units import format_bytes

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root
from benchmarks.ws_machine import Resources
from benchmarks.ws_users import Tally

TARGET_P95_S = 1.0


def pct(values: list[float], q: float) -> float:
    """The q-quantile by nearest rank (q = 0.95: the value 95% of reruns stay at or under)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def reference(idle: Tally, idle_res: Resources) -> float:
    """Print the line of the idle reference (one session alone); its rerun p95, which each level is held against."""
    idle_p95 = pct(idle.reruns_s, 0.95)
    print(
        f"reference, one session on an idle server: {len(idle.reruns_s)} reruns, p50 {pct(idle.reruns_s, 0.5):.3f} s, "
        f"p95 {idle_p95:.3f} s, max {max(idle.reruns_s, default=float('nan')):.3f} s, errors {len(idle.errors)}, "
        f"server CPU {1000 * idle_res.server_cpu_s / max(len(idle.reruns_s), 1):.0f} ms per rerun; "
        f"machine {idle_res.machine_busy:.0%} busy",
        flush=True,
    )
    return idle_p95


def level_done(n: int, tally: Tally, res: Resources) -> None:
    """Print a level's line as it ends."""
    print(
        f"  {n} sessions done: {len(tally.reruns_s)} reruns, errors {len(tally.errors) + len(tally.background_errors)}, "
        f"p95 {pct(tally.reruns_s, 0.95):.2f} s, machine {res.machine_busy:.0%} busy",
        flush=True,
    )


def tables(rows: list[tuple[int, Tally, Resources]], idle_p95: float, window_s: float) -> bool:
    """Print the tables of every level (``window_s``: a level's ramp and duration); whether any saw an error."""
    print()
    print("rerun: BackMsg sent to script_finished (the page waits for the check of a design new to the server);")
    print(
        "drawn: to the page drawn, before that wait. Seconds. train/fwd: training runs and forward-pass runs completed."
    )
    print(
        f"{'sessions':>8} {'reruns':>7} {'/s':>5} {'errors':>6} {'p50':>6} {'p95':>6} {'max':>6} {'p95/1 s':>7} {'p95/idle':>8} "
        f"{'drawn p50':>9} {'drawn p95':>9} {'export p95':>10} {'load p95':>8} {'train':>5} {'fwd':>4}"
    )
    for n, t, _ in rows:
        p95 = pct(t.reruns_s, 0.95)
        print(
            f"{n:>8} {len(t.reruns_s):>7} {len(t.reruns_s) / window_s:>5.1f} "
            f"{len(t.errors) + len(t.background_errors):>6} {pct(t.reruns_s, 0.5):>6.2f} {p95:>6.2f} "
            f"{max(t.reruns_s, default=float('nan')):>6.2f} {p95 / TARGET_P95_S:>7.2f} {p95 / idle_p95:>8.1f} "
            f"{pct(t.drawn_s, 0.5):>9.2f} {pct(t.drawn_s, 0.95):>9.2f} {pct(t.exports_s, 0.95):>10.2f} "
            f"{pct(t.loads_s, 0.95):>8.2f} {t.training_runs:>5} {t.forward_runs:>4}"
        )
    print()
    print("rerun p50 / p95 by action (count)")
    actions = sorted({a for _, t, _ in rows for a in t.by_action}, key=lambda a: (a != "slider", a))
    print(f"{'action':<20}" + "".join(f"{f'{n} sessions':>22}" for n, _, _ in rows))
    for action in actions:
        cells = []
        for _, t, _ in rows:
            values = t.by_action.get(action, [])
            cells.append(f"{pct(values, 0.5):.2f} / {pct(values, 0.95):.2f} ({len(values)})" if values else "-")
        print(f"{action:<20}" + "".join(f"{c:>22}" for c in cells))
    print()
    print(
        "memory (the server process; its job workers apart) and CPU (cores' worth; the machine's share is everyone's)"
    )
    print(
        f"{'sessions':>8} {'RSS before':>10} {'peak':>10} {'after':>10} {'workers':>10} {'server CPU':>10} "
        f"{'workers CPU':>11} {'client CPU':>10} {'server CPU/rerun':>16} {'machine busy':>12} {'load avg':>11}"
    )
    for n, t, r in rows:
        per_rerun = r.server_cpu_s / max(len(t.reruns_s), 1)
        print(
            f"{n:>8} {format_bytes(r.rss_before):>10} {format_bytes(r.rss_peak):>10} {format_bytes(r.rss_after):>10} "
            f"{format_bytes(r.workers_peak):>10} {r.server_cpu:>10.2f} {r.workers_cpu:>11.2f} {r.client_cpu:>10.2f} "
            f"{per_rerun * 1000:>13.0f} ms {r.machine_busy:>12.0%} {r.load[0]:>5.1f}→{r.load[1]:<5.1f}"
        )
    print(
        "  (server CPU/rerun counts all the server did in the window, the training's page and the forward passes included)"
    )
    for n, t, _ in rows:
        if t.forward_refused:
            print(
                f"  {n} sessions: the page's time guard refused {t.forward_refused} forward-pass runs (too slow on the machine then)"
            )
    failed = False
    for n, t, _ in rows:
        for err in (t.errors + t.background_errors)[:10]:
            print(f"  {n} sessions: {err}")
        more = len(t.errors) + len(t.background_errors) - 10
        if more > 0:
            print(f"  {n} sessions: … and {more} more")
        failed = failed or bool(t.errors or t.background_errors)
    return failed
