"""``densviz reuse``: train on scikit-learn's digits and draw the paper's Figure 5."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from densviz.cli.flags import add_config_flags, optional, state
from densviz.cli.output import note, text_table
from densviz.core.config import ConfigError

__all__ = ["command", "register", "reuse_options"]


def reuse_options(args: argparse.Namespace) -> tuple[Any, Any, int | None]:
    """``densviz reuse``'s flags read and checked: (variant, training options, threads), before any work.

    Raises:
        ConfigError: for any bad flag, with its sentence.
    """
    from densviz.reuse import TrainOptions, training_variant
    from densviz.run import choose_device

    variant = training_variant(state(args).config)
    epochs = optional("epochs", args.epochs, "an integer from 1 to 200")
    seed = optional("seed", args.seed, "an integer from 0 to 2³²−1")
    batch = optional("batch_size", args.batch_size, "an integer from 1 to 1,437")
    threads = optional("threads", args.threads, "an integer from 1 to 1,024")
    max_seconds = optional("max_seconds", args.max_seconds, "a number of seconds above 0 and at most 3,600", float)
    lr = optional("lr", args.lr, "a number in (0, 10]", float)
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


def command(args: argparse.Namespace) -> int:
    """Run ``densviz reuse``; return its exit status."""
    import torch

    from densviz.export.reuse import reuse_files
    from densviz.reuse import WEIGHTS_FILE, readings, reuse_maps, run_command, train

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
    for text in notes:
        note(text)
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
    print(text_table(("the paper's reading (Sec. 5)", "this run", "holds"), rows, (False, True, False)))
    print()
    for name in files:
        print(out / name)
    print(
        f"densviz: classify digits with the trained weights: {run_command(variant, str(out / WEIGHTS_FILE))}",
        file=sys.stderr,
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``reuse`` to the command's subparsers."""
    p = sub.add_parser(
        "reuse",
        help="train on scikit-learn's digits and draw the paper's Figure 5: how much each layer reuses earlier maps",
    )
    add_config_flags(p)
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
    p.set_defaults(run=command)
