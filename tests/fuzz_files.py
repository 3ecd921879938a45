"""The fuzz cases of files (``tests/fuzz.py``): image and weights uploads as random and mutated bytes, images claiming
any size up to 2³² − 1 a side, checkpoints as zip archives and zip bombs, state dicts of hostile dtypes and values.

Each case must end with a result or the loader's own error with a sentence,
and a bomb must not raise the process's peak memory past its bound.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from functools import cache
from typing import Any

import torch
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image
from torch import nn

from densviz.core.config import PRESETS, InputSpec
from tests.fuzz_count import Opts, tally


def upload_entries(opts: Opts) -> list[Callable[[], None]]:
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


def shape_entries(opts: Opts) -> list[Callable[[], None]]:
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


def archive_entries(opts: Opts) -> list[Callable[[], None]]:
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


def dtype_entries(opts: Opts) -> list[Callable[[], None]]:
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
