"""Weights I/O: read ``.pth`` and ``.safetensors`` files safely, report how they fit, save as safetensors.

A safetensors file may name its classes (metadata ``densviz.classes``, a JSON
list of strings): ``save_weights(model, classes=DIGIT_CLASSES)`` writes it,
``load_weights`` reads it back into ``LoadReport.classes``.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from densviz.core.errors import show_value
from densviz.core.units import format_bytes
from densviz.nn.model import remap_legacy_keys

__all__ = [
    "DIGIT_CLASSES",
    "MAX_ARCHIVE_MEMBERS",
    "MAX_COMPRESSION_RATIO",
    "MAX_WEIGHTS_BYTES",
    "RANDOM_WEIGHTS",
    "LoadReport",
    "WeightsError",
    "load_weights",
    "save_weights",
]

MAX_WEIGHTS_BYTES = 256 << 20  # DenseNet-264 in float32 is 127 MiB
_PICKLE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
_CLASSES_KEY = "densviz.classes"
_ZIP_MAGIC = b"PK\x03\x04"  # torch.load reads a file that starts so as a zip archive, else as the legacy pickle
_ZIP_ENTRY = b"PK\x01\x02"  # each entry of a zip's central directory starts so
MAX_ARCHIVE_MEMBERS = 20_000  # torch.save of DenseNet-264's state dict writes about 3,000
MAX_COMPRESSION_RATIO = 100  # a record deflated further than this is zeros, not weights
_RATIO_FLOOR = 1 << 20  # records smaller than this may be any ratio: they expand to little
_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)
_COUNTER = "num_batches_tracked"  # batch norm's int64 counter: the one tensor that is not floating point

RANDOM_WEIGHTS = "random (untrained)"
"""What a run's weights are when no file was loaded."""

DIGIT_CLASSES = tuple(str(d) for d in range(10))
"""The classes of a network trained on the digits (``densviz reuse``, the Feature reuse view)."""


class WeightsError(ValueError):
    """A checkpoint that cannot be loaded; the message says why in words."""


@dataclass(frozen=True)
class LoadReport:
    """How a checkpoint fits the current architecture.

    Attributes:
        missing: Keys the model has and the file lacks.
        unexpected: Keys the file has and the model lacks.
        mismatched: (key, shape in the file, shape in the model).
        remapped: Legacy keys renamed (``norm.1`` → ``norm1``).
        classes: The classes' names the file carries, one per output, else ``None``.
    """

    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    mismatched: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]
    remapped: int
    classes: tuple[str, ...] | None = None

    @property
    def ok(self) -> bool:
        """Whether the file fits exactly."""
        return not (self.missing or self.unexpected or self.mismatched)

    def sentence(self) -> str:
        """What is wrong, in words."""
        if self.ok:
            return "the weights fit this architecture exactly."
        parts = []

        def some(keys: Sequence[str]) -> str:
            return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")

        if self.mismatched:
            key, got, want = self.mismatched[0]
            parts.append(
                f"{len(self.mismatched)} tensors have another shape (e.g. {key} is {list(got)} in the file, {list(want)} here)"
            )
        if self.missing:
            parts.append(f"{len(self.missing)} keys are missing ({some(self.missing)})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} keys are not in this architecture ({some(self.unexpected)})")
        return "the weights do not fit this architecture: " + "; ".join(parts) + "."


def _read_safetensors(data: bytes) -> Mapping[str, Tensor]:
    """A safetensors file's tensors (the format holds nothing else)."""
    from safetensors import SafetensorError
    from safetensors.torch import load as load_safetensors

    try:
        return load_safetensors(data)
    except (SafetensorError, ValueError, RuntimeError, OverflowError) as err:
        raise WeightsError(f"the file is not a readable safetensors file ({str(err)[:200]}).") from None


def _safetensors_classes(data: bytes) -> tuple[str, ...] | None:
    """The class names in a safetensors file's metadata, if it carries a list of strings."""
    try:
        (length,) = struct.unpack("<Q", data[:8])
        metadata = json.loads(data[8 : 8 + length]).get("__metadata__") or {}
        classes = json.loads(metadata[_CLASSES_KEY])
    except (struct.error, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None
    if isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes):
        return tuple(classes)
    return None


def _check_archive(data: bytes) -> None:
    """Refuse a zip checkpoint that would unpack past the weights limit, from its directory alone.

    torch's ``.pth`` is a zip archive, and ``torch.load`` inflates each record
    whole before it checks a key or a shape: 2 MB of deflated zeros become
    2 GiB. So the directory is read first: the records, the sum of their
    unpacked sizes (the limit is the one for the file) and each one's ratio.
    The legacy format (a plain pickle) holds nothing compressed.

    Raises:
        WeightsError: for an archive of too many records, too large unpacked,
            compressed like a bomb, or too damaged to read.
    """
    if not data.startswith(_ZIP_MAGIC):
        return
    if data.count(_ZIP_ENTRY) > MAX_ARCHIVE_MEMBERS:  # counted before zipfile makes an object for each
        raise WeightsError(
            f"the checkpoint is a zip archive of more than {MAX_ARCHIVE_MEMBERS:,} records; "
            "a network's weights need far fewer, so it was not unpacked."
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except Exception as err:  # a damaged directory fails in many ways (BadZipFile, NotImplementedError, …)
        raise WeightsError(
            f"the file is not a readable PyTorch checkpoint (a damaged zip archive: {str(err)[:200]})."
        ) from None
    unpacked = sum(m.file_size for m in members)
    if len(members) > MAX_ARCHIVE_MEMBERS or unpacked > MAX_WEIGHTS_BYTES:
        raise WeightsError(
            f"the checkpoint would unpack to {format_bytes(unpacked)} in {len(members):,} records; at most "
            f"{format_bytes(MAX_WEIGHTS_BYTES)} in {MAX_ARCHIVE_MEMBERS:,} are accepted, so it was not unpacked."
        )
    for m in members:
        if m.file_size > _RATIO_FLOOR and m.file_size > MAX_COMPRESSION_RATIO * m.compress_size:
            raise WeightsError(
                f"the checkpoint's record {show_value(m.filename)} is compressed "
                f"{m.file_size / max(1, m.compress_size):,.0f}:1 (at most {MAX_COMPRESSION_RATIO}:1 is accepted: "
                "weights do not shrink so far), so it was not unpacked."
            )


def _unpickle(data: bytes) -> object:
    """A PyTorch checkpoint's contents, with ``weights_only``: tensors and plain containers, never arbitrary objects."""
    import pickle

    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(err))
        if found:  # weights_only refused an object reference: nothing was called
            raise WeightsError(
                f"the checkpoint holds something other than tensors (a reference to {found.group(1)}), "
                "so it was not loaded and nothing in it ran."
            ) from None
        raise WeightsError("the file is not a readable PyTorch checkpoint.") from None
    except Exception as err:  # a damaged pickle can fail in any of a dozen ways; each gets the same sentence
        raise WeightsError(
            f"the file is not a readable PyTorch checkpoint ({type(err).__name__}: {str(err)[:200]})."
        ) from None


def _state_dict_of(obj: object) -> dict[str, Tensor]:
    """The state dict in an unpickled checkpoint: the object itself, or its ``state_dict`` entry."""
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()):
        raise WeightsError("the checkpoint is not a state dict (a mapping of names to tensors).")
    return obj


def _read_state(data: bytes, filename: str) -> Mapping[str, Tensor]:
    """The tensors in a weights file, by name, after checking its size and kind.

    Raises:
        WeightsError: empty, too large, neither safetensors nor a checkpoint, or unreadable.
    """
    if not data:
        raise WeightsError("the weights file is empty.")
    if len(data) > MAX_WEIGHTS_BYTES:
        raise WeightsError(
            f"the weights file is {format_bytes(len(data))}; at most {format_bytes(MAX_WEIGHTS_BYTES)} is accepted."
        )
    if filename.lower().endswith(".safetensors"):
        return _read_safetensors(data)
    if not filename.lower().endswith(_PICKLE_SUFFIXES):
        raise WeightsError("weights must be a .safetensors file or a PyTorch checkpoint (.pth, .pt, .bin, .ckpt).")
    _check_archive(data)
    return _state_dict_of(_unpickle(data))


def _check_kinds(state: Mapping[str, Tensor]) -> None:
    """Refuse a tensor of a kind no DenseNet holds, from its metadata alone (no value is read).

    Raises:
        WeightsError: naming the first tensor that is sparse, nested, complex,
            boolean, fp8, quantised or an integer other than an int64 counter.
    """
    for key, tensor in state.items():
        if tensor.layout != torch.strided or tensor.is_nested:
            raise WeightsError(
                f"the weights hold {show_value(key)} as a {tensor.layout} tensor; only dense ones are accepted."
            )
        if tensor.dtype not in _DTYPES and not (key.endswith(_COUNTER) and tensor.dtype == torch.int64):
            raise WeightsError(
                f"the weights hold {show_value(key)} as {str(tensor.dtype).removeprefix('torch.')}; only float32, "
                f"float16, bfloat16 and float64 tensors (and int64 {_COUNTER} counters) are accepted."
            )


def _check_finite(state: Mapping[str, Tensor], own: Mapping[str, Tensor]) -> None:
    """Refuse NaN or infinity, as the values will be in the model (1e300 in float64 is infinity in float32).

    The shapes already match the model's, so this reads one model's worth, a tensor at a time.

    Raises:
        WeightsError: naming the first tensor with a value that is not a finite number.
    """
    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor.to(own[key].dtype)).all()):
            raise WeightsError(
                f"the weights hold NaN or infinity in {show_value(key)} (as {str(own[key].dtype).removeprefix('torch.')}, "
                "the model's type); every value must be a finite number."
            )


def load_weights(model: nn.Module, data: bytes, filename: str) -> LoadReport:
    """Load a torchvision-format ``.pth`` or a ``.safetensors`` file into ``model``.

    Legacy key names are remapped; ``module.`` prefixes (DataParallel) are
    dropped. Only floating-point tensors (and batch norm's int64 counters)
    of finite values are accepted. The model is changed only if everything fits.

    Raises:
        WeightsError: the file cannot be read, or does not fit (with the report
            in words).
    """
    state = _read_state(data, filename)
    _check_kinds(state)
    stripped = {k.removeprefix("module."): v for k, v in state.items()}
    renamed = remap_legacy_keys(stripped)
    remapped = sum(1 for a, b in zip(stripped, renamed, strict=True) if a != b)
    own = model.state_dict()
    legacy_bn = {k for k in own if k.endswith("num_batches_tracked")}  # old checkpoints lack them
    missing = tuple(k for k in own if k not in renamed and k not in legacy_bn)
    unexpected = tuple(k for k in renamed if k not in own)
    mismatched = tuple(
        (k, tuple(v.shape), tuple(own[k].shape))
        for k, v in renamed.items()
        if k in own and tuple(v.shape) != tuple(own[k].shape)
    )
    classes = _safetensors_classes(data) if filename.lower().endswith(".safetensors") else None
    outputs = own["classifier.weight"].shape[0] if "classifier.weight" in own else None
    report = LoadReport(
        missing, unexpected, mismatched, remapped, classes if classes and len(classes) == outputs else None
    )
    if not report.ok:
        raise WeightsError(report.sentence())
    _check_finite(renamed, own)
    model.load_state_dict(renamed, strict=False)
    return report


def save_weights(model: nn.Module, classes: Sequence[str] | None = None) -> bytes:
    """The model's state dict as safetensors bytes (no pickle), naming its classes when given."""
    from safetensors.torch import save as save_safetensors

    metadata = {_CLASSES_KEY: json.dumps(list(classes))} if classes else None
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return bytes(save_safetensors(tensors, metadata=metadata))
