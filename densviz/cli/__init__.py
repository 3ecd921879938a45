"""The ``densviz`` command: the engine without the browser.

    densviz presets
    densviz summary --preset densenet121 [--json] [--torchinfo]
    densviz verify --growth-rate 12 --block-config 16,16,16 --stem cifar --input-size 32
    densviz export --preset densenet264 --out out/ --formats svg,png,pdf,dot,html,csv,json
    densviz explore --stem cifar --input-size 32 --growth-rate 8:48:4 --layers 4:40 --max-params 1000000

Flags are spelled as the config fields (``--growth-rate`` is ``growth_rate``) and
go through the same parser as the web app's query string, so a setting is
refused with the same sentence everywhere.

One module per subcommand (:mod:`~densviz.cli.presets`, :mod:`~densviz.cli.summary`,
:mod:`~densviz.cli.verify`, :mod:`~densviz.cli.export`, :mod:`~densviz.cli.compare`,
:mod:`~densviz.cli.run`, :mod:`~densviz.cli.reuse`), each adding its own parser;
the config flags in :mod:`~densviz.cli.flags`, the text tables in
:mod:`~densviz.cli.output`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from densviz.cli import app, cam, compare, explore, export, presets, profile, reuse, run, summary, verify
from densviz.cli.flags import Parser
from densviz.cli.reuse import reuse_options
from densviz.core.config import ConfigError
from densviz.core.errors import SurroundingsError

__all__ = ["build_parser", "main", "reuse_options"]

_COMMANDS = (presets, summary, verify, export, compare, explore, run, profile, reuse, cam, app)
"""In the order ``densviz --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``densviz`` command."""
    parser = Parser(
        prog="densviz", description="See and measure DenseNets: exact per-layer plans, verified against PyTorch."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")
    for module in _COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as err:  # bad input: the flag, the value, what is allowed
        print(f"densviz: error: {err}", file=sys.stderr)
        return 2
    except SurroundingsError as err:  # the machine failed: a full disk, a helper program that crashed
        print(f"densviz: error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `densviz summary | head`
        sys.stderr.close()
        return 0
    except (MemoryError, RuntimeError) as err:
        if not isinstance(err, MemoryError) and "memory" not in str(err).lower():
            raise
        print(f"densviz: error: {_out_of_memory(argv)}", file=sys.stderr)
        return 1


def _out_of_memory(argv: Sequence[str] | None) -> str:
    """The sentence for an allocation that failed, naming the settings that asked for it."""
    given = " ".join(argv if argv is not None else sys.argv[1:])
    return (
        f"This machine ran out of memory for `densviz {given}`; lower the batch, the input size, "
        "the growth rate or the layers per block (or the --budget)."
    )


if __name__ == "__main__":
    sys.exit(main())
