"""``densviz run``: build the model and time a real forward pass on this machine's device.

``--compiled`` runs it ``torch.compile``'d (``densviz.run.compiled``: the
compile reported apart). ``--fastest`` then measures the candidate settings of
this device side by side (``densviz.run.fastest``: eager fp32, channels-last,
native bf16, compiled) and names the fastest; ``--json`` gives them under
``fastest``.

A run refused for its time, or stopped at its time limit, exits 2 with the
sentence (``densviz.run.limit``). Ctrl-C stops it after the pass in flight
(a second Ctrl-C at once) and exits 130 with a sentence.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from densviz.cli.flags import add_config_flags, add_setting_flags, budget, read_settings, state
from densviz.cli.output import note, say, text_table
from densviz.core.config import ConfigError, DenseNetConfig, InputSpec
from densviz.core.files import read_input_file
from densviz.core.plan import ArchitecturePlan
from densviz.core.settings import SETTINGS, Group, in_group
from densviz.core.units import format_bytes

__all__ = ["command", "load_input", "read_file", "register"]


def read_file(path: Path, what: str) -> bytes:
    """The bytes of a file named by a flag: a regular file within its size limit, checked before a byte is read.

    Raises:
        ConfigError: with a sentence, when it is not such a file or cannot be read.
    """
    from densviz.run import MAX_IMAGE_BYTES, MAX_WEIGHTS_BYTES

    return read_input_file(path, what, MAX_WEIGHTS_BYTES if what == "weights" else MAX_IMAGE_BYTES)


RUN_SETTINGS = tuple(s for s in in_group(Group.FORWARD) if s.flag)
"""``densviz run``'s own flags: device, precision, layout, runs, threads, input and weights."""


def _run_options(args: argparse.Namespace) -> Any:
    """The timing flags read and checked, as ``RunOptions``."""
    import torch

    from densviz.run import RunOptions

    values = read_settings(args, RUN_SETTINGS)
    return RunOptions(
        device=values["device"],
        precision=values["dtype"],
        channels_last=values["channels_last"],
        compiled=values["compiled"],
        runs=values["runs"],
        warmup=values["warmup"],
        threads=values["threads"] or torch.get_num_threads(),  # the CLI has the machine to itself
    )


def _load_weights(
    args: argparse.Namespace, model: Any, cfg: DenseNetConfig, say: Callable[[str], None]
) -> tuple[str, tuple[str, ...] | None]:
    """Load ``--weights`` into the model: (what the weights are, the class names where known).

    The classes are named when the file names them, or when a 10-class network
    classifies the digits with weights from a file (``densviz reuse`` trains on them).

    Raises:
        WeightsError: for a file that is not weights, or weights of another architecture.
    """
    from densviz.run import DIGIT_CLASSES, RANDOM_WEIGHTS, load_weights

    if not args.weights:
        return RANDOM_WEIGHTS, None
    if args.weights == "imagenet":  # torchvision's published checkpoint, through torch's hub cache
        from densviz.run.pretrained import load_imagenet

        imagenet, description = load_imagenet(model, cfg, progress=sys.stderr.isatty())
        say(f"loaded {description} ({imagenet.remapped} legacy keys renamed)")
        return description, imagenet.classes
    path = Path(args.weights)
    report = load_weights(model, read_file(path, "weights"), path.name)
    say(f"loaded {path.name} ({report.remapped} legacy keys renamed)" if report.remapped else f"loaded {path.name}")
    if report.classes:
        return path.name, report.classes
    digits = (args.image or SETTINGS["image"].default) == "digits" and cfg.num_classes == len(DIGIT_CLASSES)
    return path.name, DIGIT_CLASSES if digits else None


def load_input(
    args: argparse.Namespace, model: Any, cfg: DenseNetConfig, spec: InputSpec, say: Callable[[str], None]
) -> tuple[Any, str, tuple[str, ...] | None]:
    """Load ``--weights`` into the model and read the ``--image`` batch: (batch, weights, class names).

    ``densviz run`` and ``densviz cam`` read their input and weights flags through it.

    Raises:
        ConfigError: for a file that is not an image or weights.
    """
    from densviz.run import ImageError, WeightsError, load_image, preprocess, random_input, sample_images

    try:
        weights, classes = _load_weights(args, model, cfg, say)
        image = args.image or SETTINGS["image"].default
        if image == "random":
            return random_input(spec, cfg.in_channels), weights, classes
        if image == "digits":
            from densviz.reuse import digit_batch

            x, labels = digit_batch(spec.batch, spec.height, spec.width, cfg.in_channels)
            say(f"input: held-out digits {', '.join(map(str, labels[:8]))}{'…' if len(labels) > 8 else ''}")
            return x, weights, classes
        picture = sample_images()[image] if image in sample_images() else load_image(read_file(Path(image), "image"))
        if args.weights == "imagenet" and spec.hw == (224, 224):  # torchvision's evaluation transform, exactly
            from densviz.run.pretrained import imagenet_preprocess

            return imagenet_preprocess(picture).expand(spec.batch, -1, -1, -1).contiguous(), weights, classes
        return preprocess(picture, spec, cfg.in_channels), weights, classes
    except (ImageError, WeightsError) as err:
        raise ConfigError("file", "", "", message=str(err)[0].upper() + str(err)[1:]) from None


def _print_json(result: Any, plan: ArchitecturePlan, training: dict[str, int] | None, fastest: Any = None) -> int:
    data = result.to_dict()
    if fastest is not None:
        data["fastest"] = fastest.to_dict()
    if training is not None:
        data["training_step"] = {
            "measured_naive_bytes": training["naive"],
            "measured_efficient_bytes": training["efficient"],
            "estimated_naive_bytes": plan.memory.training_naive_bytes,
            "estimated_efficient_bytes": plan.memory.training_efficient_bytes,
        }
    print(json.dumps(data, indent=2))
    return 0 if result.shapes_ok else 1


def _print_fastest(fastest: Any) -> None:
    """The candidates side by side, the fastest named, how they were measured."""
    rows = [
        (
            s.candidate.name,
            f"{s.median_ms:.1f}",
            f"{s.gflops:.1f}",
            f"{s.fraction_of_peak:.0%} of {s.peak_gflops:.0f}",
            f"{s.max_logit_difference:.2e}",
            f"{s.speedup:.2f}×",
            f"{s.compile_seconds:.1f} s" + (" (reused)" if s.compile_source.startswith("reused") else "")
            if s.compile_seconds is not None
            else "",
        )
        for s in fastest.settings
    ]
    header = ("setting", "median ms", "GFLOP/s", "of its peak", "max |Δ logit|", "speedup", "compile")
    print()
    print(f"fastest settings on this device ({fastest.device_name}, {fastest.device})")
    print(text_table(header, rows, (False, True, True, True, True, True, True)))
    best = fastest.fastest
    print(
        f"fastest           {best.candidate.name}: {best.speedup:.2f}× eager fp32, "
        f"{best.fraction_of_peak:.0%} of this device's {best.candidate.precision.value} peak"
    )
    print(f"measured          {fastest.method}")
    print("                  speedup and max |Δ logit| against eager fp32; each peak in the setting's own precision")
    for precision in dict.fromkeys(s.candidate.precision for s in fastest.settings):
        source = next(s.peak_source for s in fastest.settings if s.candidate.precision is precision)
        print(f"{precision.value} peak         {source}")
    for line in fastest.notes:
        note(line)


def _print_text(result: Any, plan: ArchitecturePlan, training: dict[str, int] | None) -> int:
    print(
        f"device            {result.device_name} ({result.device}), {result.threads} thread{'s' if result.threads != 1 else ''}"
    )
    print(
        f"settings          {result.precision.value}{', channels-last' if result.channels_last else ''}{', compiled' if result.compiled else ''}, batch {result.batch}, {len(result.latencies_ms)} timed runs"
    )
    if result.compiled and result.compile_seconds is not None:
        print(f"compile           {result.compile_seconds:.1f} s, apart from the run ({result.compile_source})")
    print(f"latency           median {result.median_ms:.1f} ms, p90 {result.p90_ms:.1f} ms")
    print(f"throughput        {result.images_per_s:.1f} images/s")
    print(
        f"compute           {result.gflops:.1f} GFLOP/s from the plan's MACs, {result.fraction_of_peak:.0%} of this device's {result.precision.value} peak of {result.peak_gflops:.1f} GFLOP/s"
    )
    print(f"peak              {result.peak_source}")
    print(f"peak memory       {format_bytes(result.peak_memory_bytes)} measured ({result.memory_source})")
    print(f"                  {format_bytes(result.estimated_peak_memory_bytes)} estimated ({result.estimate_source})")
    meaning = ": the top-5 below means nothing" if result.weights_random else ""
    print(f"weights           {result.weights}{meaning}")
    print(
        f"output            {tuple(result.output_shape)}; top-5 of image 1: "
        + ", ".join(f"{result.class_name(c)} {p:.1%}" for c, p in result.top5)
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


_INTERRUPTED = 130
"""The exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it)."""


@contextmanager
def _stop_on_interrupt() -> Iterator[threading.Event]:
    """An event Ctrl-C sets (the run stops after the pass in flight); a second Ctrl-C interrupts at once."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():  # only the main thread may handle signals
        yield stop
        return

    def handler(_signum: int, _frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        note("stopping after the pass in flight (Ctrl-C again to stop at once).")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _timed(run: Callable[[threading.Event], Any]) -> Any:
    """``run(stop)`` with Ctrl-C stopping it; ``None`` when it was stopped so (after saying so on stderr)."""
    from densviz.run.timing import RunStoppedError

    try:
        with _stop_on_interrupt() as stop:
            return run(stop)
    except RunStoppedError as err:
        if not err.asked:
            raise  # the time limit: a ConfigError, exit 2
        print(f"densviz: error: {err} (Ctrl-C)", file=sys.stderr)
    except KeyboardInterrupt:
        print("densviz: error: interrupted in the middle of a pass (Ctrl-C twice); nothing was kept.", file=sys.stderr)
    return None


def command(args: argparse.Namespace) -> int:
    """Run ``densviz run``; return its exit status."""
    from densviz.run import build_for_run, choose_device, precision_note, run_forward, training_step_peak

    parsed = state(args)
    cfg, spec = parsed.config, parsed.input
    options = _run_options(args)
    model, plan = build_for_run(cfg, spec, budget(args))

    progress: Callable[[str], None] = (lambda _msg: None) if args.json else say
    x, weights, classes = load_input(args, model, cfg, spec, progress)
    where = choose_device(options.device)
    if slow := precision_note(where, options.precision):
        note(f"{options.precision.value} on {where} is {slow}.")
    result = _timed(
        lambda stop: run_forward(
            model, plan, x, options, progress=progress, weights=weights, classes=classes, stop=stop
        )
    )
    if result is None:
        return _INTERRUPTED
    training = training_step_peak(cfg, spec, result.device) if args.training_memory else None
    fastest = None
    if args.fastest:
        from densviz.run import RANDOM_WEIGHTS
        from densviz.run.fastest import FastestOptions, find_fastest

        measure = FastestOptions(
            device=options.device, runs=options.runs, warmup=max(1, options.warmup), threads=options.threads
        )
        fastest = _timed(
            lambda stop: find_fastest(
                model, plan, x, measure, progress, random_weights=weights == RANDOM_WEIGHTS, stop=stop
            )
        )
        if fastest is None:
            return _INTERRUPTED
    if args.json:
        return _print_json(result, plan, training, fastest)
    code = _print_text(result, plan, training)
    if fastest is not None:
        _print_fastest(fastest)
    return code


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run`` to the command's subparsers."""
    p = sub.add_parser("run", help="build the model and time a real forward pass on this machine's device")
    add_config_flags(p)
    add_setting_flags(p, RUN_SETTINGS)
    p.add_argument(
        "--training-memory", action="store_true", help="also measure one training step, naive vs memory-efficient"
    )
    p.add_argument(
        "--fastest",
        action="store_true",
        help="then measure this device's candidate settings side by side (eager fp32, channels-last, native bf16, "
        "compiled) and name the fastest; it compiles, so it takes a minute or more",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=command)
