"""Every memory guard against measurement: estimated vs measured peaks for ordinary and hostile designs.

For each configuration: what the guards decide under a budget (the forward
pass: parameters + every activation, `checked_plan`; one training step: the
plan's naive estimate, `check_training_memory`/`training_step_peak`), the
plan's estimates, and what PyTorch really allocates (one forward pass by the
allocator's own records; one training step in a fresh process). The budget is
small (``--budget``, 1 GiB by default) so that designs at its edge are cheap to
measure here. A guard holds when no configuration it accepts measures over
1.25 × the budget; the last column says so for each.

    .venv/bin/python benchmarks/bench_guards.py [--budget 1GiB] [--skip-training]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from densviz.core.config import PRESETS, ConfigError, DenseNetConfig, InputSpec, Stem
from densviz.core.errors import SurroundingsError
from densviz.core.plan import checked_plan, make_plan
from densviz.core.units import format_bytes, parse_bytes
from densviz.nn.model import build_model
from densviz.run import Precision, forward_peak_memory, random_input, training_step_peak

TOLERANCE = 1.25


@dataclass(frozen=True)
class Case:
    """One configuration to measure."""

    name: str
    config: DenseNetConfig
    input: InputSpec


def _cases() -> list[Case]:
    p121, bc = PRESETS["densenet121"], PRESETS["densenet_bc100_k12"]
    thin = DenseNetConfig(growth_rate=2, block_config=(256,), bn_size=0, stem=Stem.CIFAR, num_classes=10)
    wide_stem = DenseNetConfig(
        growth_rate=8, block_config=(1, 1, 1), num_init_features=4096, compression=1.0, bn_size=0, stem=Stem.CIFAR
    )
    return [
        Case("densenet121 b1", p121.config, InputSpec()),
        Case("densenet121 b16", p121.config, InputSpec(batch=16)),
        Case("densenet121 b64", p121.config, InputSpec(batch=64)),
        Case("densenet-bc-100 b64 32²", bc.config, InputSpec.square(32, batch=64)),
        Case("tiny b256 32²", PRESETS["tiny"].config, InputSpec.square(32, batch=256)),
        Case("k=2, 256 layers, 64², b8 (hostile)", thin, InputSpec.square(64, batch=8)),
        Case("k=2, 256 layers, 32², b2 (hostile)", thin, InputSpec.square(32, batch=2)),
        Case("k0=4096 CIFAR stem 64² (hostile)", wide_stem, InputSpec.square(64)),
        Case("k=128, 6,12,24,16, b4 (hostile)", p121.config.replace(growth_rate=128), InputSpec(batch=4)),
    ]


def _forward(case: Case, budget: int) -> tuple[str, int, int | None, str]:
    """(decision, estimated inference peak, measured peak or None, verdict)."""
    plan = make_plan(case.config, case.input)
    try:
        checked_plan(case.config, case.input, budget)
    except ConfigError:
        return "refused", plan.memory.inference_peak_bytes, None, "-"
    torch.set_num_threads(1)
    model = build_model(case.config).eval()
    x = random_input(case.input, case.config.in_channels)
    measured, _how = forward_peak_memory(model, x, torch.device("cpu"), Precision.FP32)
    ok = measured <= TOLERANCE * budget
    return "accepted", plan.memory.inference_peak_bytes, measured, "holds" if ok else "OVER"


def _training(case: Case, budget: int) -> tuple[str, int, int | None, str]:
    plan = make_plan(case.config, case.input)
    try:
        measured = training_step_peak(case.config, case.input, "cpu", budget_bytes=budget)["naive"]
    except ConfigError:
        return "refused", plan.memory.training_naive_bytes, None, "-"
    except SurroundingsError as err:
        return "failed", plan.memory.training_naive_bytes, None, str(err)[:40]
    ok = measured <= TOLERANCE * budget
    return "accepted", plan.memory.training_naive_bytes, measured, "holds" if ok else "OVER"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", default="1GiB")
    parser.add_argument(
        "--skip-training", action="store_true", help="forward passes only (training steps take minutes)"
    )
    args = parser.parse_args()
    budget = parse_bytes(args.budget)
    print(f"budget {format_bytes(budget)}; a guard holds when nothing it accepts measures over {TOLERANCE}× the budget")
    header = f"{'configuration':38} {'what':9} {'guard':9} {'estimated':>10} {'measured':>10} {'meas/est':>8}  verdict"
    print(header)
    print("-" * len(header))
    held = True
    for case in _cases():
        kinds = [("forward", _forward)] + ([] if args.skip_training else [("training", _training)])
        for what, measure in kinds:
            decision, estimated, measured, verdict = measure(case, budget)
            ratio = f"{measured / estimated:.2f}" if measured else ""
            shown = format_bytes(measured) if measured is not None else ""
            print(
                f"{case.name:38} {what:9} {decision:9} {format_bytes(estimated):>10} {shown:>10} {ratio:>8}  {verdict}"
            )
            held &= verdict != "OVER"
    print("every guard held" if held else "A GUARD LET THROUGH A CONFIGURATION OVER ITS BUDGET")


if __name__ == "__main__":
    main()
