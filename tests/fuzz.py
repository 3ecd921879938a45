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
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import sys
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image
from torch import nn

from densviz.cli import main as cli_main
from densviz.core.config import PRESETS, ConfigError, InputSpec, parse_state, state_from_json
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


Opts = Callable[[Callable[..., None]], Callable[..., None]]


def run(examples: int) -> None:
    """Run every entry point's cases, ``examples`` each, into ``counts``."""
    opts = settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    for group in (
        _text_entries,
        _upload_entries,
        _shape_entries,
        _archive_entries,
        _dtype_entries,
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


def _upload_entries(opts: Opts) -> list[Callable[[], None]]:
    """Random and mutated bytes as an image or weights upload."""
    from densviz.run import ImageError, WeightsError, load_image, load_weights

    png = io.BytesIO()
    Image.new("RGB", (16, 16)).save(png, "PNG")
    png_bytes = png.getvalue()
    model = _tiny_model()

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

    return [images, weights]


@cache
def _tiny_model() -> nn.Module:
    from densviz import build_model

    return build_model(PRESETS["tiny"].config)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _image_claiming(width: int, height: int, fmt: str) -> bytes:
    """A PNG or JPEG whose header claims ``width`` × ``height``: a real image when small, else a header and a few bytes."""
    buf = io.BytesIO()
    if width * height <= 4096:
        Image.new("RGB", (width, height), (200, 30, 90)).save(buf, fmt)
        return buf.getvalue()
    if fmt == "PNG":
        header = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        return b"\x89PNG\r\n\x1a\n" + header + _chunk(b"IDAT", zlib.compress(bytes(64))) + _chunk(b"IEND", b"")
    Image.new("RGB", (8, 8)).save(buf, "JPEG")
    data = buf.getvalue()
    sof = data.index(b"\xff\xc0") + 5  # the frame's height and width, 16 bits each
    return data[:sof] + struct.pack(">HH", min(height, 65535), min(width, 65535)) + data[sof + 4 :]


def _shape_entries(opts: Opts) -> list[Callable[[], None]]:
    """Images of every shape, small to 2³² − 1 a side, through the upload and preprocessing."""
    from densviz.run import ImageError, load_image, preprocess

    sides = st.one_of(
        st.integers(1, 64),
        st.sampled_from([1, 2, 19, 20, 21, 40, 224, 1000, 6324, 65535, 1_000_000, 40_000_000, 2**31 - 1, 2**32 - 1]),
        st.integers(1, 2**32 - 1),
    )
    inputs = st.sampled_from([(224, 224), (32, 32), (1, 4096), (4096, 1), (40, 56)])

    @opts
    @given(sides, sides, st.sampled_from(["PNG", "JPEG"]), inputs)
    def shapes(width: int, height: int, fmt: str, hw: tuple[int, int]) -> None:
        data = _image_claiming(width, height, fmt)
        spec = InputSpec(batch=1, height=hw[0], width=hw[1])
        upload = _bounded(lambda: preprocess(load_image(data), spec, 3), 1 << 30)  # 40 Mpx decoded is 160 MB
        tally("image upload (extreme shapes)", upload, (ImageError,))

    return [shapes]


def _rezip(checkpoint: bytes, compress: int, zeros: tuple[str, int] | None = None) -> bytes:
    """The checkpoint's records recompressed; ``zeros``: (a record's name ends so, bytes) swaps it for that many zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(checkpoint)) as src, zipfile.ZipFile(out, "w", compress) as dst:
        for info in src.infolist():
            if zeros is None or not info.filename.endswith(zeros[0]):
                dst.writestr(info.filename, src.read(info.filename))
                continue
            bomb = zipfile.ZipInfo(info.filename)
            bomb.compress_type = zipfile.ZIP_DEFLATED
            with dst.open(bomb, "w", force_zip64=True) as f:  # written a MiB at a time: this stays small
                for start in range(0, zeros[1], 1 << 20):
                    f.write(bytes(min(1 << 20, zeros[1] - start)))
    return out.getvalue()


@cache
def _archives() -> dict[str, bytes]:
    """Checkpoints to mutate: as torch.save writes them, deflated, legacy, and bombs of each kind.

    A bomb's zeros stand in for a tensor's record, which torch.load reads whole.
    """
    from densviz.run import MAX_ARCHIVE_MEMBERS, MAX_WEIGHTS_BYTES

    state = _tiny_model().state_dict()
    buf, legacy = io.BytesIO(), io.BytesIO()
    torch.save(state, buf)
    torch.save(state, legacy, _use_new_zipfile_serialization=False)
    plain = buf.getvalue()
    return {
        "stored": plain,
        "deflated": _rezip(plain, zipfile.ZIP_DEFLATED),
        "legacy": legacy.getvalue(),
        "bomb (total)": _rezip(plain, zipfile.ZIP_STORED, ("/data/0", MAX_WEIGHTS_BYTES + 1)),
        "bomb (ratio)": _rezip(plain, zipfile.ZIP_STORED, ("/data/0", 64 << 20)),
        "bomb (records)": b"PK\x03\x04" + b"PK\x01\x02" * (MAX_ARCHIVE_MEMBERS + 1),
    }


def _peak_rss(reset: bool = False) -> int:
    """The process's peak resident memory, in bytes; ``reset`` first sets it to the current level (Linux)."""
    try:
        if reset:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM, the peak
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) << 10 for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):  # elsewhere: the peak since the start, which only catches a new record
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10


def _bounded(fn: Callable[[], object], grow_bytes: int) -> Callable[[], object]:
    """``fn``, failing if it raised the process's peak memory by more than ``grow_bytes`` (a bomb went off)."""

    def run() -> object:
        before = _peak_rss(reset=True)
        try:
            return fn()
        finally:
            if (grew := _peak_rss() - before) > grow_bytes:
                raise AssertionError(f"the peak memory grew by {grew >> 20} MiB")

    return run


def _archive_entries(opts: Opts) -> list[Callable[[], None]]:
    """Checkpoints as zip archives and zip bombs, whole, cut short, or with a byte changed (often in the directory)."""
    from densviz.run import WeightsError, load_weights

    model = _tiny_model()
    names = sorted(_archives())

    @opts
    @given(
        st.sampled_from(names),
        st.one_of(
            st.none(),
            st.tuples(st.just("cut"), st.floats(0, 1)),
            st.tuples(st.just("tail"), st.integers(1, 200), st.integers(0, 255)),
            st.tuples(st.just("any"), st.floats(0, 1), st.integers(0, 255)),
        ),
    )
    def archives(name: str, change: tuple[Any, ...] | None) -> None:
        data = _archives()[name]
        if change is not None and change[0] == "cut":
            data = data[: int(len(data) * change[1])]
        elif change is not None:
            at = len(data) - change[1] if change[0] == "tail" else int((len(data) - 1) * change[1])
            data = data[:at] + bytes([change[2]]) + data[at + 1 :]
        load = _bounded(lambda: load_weights(model, data, "w.pth"), 32 << 20)
        tally("weights upload (zip archives, bombs)", load, (WeightsError,))

    for name in names:  # each one whole, at least once
        archives = example(name, None)(archives)
    return [archives]


def _dtype_entries(opts: Opts) -> list[Callable[[], None]]:
    """A state dict with one tensor of another dtype, value or layout, as .pth or .safetensors."""
    from safetensors.torch import save as save_safetensors

    from densviz.run import WeightsError, load_weights

    model = _tiny_model()
    state = model.state_dict()
    dtypes = [
        torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.complex64, torch.complex128,
        torch.bool, torch.uint8, torch.int8, torch.int32, torch.int64, torch.float8_e4m3fn, torch.float8_e5m2,
    ]  # fmt: skip
    values = st.sampled_from([0.0, 1.0, -2.5, float("nan"), float("inf"), float("-inf"), 1e300, 7e4, 1e-45])

    @opts
    @given(st.sampled_from(sorted(state)), st.sampled_from(dtypes), values, st.sampled_from(["pth", "st", "sparse"]))
    def dtypes_(key: str, dtype: torch.dtype, value: float, fmt: str) -> None:
        tensor = torch.full(state[key].shape, value, dtype=torch.float64)
        tensor = (tensor.to_sparse() if fmt == "sparse" and tensor.dim() else tensor).to(dtype)
        hostile = {**state, key: tensor}
        data: bytes | None = None
        if fmt == "st":
            try:
                data, name = save_safetensors(hostile), "w.safetensors"
            except Exception:  # a kind safetensors cannot hold (complex128, sparse): as a checkpoint
                data = None
        if data is None:
            buf = io.BytesIO()
            torch.save(hostile, buf)
            data, name = buf.getvalue(), "w.pth"

        def load() -> None:
            load_weights(model, data, name)
            if not all(bool(torch.isfinite(v).all()) for v in model.state_dict().values() if v.is_floating_point()):
                raise AssertionError(f"{key} as {dtype} of {value} loaded: the model holds NaN or infinity")

        tally("weights upload (hostile dtypes)", load, (WeightsError,))

    return [dtypes_]


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
