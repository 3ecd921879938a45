"""``densviz reuse``: train on scikit-learn's digits and draw the paper's Figure 5."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from densviz.cli.flags import add_config_flags, add_setting_flags, read_settings, state
from densviz.cli.output import note, text_table
from densviz.core.files import prepare_output_dir, write_atomic
from densviz.core.settings import SETTINGS, Group, in_group

__all__ = ["command", "register", "reuse_options"]

TRAIN_SETTINGS = (*in_group(Group.TRAINING), SETTINGS["device"], SETTINGS["threads"])
"""``densviz reuse``'s own flags: the training options, where to train and on how many threads."""


def reuse_options(args: argparse.Namespace) -> tuple[Any, Any, int | None]:
    """``densviz reuse``'s flags read and checked: (variant, training options, threads), before any work.

    Raises:
        ConfigError: for any bad flag, with its sentence.
    """
    from densviz.reuse import TrainOptions, check_training_memory, training_variant
    from densviz.run import choose_device

    variant = training_variant(state(args).config)
    values = read_settings(args, TRAIN_SETTINGS)
    threads = values.pop("threads")
    options = TrainOptions(**values)
    check_training_memory(variant, options.batch_size)  # the training step's estimate against the budget
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
    out = prepare_output_dir(args.out)  # before training: a folder nothing can be written to is refused now
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
        write_atomic(out / name, data)
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
    add_setting_flags(p, TRAIN_SETTINGS)
    p.set_defaults(run=command)
