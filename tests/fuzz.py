"""Hostile input at every entry point, counted: each case must end valid or in a sentence.

Entry points: the query-string parser (what links feed the page), the CLI's
flags (``summary``'s, and ``reuse``'s training flags up to the start of training), the config JSON loader (files and uploads), image uploads and weights
uploads. For each, hypothesis generates random and hostile values (unknown and
repeated keys, empty values, unicode, huge and negative numbers, nan, inf,
1e309, floats where ints belong, long strings, hundreds of blocks; random and
mutated bytes for files). Files get three more: images whose header claims
any size up to 2³² − 1 a side, through the upload and preprocessing;
checkpoints as zip archives and zip bombs (past the limit unpacked, deflated
1000:1, 20,001 records), whole, cut or with a byte changed; state dicts with a
tensor of every dtype (complex, bool, fp8, integers), NaN, infinity, 1e300 or
a sparse layout. A case passes if it gives a valid result or the
entry point's own error with a sentence; any other exception is a failure.
``benchmarks/fuzz_report.py`` prints the counts per entry point and exits 1 on
any failure; ``tests/test_fuzz.py`` runs the same cases at a small size.

The cases of files are in ``tests/fuzz_files.py``, the count in
``tests/fuzz_count.py``; the cases of text (links, flags, config JSON),
output folders and training configurations here.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from densviz.cli import main as cli_main
from densviz.core.config import PRESETS, ConfigError, parse_state, state_from_json
from densviz.core.settings import Group, Kind, in_group
from tests.fuzz_count import Opts, counts, tally
from tests.fuzz_files import archive_entries, dtype_entries, shape_entries, upload_entries

KEYS = [s.query for s in in_group(Group.START, Group.ARCHITECTURE, Group.INPUT) if s.query]
"""Every key a link may carry, from the settings table."""
HOSTILE = st.sampled_from(
    [
        "",
        " ",
        "nan",
        "inf",
        "-inf",
        "1e309",
        "-1",
        "0",
        "3.5",
        "1e3",
        "12abc",
        "0x10",
        "٣",
        "１２",
        "\x00",
        "\x1f12",
        "6,,12",
        ",",
        "6," * 300,
        "9" * 400,
        "true",
        "None",
        "imagenet",
        "cifar",
        "224x",
        "x224",
        "224×160",
        "1e-320",
    ]
)
VALUES = (
    HOSTILE
    | st.text(max_size=40)
    | st.integers(-(10**12), 10**12).map(str)
    | st.floats(allow_nan=True, allow_infinity=True).map(repr)
)
FLAG = {
    s.query: s.flag
    for s in in_group(Group.START, Group.ARCHITECTURE, Group.INPUT)
    if s.flag and s.kind is not Kind.BOOL
}


def run(examples: int) -> None:
    """Run every entry point's cases, ``examples`` each, into ``counts``."""
    opts = settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    for group in (
        _text_entries,
        upload_entries,
        shape_entries,
        archive_entries,
        dtype_entries,
        _output_entries,
        _training_entries,
    ):
        for fn in group(opts):
            fn()


def _text_entries(opts: Opts) -> list[Callable[[], None]]:
    """Links, flags and config JSON."""

    @opts
    @given(
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=12), VALUES | st.lists(VALUES, max_size=3), max_size=8)
    )
    def query(params: dict[str, object]) -> None:
        tally("query string (strict)", lambda: parse_state(params), (ConfigError,))
        tally("query string (lenient, as the page reads links)", lambda: parse_state(params, lenient=True), ())

    @opts
    @given(st.lists(st.tuples(st.sampled_from([*FLAG.values(), "--budget", "--bogus", "--json"]), VALUES), max_size=5))
    def flags(pairs: list[tuple[str, str]]) -> None:
        argv = ["summary", "--json"] + [a for pair in pairs for a in pair]
        out, err = io.StringIO(), io.StringIO()
        stdout, stderr = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            tally("CLI flags (densviz summary)", lambda: cli_main(argv), ())
        finally:
            sys.stdout, sys.stderr = stdout, stderr
        if "Traceback" in err.getvalue():
            counts["CLI flags (densviz summary)"]["FAILED (traceback)"] += 1

    reuse_flags = ["--epochs", "--max-seconds", "--seed", "--batch-size", "--lr", "--threads", "--device"]

    @opts
    @given(st.lists(st.tuples(st.sampled_from([*reuse_flags, *FLAG.values()]), VALUES), max_size=5))
    def training_flags(pairs: list[tuple[str, str]]) -> None:
        from densviz.cli import build_parser, reuse_options

        def parse() -> object:
            args = build_parser().parse_args(["reuse", "--out", "unused"] + [a for pair in pairs for a in pair])
            return reuse_options(args)  # every check of `densviz reuse`, without the training

        err = io.StringIO()
        stderr, sys.stderr = sys.stderr, err
        try:
            tally("CLI flags (densviz reuse, checked before training)", parse, (ConfigError,))
        finally:
            sys.stderr = stderr

    json_values = st.recursive(
        st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats() | st.text(max_size=20),
        lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
        max_leaves=12,
    )
    good = json.dumps({"config": PRESETS["tiny"].config.to_dict(), "input": PRESETS["tiny"].input.to_dict()}).encode()

    @opts
    @given(
        st.one_of(
            st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), json_values, max_size=6).map(
                lambda d: json.dumps({"config": d}).encode()
            ),
            json_values.map(lambda v: json.dumps(v).encode()),
            st.binary(max_size=200),
            st.integers(0, len(good)).map(lambda n: good[:n]),
        )
    )
    def config_json(data: bytes) -> None:
        tally("config JSON (file / upload)", lambda: state_from_json(data), (ConfigError,))

    return [query, flags, training_flags, config_json]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=300)
    args = parser.parse_args()
    run(args.examples)
    failed = 0
    print(f"{'entry point':<50} {'cases':>6} {'valid':>6} {'refused':>8} {'failed':>7}")
    for entry, c in counts.items():
        bad = sum(v for k, v in c.items() if k.startswith("FAILED"))
        failed += bad
        print(
            f"{entry:<50} {sum(v for k, v in c.items() if not k.startswith('FAILED (no') and k != 'FAILED (traceback)'):>6} {c['valid']:>6} {c['refused']:>8} {bad:>7}"
        )
        for k, v in c.items():
            if k.startswith("FAILED"):
                print(f"    {v}× {k}")
    print("every case ended valid or with a sentence" if not failed else f"{failed} cases failed")
    sys.exit(1 if failed else 0)


def _output_entries(opts: Opts) -> list[Callable[[], None]]:
    """``--out`` folders: special files, devices, long and odd names, existing files, empty text."""
    import tempfile

    from densviz.core.errors import SurroundingsError
    from densviz.core.files import prepare_output_dir, write_atomic

    scratch = Path(tempfile.mkdtemp(prefix="densviz-fuzz-out-"))
    (scratch / "a-file").write_text("x")
    fixed = ["", " ", "/dev/full", "/dev/null", "/proc/self/x", "/sys/kernel/x", "/", str(scratch / "a-file"), "a\x00b"]
    names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=300)

    @opts
    @given(
        st.sampled_from(fixed)
        | names.map(lambda n: str(scratch / n))
        | st.integers(250, 400).map(lambda n: str(scratch / ("a" * n)))
    )
    def outputs(path: str) -> None:
        def write() -> None:
            folder = prepare_output_dir(path)
            target = folder / "layers.csv"
            write_atomic(target, b"layer,kind\n")
            if target.read_bytes() != b"layer,kind\n":
                raise AssertionError(f"{target} holds something else")

        tally("output folders (--out)", write, (ConfigError, SurroundingsError))

    return [outputs]


def _training_entries(opts: Opts) -> list[Callable[[], None]]:
    """Architectures given to ``densviz reuse`` and the Feature reuse view: what is trained stays within its caps."""
    from densviz.core.config import DenseNetConfig
    from densviz.reuse import TRAIN_MACS_BUDGET, check_training_memory, training_variant

    @opts
    @given(
        st.integers(1, 128),
        st.lists(st.integers(1, 256), min_size=1, max_size=8),
        st.integers(1, 4096),
        st.sampled_from([0, 1, 4, 16]),
        st.sampled_from([0.05, 0.5, 1.0]),
        st.sampled_from(["imagenet", "cifar"]),
        st.integers(1, 1437),
    )
    def training(k: int, blocks: list[int], k0: int, bn: int, theta: float, stem: str, batch: int) -> None:
        def plan() -> None:
            cfg = DenseNetConfig(
                growth_rate=k,
                block_config=tuple(blocks),
                num_init_features=k0,
                bn_size=bn,
                compression=theta,
                stem=stem,
            )
            variant = training_variant(cfg)
            if variant.macs > TRAIN_MACS_BUDGET:
                raise AssertionError(f"the variant trained costs {variant.macs:,} MACs, over the cap")
            check_training_memory(variant, batch)

        tally("training configurations (checked before training)", plan, (ConfigError,))

    return [training]
