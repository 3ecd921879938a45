"""The ``densviz`` command: the engine without the browser.

    densviz presets
    densviz summary --preset densenet121 [--json] [--torchinfo]
    densviz verify --growth-rate 12 --block-config 16,16,16 --stem cifar --input-size 32
    densviz export --preset densenet264 --out out/ --formats svg,png,pdf,dot,html,csv,json

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

from densviz.cli import compare, export, presets, reuse, run, summary, verify
from densviz.cli.flags import Parser
from densviz.cli.reuse import reuse_options
from densviz.core.config import ConfigError

__all__ = ["build_parser", "main", "reuse_options"]

_COMMANDS = (presets, summary, verify, export, compare, run, reuse)
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
    except ConfigError as err:
        print(f"densviz: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `densviz summary | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
