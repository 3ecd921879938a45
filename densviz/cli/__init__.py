"""The ``densviz`` command: the engine without the browser.

    densviz presets
    densviz summary --preset densenet121 [--json] [--torchinfo]
    densviz verify --growth-rate 12 --block-config 16,16,16 --stem cifar --input-size 32
    densviz export --preset densenet264 --out out/ --formats svg,png,pdf,dot,html,csv,json

Flags are spelled as the config fields (``--growth-rate`` is ``growth_rate``) and
go through the same parser as the web app's query string, so a setting is
refused with the same sentence everywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from densviz.core.config import PRESETS, ConfigError, ParsedState, Stem, parse_state
from densviz.core.memory import DEFAULT_BUDGET_BYTES
from densviz.core.plan import ArchitecturePlan, checked_plan, make_plan
from densviz.core.units import format_bytes, format_count, format_macs, parse_bytes

__all__ = ["main"]

# flag -> key of the query-string parser
_CONFIG_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("--growth-rate", "growth_rate", "k, the feature maps each dense layer adds (default 32)"),
    ("--block-config", "block_config", "layers per dense block, comma-separated (default 6,12,24,16)"),
    ("--num-init-features", "num_init_features", "channels out of the stem, k0 (default 2k)"),
    ("--bn-size", "bn_size", "bottleneck width factor, 0 for none (default 4)"),
    ("--compression", "compression", "θ: a transition keeps floor(θ·m) of m channels (default 0.5)"),
    ("--drop-rate", "drop_rate", "dropout after each dense layer (default 0)"),
    ("--num-classes", "num_classes", "classifier outputs (default 1000)"),
    ("--in-channels", "in_channels", "3 (RGB) or 1 (grey)"),
    ("--stem", "stem", "imagenet (7×7/2 conv + 3×3/2 max pool) or cifar (one 3×3 conv)"),
    ("--input-size", "input_size", "S or HxW (default 224, or the preset's)"),
    ("--batch", "batch", "batch size for the memory figures (default 1)"),
)


class _Parser(argparse.ArgumentParser):
    """argparse that fails with one sentence and a pointer to --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}. Run '{self.prog} --help' for the options.\n")


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", metavar="NAME", help="start from a preset: " + ", ".join(PRESETS))
    for flag, _key, help_text in _CONFIG_FLAGS:
        choices_meta = "|".join(s.value for s in Stem) if flag == "--stem" else None
        parser.add_argument(flag, metavar=choices_meta or flag.removeprefix("--").split("-")[0].upper(), help=help_text)
    parser.add_argument(
        "--memory-efficient", action="store_true", help="checkpointed concatenations (arXiv 1707.06990)"
    )
    parser.add_argument(
        "--budget",
        default=format_bytes(DEFAULT_BUDGET_BYTES).replace(" ", ""),
        metavar="SIZE",
        help="refuse configs whose parameters plus activations exceed this (default %(default)s)",
    )


def _state(args: argparse.Namespace, side: str = "") -> ParsedState:
    """The settings given by the flags (``side`` is ``a_`` or ``b_`` for compare)."""
    params: dict[str, str] = {}
    preset = getattr(args, f"{side}preset" if side else "preset")
    if preset is not None:
        params["preset"] = preset
    for flag, key, _help in _CONFIG_FLAGS:
        value = getattr(args, side + flag.removeprefix("--").replace("-", "_"))
        if value is not None:
            params[key] = value
    if getattr(args, side + "memory_efficient"):
        params["memory_efficient"] = "true"
    try:
        return parse_state(params)
    except ConfigError as err:
        if not side:
            raise
        raise ConfigError(err.field, err.value, err.allowed, message=f"design {side[0].upper()}: {err}") from None


def _budget(args: argparse.Namespace) -> int:
    try:
        return parse_bytes(args.budget)
    except ValueError as err:
        raise ConfigError("budget", args.budget, "a size such as 4GiB or 512MiB", message=f"--budget: {err}.") from None


def _guarded_plan(args: argparse.Namespace) -> ArchitecturePlan:
    state = _state(args)
    plan = checked_plan(state.config, state.input, _budget(args))
    return plan


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[bool]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _hw(hw: Sequence[int]) -> str:
    return f"{hw[0]}×{hw[1]}"


def _print_summary(plan: ArchitecturePlan) -> None:
    cfg, spec, t, mem = plan.config, plan.input, plan.totals, plan.memory
    blocks = ",".join(str(n) for n in cfg.block_config)
    print(
        f"DenseNet  k={cfg.growth_rate}  blocks={blocks}  k0={cfg.init_features}  bn_size={cfg.bn_size}  "
        f"θ={cfg.compression:g}  stem={cfg.stem.value}  input={spec.batch}×{cfg.in_channels}×{spec.height}×{spec.width}"
    )
    print()
    rows = [
        (
            r.name,
            r.kind.value,
            r.in_channels,
            r.out_channels,
            _hw(r.in_hw),
            _hw(r.out_hw),
            f"{r.params:,}",
            f"{r.macs:,}",
            format_bytes(r.output_bytes),
        )
        for r in plan.layers
    ]
    header = ("layer", "kind", "C in", "C out", "H×W in", "H×W out", "params", "MACs", "output")
    print(_table(header, rows, (False, False, True, True, True, True, True, True, True)))
    print()
    block_rows = [
        (
            b.name,
            b.layers,
            f"{b.in_channels} → {b.out_channels}",
            b.transition_channels if b.transition_channels is not None else "-",
            _hw(b.hw),
            f"{b.params:,}",
            format_macs(b.macs),
        )
        for b in plan.blocks
    ]
    print(
        _table(
            ("block", "layers", "channels", "after transition", "H×W", "params", "MACs"),
            block_rows,
            (False, True, True, True, True, True, True),
        )
    )
    print()
    print(f"parameters        {format_count(t.params)}  ({t.params:,})")
    print(
        f"MACs per image    {format_macs(t.macs)}  ({t.macs:,}; FLOPs = 2·MACs = {format_count(t.flops)}; convolutions and linear, no bias or BN)"
    )
    print(f"depth L           {t.depth}  (convolutions + classifier, as the paper counts)")
    print(f"final channels    {t.final_channels}")
    print(f"parameter memory  {format_bytes(t.param_bytes)}  (float32)")
    print(f"activations       {format_bytes(t.activation_bytes)}  (every module's output at batch {spec.batch})")
    print(f"inference peak    {format_bytes(mem.inference_peak_bytes)}  (estimate)")
    print(
        f"training step     {format_bytes(mem.training_naive_bytes)} naive, "
        f"{format_bytes(mem.training_efficient_bytes)} memory-efficient  (estimate)"
    )


def _cmd_presets(args: argparse.Namespace) -> int:
    plans = {name: make_plan(p.config, p.input) for name, p in PRESETS.items()}
    if args.json:
        out = [
            {
                "name": name,
                "title": p.title,
                "source": p.source,
                "published_params": p.published_params,
                **plans[name].to_dict()["totals"],
                "config": p.config.to_dict(),
                "input": p.input.to_dict(),
            }
            for name, p in PRESETS.items()
        ]
        print(json.dumps(out, indent=2))
        return 0
    rows = []
    for name, p in PRESETS.items():
        t = plans[name].totals
        cfg = p.config
        rows.append(
            (
                name,
                p.title,
                _hw(p.input.hw),
                cfg.growth_rate,
                ",".join(map(str, cfg.block_config)),
                t.depth,
                format_count(t.params),
                format_macs(t.macs),
                p.published_params,
            )
        )
    print(
        _table(
            ("preset", "title", "input", "k", "blocks", "L", "params", "MACs", "published"),
            rows,
            (False, False, True, True, False, True, True, True, True),
        )
    )
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    plan = _guarded_plan(args)
    if args.torchinfo:
        from densviz.nn.verify import torchinfo_summary

        print(torchinfo_summary(plan.config, plan.input))
    elif args.json:
        print(json.dumps(plan.to_dict(), indent=2))
    else:
        _print_summary(plan)
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    plan = _guarded_plan(args)
    from densviz.nn.verify import verify

    report = verify(plan.config, plan.input)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0 if report.ok else 1
    by_name: dict[str, dict[str, Any]] = {}
    for check in report.checks:
        by_name.setdefault(check.name, {})[check.quantity.value] = check
    rows = []
    for name, checks in by_name.items():
        ok = all(c.ok for c in checks.values())
        cells = []
        for q in ("shape", "params", "macs"):
            c = checks.get(q)
            if c is None:
                cells.append("")
            elif q == "shape":
                cells.append("×".join(map(str, c.measured)) if c.measured else "not run")
            else:
                cells.append(f"{c.measured:,}" if c.ok else f"{c.measured} ≠ plan {c.planned}")
        rows.append((name, *cells, "ok" if ok else "MISMATCH"))
    print(_table(("module", "torch shape", "torch params", "torch MACs", ""), rows, (False, True, True, True, False)))
    print()
    if report.ok:
        print(
            f"verified: all {len(report.checks)} checks of the plan equal the PyTorch model's (built on the {report.device} device)."
        )
        return 0
    print(
        f"MISMATCH: {len(report.mismatches)} of {len(report.checks)} checks differ from the PyTorch model.",
        file=sys.stderr,
    )
    return 1


def _optional(name: str, text: str | None, allowed: str, kind: type[int] | type[float] = int) -> Any:
    """A flag's number (``kind`` int or float), ``None`` when absent; a ConfigError naming it when not a number."""
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(name, text, allowed) from None


def _cmd_export(args: argparse.Namespace) -> int:
    from densviz.export import export, parse_formats

    plan = _guarded_plan(args)
    formats = parse_formats(args.formats)
    if args.direction not in ("TB", "LR"):
        raise ConfigError("direction", args.direction, "TB (top to bottom) or LR (left to right)")
    block = _optional("block", args.block, f"a block number from 1 to {len(plan.blocks)}")
    max_full = _optional("max_full_layers", args.max_full_layers, "a positive integer")
    start = time.perf_counter()
    result = export(
        plan,
        args.out,
        formats,
        detail=args.detail,  # export() checks it, and the block, before any work
        block=block,
        direction=args.direction,
        show_cost=args.show_cost,
        max_full_layers=max_full,
        name=args.preset or "densenet",
        progress=lambda msg: print(f"densviz: {msg}…", file=sys.stderr, flush=True),
    )
    for note in result.notes:
        print(f"densviz: note: {note}", file=sys.stderr)
    for path in result.files:
        print(path)
    print(f"densviz: wrote {len(result.files)} files in {time.perf_counter() - start:.1f} s.", file=sys.stderr)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    import torch

    from densviz.run import (
        ImageError,
        RunOptions,
        WeightsError,
        build_for_run,
        choose_device,
        load_image,
        load_weights,
        precision_note,
        preprocess,
        random_input,
        run_forward,
        sample_images,
        training_step_peak,
    )

    state = _state(args)
    cfg, spec = state.config, state.input
    runs = _optional("runs", args.runs, "an integer from 1 to 1,000")
    warmup = _optional("warmup", args.warmup, "an integer from 0 to 100")
    threads = _optional("threads", args.threads, "an integer from 1 to 1,024")
    if args.dtype not in ("fp32", "bf16", "fp16"):
        raise ConfigError("dtype", args.dtype, "fp32, bf16 or fp16")
    options = RunOptions(
        device=args.device,
        precision=args.dtype,
        channels_last=args.channels_last,
        runs=10 if runs is None else runs,
        warmup=2 if warmup is None else warmup,
        threads=torch.get_num_threads() if threads is None else threads,  # the CLI has the machine to itself
    )
    model, plan = build_for_run(cfg, spec, _budget(args))

    def say(msg: str) -> None:
        if not args.json:
            print(f"densviz: {msg}…", file=sys.stderr, flush=True)

    try:
        if args.weights:
            path = Path(args.weights)
            report = load_weights(model, _read_file(path, "weights"), path.name)
            say(
                f"loaded {path.name} ({report.remapped} legacy keys renamed)"
                if report.remapped
                else f"loaded {path.name}"
            )
        if args.image == "random":
            x = random_input(spec, cfg.in_channels)
        elif args.image == "digits":
            from densviz.reuse import digit_batch

            x, labels = digit_batch(spec.batch, spec.height, spec.width, cfg.in_channels)
            say(f"input: held-out digits {', '.join(map(str, labels[:8]))}{'…' if len(labels) > 8 else ''}")
        elif args.image in sample_images():
            x = preprocess(sample_images()[args.image], spec, cfg.in_channels)
        else:
            path = Path(args.image)
            x = preprocess(load_image(_read_file(path, "image")), spec, cfg.in_channels)
    except (ImageError, WeightsError) as err:
        raise ConfigError("file", "", "", message=str(err)[0].upper() + str(err)[1:]) from None
    where = choose_device(options.device)
    if note := precision_note(where, options.precision):
        print(f"densviz: note: {options.precision.value} on {where} is {note}.", file=sys.stderr)
    result = run_forward(model, plan, x, options, progress=say)
    training = training_step_peak(cfg, spec, result.device) if args.training_memory else None
    if args.json:
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


def reuse_options(args: argparse.Namespace) -> tuple[Any, Any, int | None]:
    """``densviz reuse``'s flags read and checked: (variant, training options, threads), before any work.

    Raises:
        ConfigError: for any bad flag, with its sentence.
    """
    from densviz.reuse import TrainOptions, training_variant
    from densviz.run import choose_device

    state = _state(args)
    variant = training_variant(state.config)
    epochs = _optional("epochs", args.epochs, "an integer from 1 to 200")
    seed = _optional("seed", args.seed, "an integer from 0 to 2³²−1")
    batch = _optional("batch_size", args.batch_size, "an integer from 1 to 1,437")
    threads = _optional("threads", args.threads, "an integer from 1 to 1,024")
    max_seconds = _optional("max_seconds", args.max_seconds, "a number of seconds above 0 and at most 3,600", float)
    lr = _optional("lr", args.lr, "a number in (0, 10]", float)
    options = TrainOptions(
        epochs=3 if epochs is None else epochs,
        max_seconds=max_seconds,
        seed=0 if seed is None else seed,
        batch_size=64 if batch is None else batch,
        lr=0.1 if lr is None else lr,
        device=args.device,
    )
    if threads is not None and not 1 <= threads <= 1024:
        raise ConfigError("threads", threads, "an integer from 1 to 1,024")
    choose_device(options.device)  # an unknown device is refused before any work
    return variant, options, threads


def _cmd_reuse(args: argparse.Namespace) -> int:
    import torch

    from densviz.reuse import WEIGHTS_FILE, readings, reuse_files, reuse_maps, run_command, train

    variant, options, threads = reuse_options(args)
    if threads is not None:
        torch.set_num_threads(threads)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError("out", str(out), "", message=f"cannot create the folder {out}: {err.strerror}.") from None
    for change in variant.changes:
        print(f"densviz: trained with {change}.", file=sys.stderr)
    reported = [0]

    def on_step(log: Any) -> None:
        if len(log.epochs) > reported[0]:
            e = log.epochs[-1]
            reported[0] = len(log.epochs)
            print(
                f"densviz: epoch {e.epoch}: loss {e.train_loss:.3f}, held-out accuracy {e.test_accuracy:.1%}, {e.seconds:.1f} s",
                file=sys.stderr,
                flush=True,
            )

    result = train(variant, options, on_step=on_step)
    on_step(result.log)
    files, notes = reuse_files(result)
    for name, data in files.items():
        (out / name).write_bytes(data)
    for note in notes:
        print(f"densviz: note: {note}", file=sys.stderr)
    t90 = result.time_to(0.9)
    print(f"held-out accuracy {result.test_accuracy:.1%} on 360 digits never trained on")
    print(
        f"training          {len(result.log.epochs)} epoch(s) in {result.seconds:.1f} s on {result.device}, "
        f"{result.samples_per_s:.0f} samples/s, stopped by {result.stopped_by}; "
        + (f"90% reached after {t90:.1f} s" if t90 is not None else "90% not reached")
    )
    print()
    rows = [
        (r.title, r.value, {True: "yes", False: "no", None: "-"}[r.holds]) for r in readings(reuse_maps(result.model))
    ]
    print(_table(("the paper's reading (Sec. 5)", "this run", "holds"), rows, (False, True, False)))
    print()
    for name in files:
        print(out / name)
    print(
        f"densviz: classify digits with the trained weights: {run_command(variant, str(out / WEIGHTS_FILE))}",
        file=sys.stderr,
    )
    return 0


def _read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise ConfigError(what, str(path), "", message=f"cannot read the {what} file {path}: {err.strerror}.") from None


def _cmd_compare(args: argparse.Namespace) -> int:
    from densviz.core.compare import compare

    budget = _budget(args)
    plans = []
    for prefix in ("a_", "b_"):
        state = _state(args, prefix)
        plan = checked_plan(state.config, state.input, budget)
        plans.append(plan)
    result = compare(plans[0], plans[1])
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    fmt: dict[str, Callable[[int], str]] = {
        "params": format_count,
        "macs": format_macs,
        "depth": str,
        "final_channels": str,
        "param_bytes": format_bytes,
        "activation_bytes": format_bytes,
        "training_naive_bytes": format_bytes,
        "training_efficient_bytes": format_bytes,
    }
    names = [args.a_preset or "A (custom)", args.b_preset or "B (custom)"]
    rows = []
    for m in result.metrics:
        show = fmt[m.name]
        sign = "+" if m.diff > 0 else "−" if m.diff < 0 else "±"
        rows.append(
            (
                m.name,
                show(m.a),
                show(m.b),
                f"{sign}{show(abs(m.diff))}",
                f"{m.ratio:.2f}×" if m.ratio is not None else "-",
            )
        )
    print(_table(("", names[0], names[1], "B − A", "B / A"), rows, (False, True, True, True, True)))
    print()
    block_rows = []
    for d in result.blocks:

        def describe(s: Any) -> str:
            return (
                f"{s.layers} layers, {s.in_channels} → {s.out_channels} ch, {s.hw[0]}×{s.hw[1]}, {format_count(s.params)}"
                if s
                else "-"
            )

        block_rows.append((f"block {d.index}", describe(d.a), describe(d.b)))
    print(_table(("", names[0], names[1]), block_rows, (False, False, False)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``densviz`` command."""
    parser = _Parser(
        prog="densviz", description="See and measure DenseNets: exact per-layer plans, verified against PyTorch."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    p = sub.add_parser("presets", help="list the presets with parameters, MACs and depth")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_cmd_presets)
    p = sub.add_parser("summary", help="per-layer table and totals of a DenseNet")
    _add_config_flags(p)
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--json", action="store_true", help="print one JSON object: config, input, totals, memory, blocks, layers"
    )
    group.add_argument("--torchinfo", action="store_true", help="print torchinfo's table for the same model")
    p.set_defaults(run=_cmd_summary)
    p = sub.add_parser("verify", help="compare the plan with the real PyTorch model; exit 1 on any mismatch")
    _add_config_flags(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_cmd_verify)
    p = sub.add_parser("export", help="write the graph, the charts, the tables and the config to a folder")
    _add_config_flags(p)
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write into (created if missing)")
    p.add_argument(
        "--formats",
        default="svg,png,pdf,dot,html,csv,json",
        metavar="LIST",
        help="comma-separated: svg,png,pdf,dot,html,csv,json,zip (default %(default)s)",
    )
    p.add_argument(
        "--detail",
        default="dense",
        metavar="dense|chain|overview",
        help="graph detail: every concatenation edge, the running concatenation, or the stages (default dense)",
    )
    p.add_argument("--block", metavar="N", help="draw only dense block N")
    p.add_argument(
        "--direction", default="TB", metavar="TB|LR", help="graph top to bottom or left to right (default TB)"
    )
    p.add_argument("--show-cost", action="store_true", help="parameters and MACs in the graph's labels")
    p.add_argument(
        "--max-full-layers", metavar="N", help="dense detail: elide blocks longer than this (default 12, at most 24)"
    )
    p.set_defaults(run=_cmd_export)
    p = sub.add_parser("compare", help="two designs side by side: numbers, differences, ratios and blocks")
    for side in ("a", "b"):
        p.add_argument(
            f"--{side}", dest=f"{side}_preset", metavar="PRESET", help=f"design {side.upper()} starts from this preset"
        )
        for flag, _key, help_text in _CONFIG_FLAGS:
            p.add_argument(
                f"--{side}-{flag.removeprefix('--')}",
                dest=f"{side}_{flag.removeprefix('--').replace('-', '_')}",
                metavar="V",
                help=f"design {side.upper()}: {help_text}",
            )
        p.add_argument(
            f"--{side}-memory-efficient",
            dest=f"{side}_memory_efficient",
            action="store_true",
            help=f"design {side.upper()}: memory-efficient",
        )
    p.add_argument(
        "--budget",
        default=format_bytes(DEFAULT_BUDGET_BYTES).replace(" ", ""),
        metavar="SIZE",
        help="memory budget for each design",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_cmd_compare)
    p = sub.add_parser("run", help="build the model and time a real forward pass on this machine's device")
    _add_config_flags(p)
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
    p.set_defaults(run=_cmd_run)
    p = sub.add_parser(
        "reuse",
        help="train on scikit-learn's digits and draw the paper's Figure 5: how much each layer reuses earlier maps",
    )
    _add_config_flags(p)
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write into (created if missing)")
    p.add_argument("--epochs", metavar="N", help="passes over the 1,437 training digits (default 3)")
    p.add_argument("--max-seconds", metavar="S", help="stop training after this long (default: no limit)")
    p.add_argument("--seed", metavar="S", help="weights and batch order (default 0); same seed, same network on a CPU")
    p.add_argument("--batch-size", metavar="N", help="digits per step (default 64)")
    p.add_argument("--lr", metavar="LR", help="peak learning rate of SGD with Nesterov momentum (default 0.1)")
    p.add_argument(
        "--device", default="auto", metavar="auto|cpu|cuda|mps", help="where to train (default: the best there is)"
    )
    p.add_argument("--threads", metavar="N", help="CPU threads (default: all cores)")
    p.set_defaults(run=_cmd_reuse)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as err:
        print(f"densviz: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `densviz summary | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
