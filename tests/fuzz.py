"""Hostile input at every entry point, counted: each case must end valid or in a sentence.

Entry points: the query-string parser (what links feed the page), the CLI's
flags (``summary``'s, and ``reuse``'s training flags up to the start of training), the config JSON loader (files and uploads), image uploads and weights
uploads. For each, hypothesis generates random and hostile values (unknown and
repeated keys, empty values, unicode, huge and negative numbers, nan, inf,
1e309, floats where ints belong, long strings, hundreds of blocks; random and
mutated bytes for files). A case passes if it gives a valid result or the
entry point's own error with a sentence; any other exception is a failure.
``benchmarks/fuzz_report.py`` prints the counts per entry point and exits 1 on
any failure; ``tests/test_fuzz.py`` runs the same cases at a small size.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections import Counter
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from densviz.cli import main as cli_main
from densviz.core.config import PRESETS, ConfigError, parse_state, state_from_json
from densviz.core.settings import Group, Kind, in_group

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

counts: dict[str, Counter[str]] = {}


def tally(entry: str, fn: Callable[[], object], allowed: tuple[type[BaseException], ...]) -> None:
    c = counts.setdefault(entry, Counter())
    try:
        fn()
        c["valid"] += 1
    except allowed as err:
        c["refused"] += 1
        if not str(err).strip():
            c["FAILED (no sentence)"] += 1
    except SystemExit as exc:  # the CLI's own exit
        c["refused" if exc.code == 2 else "valid" if exc.code == 0 else "FAILED"] += 1
    except Exception as err:
        c[f"FAILED ({type(err).__name__}: {str(err)[:60]})"] += 1


def run(examples: int) -> None:
    opts = settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))

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

    from densviz import build_model
    from densviz.run import ImageError, WeightsError, load_image, load_weights

    png = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (16, 16)).save(png, "PNG")
    png_bytes = png.getvalue()
    model = build_model(PRESETS["tiny"].config)

    @opts
    @given(
        st.one_of(
            st.binary(max_size=300),
            st.integers(0, len(png_bytes)).map(lambda n: png_bytes[:n]),
            st.tuples(st.integers(0, len(png_bytes) - 1), st.integers(0, 255)).map(
                lambda t: png_bytes[: t[0]] + bytes([t[1]]) + png_bytes[t[0] + 1 :]
            ),
        )
    )
    def images(data: bytes) -> None:
        tally("image upload", lambda: load_image(data), (ImageError,))

    @opts
    @given(st.binary(max_size=300), st.sampled_from(["w.pth", "w.pt", "w.safetensors", "w.bin", "w.txt"]))
    def weights(data: bytes, name: str) -> None:
        tally("weights upload", lambda: load_weights(model, data, name), (WeightsError,))

    for fn in (query, flags, training_flags, config_json, images, weights):
        fn()


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
