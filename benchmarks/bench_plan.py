"""How much faster the analytic plan is than asking PyTorch.

For densenet121 and densenet264 at 1×3×224×224 this prints the median time of
``make_plan``, of ``verify`` (model built and run on the meta device, with
hooks and FlopCounterMode) and of ``torchinfo.summary`` on the same model, and
each one's ratio to ``make_plan``. torchinfo gets a model built beforehand
(its forward pass runs on the CPU); only the summary itself is timed. Target: the plan at least 100× faster than
torchinfo's summary, so that a slider move never waits for PyTorch.

    .venv/bin/python benchmarks/bench_plan.py [--repeats N]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
import torchinfo
from timing import median_seconds  # benchmarks/timing.py

from densviz import PRESETS, InputSpec, build_model, make_plan
from densviz.nn.verify import verify

TARGET = 100.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    spec = InputSpec()
    print(f"median of {args.repeats} runs, 1×3×224×224, torch {torch.__version__}, 1 thread")
    print(f"{'preset':<12} {'step':<20} {'median':>10} {'× make_plan':>12}")
    worst = float("inf")
    for name in ("densenet121", "densenet264"):
        cfg = PRESETS[name].config

        model = build_model(cfg, device="cpu").eval()  # built once: only the summary is timed

        def torchinfo_summary(model=model) -> object:
            return torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)

        steps: dict[str, Callable[[], object]] = {
            "make_plan": lambda cfg=cfg: make_plan(cfg, spec),
            "verify (meta)": lambda cfg=cfg: verify(cfg, spec),
            "torchinfo.summary": torchinfo_summary,
        }
        base = 0.0
        for step, fn in steps.items():
            seconds = median_seconds(fn, args.repeats)
            base = base or seconds
            ratio = seconds / base
            print(f"{name:<12} {step:<20} {seconds * 1e3:>8.2f}ms {ratio:>11.0f}×")
            if step == "torchinfo.summary":
                worst = min(worst, ratio)
    verdict = "meets" if worst >= TARGET else "MISSES"
    print(f"plan vs torchinfo: at least {worst:.0f}× faster ({verdict} the {TARGET:.0f}× target)")


if __name__ == "__main__":
    main()
