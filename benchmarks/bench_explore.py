"""How fast the design space is swept: the closed form against the plan, and a 100,000-design sweep.

First the same random designs (CIFAR and ImageNet stems, 1–4 blocks of 1–64
layers, k 4–48, with and without bottleneck, θ 0.5 or 1) are priced by
``closed_form_totals`` and by ``make_plan`` (configs built beforehand; each
call checks the input and returns the totals): designs per second side by side,
and the ratio. Each timed run lasts at least 0.2 s (the closed form goes over
the designs many times), so that a busy machine skews both alike. Target: the closed form at least 100× faster.

Then ``sweep`` (closed form, the limits, the Pareto front, the presets) over
a 100,000-design space, with a parameter limit and with none (every design kept,
the front over all of them). Target: under 2 s. Times are medians of a few runs.

    .venv/bin/python benchmarks/bench_explore.py [--designs N] [--repeats N]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from timing import median_seconds  # benchmarks/timing.py

from densviz.core.closed_form import closed_form_totals
from densviz.core.config import DenseNetConfig, InputSpec, Stem, min_input_size
from densviz.core.explore import DEFAULT_OBJECTIVES, Limits, Objective, Space, sweep
from densviz.core.plan import make_plan

RATIO_TARGET = 100.0
SWEEP_TARGET_S = 2.0


def random_designs(n: int, seed: int = 0) -> list[tuple[DenseNetConfig, InputSpec]]:
    """``n`` valid designs of the sizes people sweep."""
    rng = random.Random(seed)
    designs = []
    while len(designs) < n:
        stem = rng.choice(list(Stem))
        blocks = rng.randint(1, 4)
        k = rng.randint(4, 48)
        cfg = DenseNetConfig(
            growth_rate=k,
            block_config=tuple(rng.randint(1, 64) for _ in range(blocks)),
            bn_size=rng.choice([0, 4]),
            compression=rng.choice([0.5, 1.0]),
            num_classes=10 if stem is Stem.CIFAR else 1000,
            stem=stem,
        )
        size = max(32 if stem is Stem.CIFAR else 224, min_input_size(cfg))
        designs.append((cfg, InputSpec.square(size)))
    return designs


def per_second(
    fn: Callable[[DenseNetConfig, InputSpec], object], designs: list[tuple[DenseNetConfig, InputSpec]], repeats: int
) -> float:
    """Designs priced per second by ``fn(cfg, spec)``, each timed run at least about 0.2 s long."""
    start = time.perf_counter()
    for cfg, spec in designs:
        fn(cfg, spec)
    rounds = max(1, round(0.2 / (time.perf_counter() - start)))  # a short run is at the mercy of the scheduler

    def all_of_them() -> None:
        for _ in range(rounds):
            for cfg, spec in designs:
                fn(cfg, spec)

    return rounds * len(designs) / median_seconds(all_of_them, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--designs", type=int, default=2000, help="random designs priced both ways")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    designs = random_designs(args.designs)
    closed = per_second(closed_form_totals, designs, args.repeats)
    planned = per_second(make_plan, designs, args.repeats)
    ratio = closed / planned
    print(f"{args.designs:,} random designs, median of {args.repeats} runs")
    print(f"{'method':<20} {'designs/s':>12} {'µs/design':>10}")
    print(f"{'closed_form_totals':<20} {closed:>12,.0f} {1e6 / closed:>10.1f}")
    print(f"{'make_plan':<20} {planned:>12,.0f} {1e6 / planned:>10.1f}")
    verdict = "meets" if ratio >= RATIO_TARGET else "MISSES"
    print(f"closed form vs make_plan: {ratio:.0f}× faster ({verdict} the {RATIO_TARGET:.0f}× target)")
    print()

    space = Space(
        growth_rates=tuple(range(1, 101)),
        layers=(tuple(range(1, 101)),),
        blocks=(3,),
        compressions=tuple(round(0.1 * i, 1) for i in range(1, 11)),
        stems=(Stem.CIFAR,),
        input_sizes=((32, 32),),
        num_classes=10,
    )
    three = (*DEFAULT_OBJECTIVES, Objective("params", False))
    cases = (
        ("--max-params 1M", Limits(max_params=1_000_000), DEFAULT_OBJECTIVES),
        ("no limits", Limits(), DEFAULT_OBJECTIVES),
        ("no limits, 3 objectives", Limits(), three),
    )
    print(f"sweep of {space.size:,} designs (k 1..100 × layers 1..100 × θ 0.1..1, 3 blocks, CIFAR 32×32)")
    worst = 0.0
    for label, limits, objectives in cases:
        result = sweep(space, limits, objectives)
        seconds = median_seconds(lambda limits=limits, objectives=objectives: sweep(space, limits, objectives), 3)
        worst = max(worst, seconds)
        front = sum(c.on_front for c in result.kept)
        print(
            f"  {label:<24} {seconds:6.3f} s  {space.size / seconds:>10,.0f} designs/s  "
            f"kept {len(result.kept):,}, front {front:,}"
        )
    verdict = "meets" if worst < SWEEP_TARGET_S else "MISSES"
    print(f"slowest 100,000-design sweep: {worst:.3f} s ({verdict} the {SWEEP_TARGET_S:.0f} s target)")


if __name__ == "__main__":
    main()
