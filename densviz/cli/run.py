"""``densviz run``: build the model and time a real forward pass on this machine's device."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from densviz.cli.flags import add_config_flags, budget, optional, state
from densviz.cli.output import note, say
from densviz.core.config import ConfigError, DenseNetConfig, InputSpec
from densviz.core.plan import ArchitecturePlan
from densviz.core.units import format_bytes

__all__ = ["command", "read_file", "register"]


def read_file(path: Path, what: str) -> bytes:
    """The bytes of a file named by a flag.

    Raises:
        ConfigError: with a sentence, when it cannot be read.
    """
    try:
        return path.read_bytes()
    except OSError as err:
        raise ConfigError(what, str(path), "", message=f"cannot read the {what} file {path}: {err.strerror}.") from None


def _run_options(args: argparse.Namespace) -> Any:
    """The timing flags read and checked, as ``RunOptions``."""
    import torch

    from densviz.run import RunOptions

    runs = optional("runs", args.runs, "an integer from 1 to 1,000")
    warmup = optional("warmup", args.warmup, "an integer from 0 to 100")
    threads = optional("threads", args.threads, "an integer from 1 to 1,024")
    if args.dtype not in ("fp32", "bf16", "fp16"):
        raise ConfigError("dtype", args.dtype, "fp32, bf16 or fp16")
    return RunOptions(
        device=args.device,
        precision=args.dtype,
        channels_last=args.channels_last,
        runs=10 if runs is None else runs,
        warmup=2 if warmup is None else warmup,
        threads=torch.get_num_threads() if threads is None else threads,  # the CLI has the machine to itself
    )


def _load_input(
    args: argparse.Namespace, model: Any, cfg: DenseNetConfig, spec: InputSpec, say: Callable[[str], None]
) -> Any:
    """Load ``--weights`` into the model and return the ``--image`` batch.

    Raises:
        ConfigError: for a file that is not an image or weights.
    """
    from densviz.run import (
        ImageError,
        WeightsError,
        load_image,
        load_weights,
        preprocess,
        random_input,
        sample_images,
    )

    try:
        if args.weights:
            path = Path(args.weights)
            report = load_weights(model, read_file(path, "weights"), path.name)
            say(
                f"loaded {path.name} ({report.remapped} legacy keys renamed)"
                if report.remapped
                else f"loaded {path.name}"
            )
        if args.image == "random":
            return random_input(spec, cfg.in_channels)
        if args.image == "digits":
            from densviz.reuse import digit_batch

            x, labels = digit_batch(spec.batch, spec.height, spec.width, cfg.in_channels)
            say(f"input: held-out digits {', '.join(map(str, labels[:8]))}{'…' if len(labels) > 8 else ''}")
            return x
        if args.image in sample_images():
            return preprocess(sample_images()[args.image], spec, cfg.in_channels)
        path = Path(args.image)
        return preprocess(load_image(read_file(path, "image")), spec, cfg.in_channels)
    except (ImageError, WeightsError) as err:
        raise ConfigError("file", "", "", message=str(err)[0].upper() + str(err)[1:]) from None


def _print_json(result: Any, plan: ArchitecturePlan, training: dict[str, int] | None) -> int:
    data = result.to_dict()
    if training is not None:
        data["training_step"] = {
            "measured_naive_bytes": training["naive"],
            "measured_efficient_bytes": training["efficient"],
            "estimated_naive_bytes": plan.memory.training_naive_bytes,
            "estimated_efficient_bytes": plan.memory.training_efficient_bytes,
        }
    print(json.dumps(data, indent=2))
    return 0 if result.shapes_ok else 1


def _print_text(result: Any, plan: ArchitecturePlan, training: dict[str, int] | None) -> int:
    print(f"device            {result.device_name} ({result.device}), {result.threads} threads")
    print(
        f"settings          {result.precision.value}{', channels-last' if result.channels_last else ''}, batch {result.batch}, {len(result.latencies_ms)} timed runs"
    )
    print(f"latency           median {result.median_ms:.1f} ms, p90 {result.p90_ms:.1f} ms")
    print(f"throughput        {result.images_per_s:.1f} images/s")
    print(
        f"compute           {result.gflops:.1f} GFLOP/s from the plan's MACs, {result.fraction_of_peak:.0%} of this device's {result.precision.value} matmul peak ({result.peak_gflops:.1f} GFLOP/s)"
    )
    print(f"peak memory       {format_bytes(result.peak_memory_bytes)} ({result.memory_source})")
    print(
        f"output            {tuple(result.output_shape)}; top-5 of image 1: "
        + ", ".join(f"class {c} {p:.1%}" for c, p in result.top5)
    )
    if training is not None:
        mem = plan.memory
        print(
            f"training step     naive {format_bytes(training['naive'])} measured vs {format_bytes(mem.training_naive_bytes)} estimated; "
            f"memory-efficient {format_bytes(training['efficient'])} measured vs {format_bytes(mem.training_efficient_bytes)} estimated"
        )
    if result.shapes_ok:
        print(
            f"shapes            verified on {result.device}: all {len(result.shapes)} module outputs have the planned shape"
        )
        return 0
    bad = [s for s in result.shapes if not s.ok]
    print(
        f"MISMATCH: {len(bad)} module outputs differ from the plan, e.g. {bad[0].name}: planned {bad[0].planned}, measured {bad[0].measured}",
        file=sys.stderr,
    )
    return 1


def command(args: argparse.Namespace) -> int:
    """Run ``densviz run``; return its exit status."""
    from densviz.run import build_for_run, choose_device, precision_note, run_forward, training_step_peak

    parsed = state(args)
    cfg, spec = parsed.config, parsed.input
    options = _run_options(args)
    model, plan = build_for_run(cfg, spec, budget(args))

    progress: Callable[[str], None] = (lambda _msg: None) if args.json else say
    x = _load_input(args, model, cfg, spec, progress)
    where = choose_device(options.device)
    if slow := precision_note(where, options.precision):
        note(f"{options.precision.value} on {where} is {slow}.")
    result = run_forward(model, plan, x, options, progress=progress)
    training = training_step_peak(cfg, spec, result.device) if args.training_memory else None
    if args.json:
        return _print_json(result, plan, training)
    return _print_text(result, plan, training)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run`` to the command's subparsers."""
    p = sub.add_parser("run", help="build the model and time a real forward pass on this machine's device")
    add_config_flags(p)
    p.add_argument(
        "--device", default="auto", metavar="auto|cpu|cuda|mps", help="where to run (default: the best there is)"
    )
    p.add_argument(
        "--dtype",
        default="fp32",
        metavar="fp32|bf16|fp16",
        help="fp32, or bf16/fp16 autocast where the device supports it",
    )
    p.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    p.add_argument("--runs", metavar="N", help="timed passes after warm-up (default 10)")
    p.add_argument("--warmup", metavar="N", help="untimed passes first (default 2)")
    p.add_argument("--threads", metavar="N", help="CPU threads (default: all cores)")
    p.add_argument(
        "--image",
        default="china",
        metavar="china|flower|digits|random|PATH",
        help="input: one of scikit-learn's photographs, its held-out handwritten digits (for `densviz reuse` weights), random, or a PNG/JPEG",
    )
    p.add_argument("--weights", metavar="PATH", help="a torchvision-format .pth or a .safetensors file")
    p.add_argument(
        "--training-memory", action="store_true", help="also measure one training step, naive vs memory-efficient"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=command)
