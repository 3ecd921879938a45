"""torchvision's published ImageNet weights for DenseNet-121/161/169/201, their preprocessing and class names.

The weights come through torch's own hub API
(``torch.hub.load_state_dict_from_url``): the file lands in the standard torch
hub cache (``torch.hub.get_dir()/checkpoints/``, which ``TORCH_HOME`` moves)
under the URL's file name, and the hash prefix in that name is checked, on
download by torch and here for a file already in the cache (torch checks it
only when it downloads). Without a network, the error names the file and the
folder to place it in. The state dict then goes through the same checks as
:func:`densviz.run.weights.load_weights`: legacy key names remapped, the
tensors' kinds, strict keys and shapes, finite values.

The preprocessing is torchvision's ImageNet evaluation transform, without
torchvision: the short side resized to 256 (bilinear, antialiased), a centre
crop of 224, values in [0, 1] normalised by ImageNet's mean and std.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import socket
import sys
import threading
from collections.abc import Iterator, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlparse

import numpy as np
import torch
from torch import Tensor, nn

from densviz.core.config import PRESETS, DenseNetConfig, Stem
from densviz.core.errors import ConfigError
from densviz.core.units import format_bytes
from densviz.nn.model import remap_legacy_keys
from densviz.run.inputs import IMAGENET_MEAN, IMAGENET_STD, MAX_IMAGE_ASPECT, MAX_IMAGE_PIXELS, ImageError
from densviz.run.weights import MAX_WEIGHTS_BYTES, LoadReport, WeightsError, _check_finite, _check_kinds

__all__ = [
    "DOWNLOAD_TIMEOUT_S",
    "IMAGENET_CROP",
    "IMAGENET_RESIZE",
    "IMAGENET_WEIGHTS",
    "checkpoint_path",
    "imagenet_class_names",
    "imagenet_preprocess",
    "imagenet_preset",
    "imagenet_weights",
    "load_imagenet",
]

IMAGENET_WEIGHTS: dict[str, str] = {
    "densenet121": "https://download.pytorch.org/models/densenet121-a639ec97.pth",
    "densenet161": "https://download.pytorch.org/models/densenet161-8d451a50.pth",
    "densenet169": "https://download.pytorch.org/models/densenet169-b2777c0a.pth",
    "densenet201": "https://download.pytorch.org/models/densenet201-c1103571.pth",
}
"""Preset name -> the URL of torchvision's published ImageNet checkpoint (``DenseNet121_Weights.IMAGENET1K_V1`` …)."""

DOWNLOAD_TIMEOUT_S = 8.0
"""Seconds the download may wait for the server at each step (connecting, each read) before it gives up."""

IMAGENET_RESIZE = 256
IMAGENET_CROP = 224
_IMAGENET_CLASSES = 1000
_CLASSES_FILE = "imagenet_classes.json"
_TIMEOUT_LOCK = threading.Lock()


# --- which weights -------------------------------------------------------------


def _describe(cfg: DenseNetConfig) -> str:
    """The design in the paper's terms, for a sentence."""
    blocks = ",".join(str(n) for n in cfg.block_config)
    bottleneck = f"bottleneck {cfg.bn_size}k" if cfg.bottleneck else "no bottleneck"
    return (
        f"k={cfg.growth_rate}, blocks {blocks}, k₀={cfg.init_features}, {bottleneck}, θ={cfg.compression:g}, "
        f"{cfg.stem.value} stem, {cfg.in_channels} channels, {cfg.num_classes} classes"
    )


def _body(cfg: DenseNetConfig) -> tuple[object, ...]:
    """The fields that shape the weights between the stem and the classifier."""
    return (cfg.growth_rate, cfg.block_config, cfg.init_features, cfg.bn_size, cfg.compression)


def _ends(cfg: DenseNetConfig) -> tuple[object, ...]:
    """The fields that shape the stem and the classifier."""
    return (cfg.num_classes, cfg.in_channels, cfg.stem)


def imagenet_preset(cfg: DenseNetConfig) -> str:
    """The preset whose published ImageNet weights fit this design: ``densenet121``, ``…161``, ``…169`` or ``…201``.

    Dropout and the memory-efficient implementation change no weight, so they may differ.

    Raises:
        ConfigError: saying why no published weights fit (another network, or
            classes, channels or stem that differ from ImageNet's).
    """
    for name in IMAGENET_WEIGHTS:
        preset = PRESETS[name].config
        if _body(cfg) == _body(preset) and _ends(cfg) == _ends(preset):
            return name
    lead = (
        "published ImageNet weights exist only for DenseNet-121/161/169/201 (1,000 classes, 3 channels, ImageNet stem)"
    )
    same = [p for p in PRESETS.values() if _body(p.config) == _body(cfg) and p.config.stem == Stem.IMAGENET]
    if same and same[0].name in IMAGENET_WEIGHTS:
        differs = [
            f"{cfg.num_classes} classes" if cfg.num_classes != _IMAGENET_CLASSES else "",
            f"{cfg.in_channels} channel{'s' if cfg.in_channels != 1 else ''}" if cfg.in_channels != 3 else "",
            f"the {cfg.stem.value} stem" if cfg.stem != Stem.IMAGENET else "",
        ]
        message = f"{lead}; this design is {same[0].title} with {', '.join(d for d in differs if d)}."
    elif same:
        message = f"{lead}; this design is {same[0].title} ({_describe(cfg)}), which has no published weights."
    else:
        message = f"{lead}; this design is custom ({_describe(cfg)})."
    raise ConfigError("weights", "imagenet", "a design with published weights", message=message)


def checkpoint_path(url: str) -> Path:
    """Where torch's hub keeps the file of ``url``: ``torch.hub.get_dir()/checkpoints/<file name>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


# --- the file: checked in the cache, or downloaded ---------------------------------


def _hash_prefix(name: str) -> str | None:
    """The hex digits torch's hub reads from a file name (``densenet121-a639ec97.pth`` -> ``a639ec97``)."""
    found = torch.hub.HASH_REGEX.search(name)
    return found.group(1) if found and found.group(1) else None


@lru_cache(maxsize=8)
def _cached_digest(path: str, size: int, mtime_ns: int) -> str:
    """The SHA-256 of a cached file, computed once per version of it (its size and time key the cache)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_cached(path: Path) -> None:
    """Refuse a file already in the cache that is too large or whose SHA-256 does not start as its name says.

    Raises:
        ConfigError: naming the file, its folder and what to do.
    """
    stat = path.stat()
    if stat.st_size > MAX_WEIGHTS_BYTES:
        raise ConfigError(
            "weights",
            path.name,
            "the published file",
            message=f"{path.name} in {path.parent}/ is {format_bytes(stat.st_size)}; at most "
            f"{format_bytes(MAX_WEIGHTS_BYTES)} is accepted, so it is not the published file: remove it, "
            "or replace it with the published file, and run again.",
        )
    prefix = _hash_prefix(path.name)
    digest = _cached_digest(str(path), stat.st_size, stat.st_mtime_ns)
    if prefix is not None and not digest.startswith(prefix):
        raise ConfigError(
            "weights",
            path.name,
            "the published file",
            message=f"{path.name} in {path.parent}/ is not the published file: its SHA-256 starts {digest[:8]}, "
            f"its name says {prefix}. Remove it, or replace it with the published file, and run again.",
        )


@contextlib.contextmanager
def _bounded_wait(seconds: float) -> Iterator[None]:
    """Sockets opened inside wait at most ``seconds`` per step (torch's hub passes no timeout of its own)."""
    with _TIMEOUT_LOCK:
        before = socket.getdefaulttimeout()
        socket.setdefaulttimeout(seconds)
        try:
            yield
        finally:
            socket.setdefaulttimeout(before)


def _place_it(folder: Path) -> str:
    """What to do without the file."""
    return f"place that file in {folder}/ (or upload it) and run again."


def _download_error(err: BaseException, url: str, path: Path) -> ConfigError:
    """The sentence for a download or load that failed, and the bad file removed when torch left it."""
    name, folder = path.name, path.parent
    if isinstance(err, RuntimeError) and "invalid hash value" in str(err):
        path.unlink(missing_ok=True)
        message = (
            f"the download of {name} from {url} was refused: its SHA-256 does not start with the hash in its name "
            f"({str(err)[:120]}). Nothing was kept; {_place_it(folder)}"
        )
    elif isinstance(err, HTTPError):
        message = f"the server answered HTTP {err.code} for {url}, so {name} was not downloaded; {_place_it(folder)}"
    elif isinstance(err, URLError | TimeoutError | ConnectionError | socket.gaierror | http.client.HTTPException):
        reason = err.reason if isinstance(err, URLError) else err
        message = f"there is no network to download {name} ({str(reason)[:120]}); {_place_it(folder)}"
    elif isinstance(err, OSError):
        message = f"{name} could not be saved in {folder}/ ({str(err)[:120]}); {_place_it(folder)}"
    else:
        message = f"{name} in {folder}/ is not a readable PyTorch checkpoint ({type(err).__name__}: {str(err)[:120]})."
    return ConfigError("weights", name, "the published file", message=message)


def _fetch_state(url: str, path: Path, progress: bool) -> dict[str, Tensor]:
    """The state dict of ``url`` through ``torch.hub.load_state_dict_from_url`` (downloaded if not cached).

    torch's hub prints a "Downloading" line to stdout; it goes to stderr, so
    that a command's JSON output stays JSON.

    Raises:
        ConfigError: no network, a refused hash, a file that cannot be saved or read.
    """
    try:
        with _bounded_wait(DOWNLOAD_TIMEOUT_S), contextlib.redirect_stdout(sys.stderr):
            obj: object = torch.hub.load_state_dict_from_url(
                url, model_dir=None, map_location="cpu", progress=progress, check_hash=True, weights_only=True
            )
    except Exception as err:  # the network, the disk and the unpickler each fail in their own ways
        raise _download_error(err, url, path) from None
    if not isinstance(obj, Mapping) or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()):
        raise ConfigError(
            "weights",
            path.name,
            "the published file",
            message=f"{path.name} in {path.parent}/ is not a state dict (a mapping of names to tensors).",
        )
    return dict(obj)


def imagenet_weights(cfg: DenseNetConfig, *, progress: bool = False) -> tuple[dict[str, Tensor], str]:
    """The published ImageNet state dict that fits ``cfg`` (as the file has it), and what it is in words.

    A file already in torch's hub cache is used after its hash is checked;
    otherwise it is downloaded there, each step waiting at most
    :data:`DOWNLOAD_TIMEOUT_S` seconds.

    Args:
        cfg: The design; it must be one of the four with published weights.
        progress: Show torch's download progress bar (on stderr).

    Returns:
        The state dict, legacy key names as published, and a description such
        as ``ImageNet (torchvision's DenseNet-121, densenet121-a639ec97.pth)``.

    Raises:
        ConfigError: a design with no published weights, no network, a file
            whose hash does not match its name, or one that cannot be read.
    """
    name = imagenet_preset(cfg)
    url = IMAGENET_WEIGHTS[name]
    path = checkpoint_path(url)
    if path.is_file():
        _check_cached(path)
    state = _fetch_state(url, path, progress)
    return state, f"ImageNet (torchvision's {PRESETS[name].title}, {path.name})"


# --- into the model --------------------------------------------------------------


def _fit(model: nn.Module, state: Mapping[str, Tensor]) -> LoadReport:
    """Load a state dict as :func:`densviz.run.weights.load_weights` loads a file's: the same checks, in order.

    Raises:
        WeightsError: a tensor of a kind no DenseNet holds, keys or shapes that
            do not fit, or a value that is not finite. The model is unchanged then.
    """
    _check_kinds(state)
    renamed = remap_legacy_keys(state)
    remapped = sum(1 for a, b in zip(state, renamed, strict=True) if a != b)
    own = model.state_dict()
    counters = {k for k in own if k.endswith("num_batches_tracked")}  # the published files predate them
    report = LoadReport(
        missing=tuple(k for k in own if k not in renamed and k not in counters),
        unexpected=tuple(k for k in renamed if k not in own),
        mismatched=tuple(
            (k, tuple(v.shape), tuple(own[k].shape))
            for k, v in renamed.items()
            if k in own and tuple(v.shape) != tuple(own[k].shape)
        ),
        remapped=remapped,
        classes=imagenet_class_names(),
    )
    if not report.ok:
        raise WeightsError(report.sentence())
    _check_finite(renamed, own)
    model.load_state_dict(renamed, strict=False)
    return report


def load_imagenet(model: nn.Module, cfg: DenseNetConfig, *, progress: bool = False) -> tuple[LoadReport, str]:
    """Load the published ImageNet weights that fit ``cfg`` into ``model`` (built from ``cfg``).

    Returns:
        The report (``classes`` holds the 1,000 ImageNet names, ``remapped``
        the legacy keys renamed) and the weights in words, for the output.

    Raises:
        ConfigError: as :func:`imagenet_weights`.
        WeightsError: the state dict does not fit the model (as ``load_weights``).
    """
    state, description = imagenet_weights(cfg, progress=progress)
    return _fit(model, state), description


# --- preprocessing and class names --------------------------------------------------


def _resized_size(height: int, width: int) -> tuple[int, int]:
    """(height, width) after torchvision's ``Resize(256)``: the short side 256, the long ``int(256 · long / short)``."""
    short, long = min(height, width), max(height, width)
    new_short, new_long = IMAGENET_RESIZE, int(IMAGENET_RESIZE * long / short)
    return (new_long, new_short) if height > width else (new_short, new_long)


def _crop_origin(height: int, width: int) -> tuple[int, int]:
    """(top, left) of torchvision's ``CenterCrop(224)``: ``int(round((side - 224) / 2.0))``, half to even."""
    return round((height - IMAGENET_CROP) / 2.0), round((width - IMAGENET_CROP) / 2.0)


def imagenet_preprocess(image: np.ndarray) -> Tensor:
    """The ImageNet evaluation transform (torchvision's) of an (H, W, 3) uint8 image: (1, 3, 224, 224).

    Resize the short side to 256 (bilinear, antialiased as Pillow does when
    it shrinks), centre-crop 224, scale to [0, 1], normalise with ImageNet's
    mean and std: what the published checkpoints were evaluated with.

    Raises:
        ImageError: an array that is not an (H, W, 3) uint8 image, or one with
            no pixels, too many, or sides too far apart.
    """
    from PIL import Image

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ImageError(f"the image must be (height, width, 3) uint8; got {image.shape} {image.dtype}.")
    height, width = int(image.shape[0]), int(image.shape[1])
    if height < 1 or width < 1 or height * width > MAX_IMAGE_PIXELS:
        raise ImageError(f"the image is {width}×{height} pixels; 1 to {MAX_IMAGE_PIXELS:,} are accepted.")
    if max(height, width) > MAX_IMAGE_ASPECT * min(height, width):
        raise ImageError(f"the image is {width}×{height} pixels; sides at most {MAX_IMAGE_ASPECT}:1 are accepted.")
    new_h, new_w = _resized_size(height, width)
    img = Image.fromarray(image).resize((new_w, new_h), Image.Resampling.BILINEAR)
    top, left = _crop_origin(new_h, new_w)
    crop = np.asarray(img)[top : top + IMAGENET_CROP, left : left + IMAGENET_CROP]
    x = torch.from_numpy(crop.astype(np.float32) / np.float32(255.0)).permute(2, 0, 1)  # (3, 224, 224)
    x = (x - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return x.unsqueeze(0).contiguous()


@lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """The 1,000 ImageNet class names in the published checkpoints' output order (``tench``, ``goldfish``, …).

    Read from ``imagenet_classes.json`` beside this module, a copy of
    torchvision's ``_IMAGENET_CATEGORIES`` (its ``source`` key says so).
    """
    data = json.loads(resources.files("densviz.run").joinpath(_CLASSES_FILE).read_text(encoding="utf-8"))
    names = tuple(str(n) for n in data["classes"])
    assert len(names) == _IMAGENET_CLASSES, f"{_CLASSES_FILE} holds {len(names)} names"
    return names
