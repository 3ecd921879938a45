"""The Forward pass view's weights: random, torchvision's ImageNet weights, the Feature reuse view's, or a file.

The user chooses; the page never picks weights behind their back, except that
weights handed over by the Feature reuse view ("Classify digits in the Forward
pass view") are chosen once, when they arrive.

*Pretrained (ImageNet)* is offered for the four designs torchvision publishes
weights for (DenseNet-121/161/169/201, as :func:`densviz.run.pretrained.imagenet_preset`
decides); for any other design the choice says why not and Run waits. The
published file comes from torch's hub cache (checked against the hash in its
name) or is downloaded there once, in a worker thread, while the page shows a
progress bar (the bytes so far, against torchvision's listed file size).
Without a network the run's sentence names the file and the folder to place
it in, and the page offers an uploader for that very file: it is checked
against the published hash and loaded for this session only (never written
to the shared cache, where a forged file would reach every user).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import streamlit as st
import torch
from torch import nn

from densviz.core.config import PRESETS, ConfigError, DenseNetConfig
from densviz.core.units import format_bytes
from densviz.run import DIGIT_CLASSES, MAX_WEIGHTS_BYTES, RANDOM_WEIGHTS, WeightsError, load_weights
from densviz.run.pretrained import (
    IMAGENET_WEIGHTS,
    checkpoint_path,
    imagenet_class_names,
    imagenet_preset,
    imagenet_weights,
    load_imagenet,
)
from densviz.ui import session, uploads
from densviz.ui.forward_uploads import IMAGENET_FILE_KEY, WEIGHTS_KEY
from densviz.ui.session import Network, TrainedWeights

__all__ = [
    "CHOICE_KEY",
    "IMAGENET_FILE_KEY",
    "UPLOAD_KEY",
    "Weights",
    "WeightsKind",
    "WeightsPanel",
    "chosen_weights",
    "imagenet_offer",
    "load_into",
    "prepare_imagenet",
    "weights_control",
]

CHOICE_KEY = "forward_weights_choice"
"""The weights radio's key."""
UPLOAD_KEY = WEIGHTS_KEY
_TRAINED_SEEN = "_forward_trained_seen"  # the Feature reuse view's weights this view has already chosen once

# torchvision's listed file sizes (its weights' ``_file_size`` meta, in MB): how far a download has got.
_PUBLISHED_MB = {"densenet121": 30.845, "densenet161": 110.369, "densenet169": 54.708, "densenet201": 77.373}
_POLL_S = 0.25
_WEIGHTS_TYPES = ("safetensors", "pth", "pt")


class WeightsKind(StrEnum):
    """Where a run's weights come from."""

    RANDOM = "random"
    IMAGENET = "imagenet"
    TRAINED = "trained"
    UPLOAD = "upload"


_LABELS = {
    WeightsKind.RANDOM: "random (untrained)",
    WeightsKind.IMAGENET: "Pretrained (ImageNet)",
    WeightsKind.TRAINED: "trained in Feature reuse",
    WeightsKind.UPLOAD: "upload a file",
}


@dataclass(frozen=True)
class Weights:
    """The weights a run loads.

    Attributes:
        kind: Where they come from.
        label: How the page names them (the run's ``weights``; part of what a run is keyed by).
        name: The file's name ('' for random weights).
        data: The file's bytes; ``None`` for random weights and for ImageNet weights from the cache.
        classes: The classes' names where this choice knows them before loading.
        preset: For ImageNet weights, the preset whose published file they are.
    """

    kind: WeightsKind
    label: str
    name: str = ""
    data: bytes | None = None
    classes: tuple[str, ...] | None = None
    preset: str | None = None

    @property
    def imagenet(self) -> bool:
        """Whether these are torchvision's published ImageNet weights (their preprocessing applies)."""
        return self.kind is WeightsKind.IMAGENET


def imagenet_offer(cfg: DenseNetConfig) -> tuple[str | None, str]:
    """(the preset whose published weights fit ``cfg``, or ``None``; the sentence saying why not, else '')."""
    try:
        return imagenet_preset(cfg), ""
    except ConfigError as err:
        return None, str(err)


def _published_name(preset: str) -> str:
    """The published file's name (``densenet121-a639ec97.pth``)."""
    return Path(urlparse(IMAGENET_WEIGHTS[preset]).path).name


def _trained(net: Network) -> TrainedWeights | None:
    """The Feature reuse view's weights, when they are this very network's."""
    trained = session.trained_weights()
    return trained if trained is not None and trained.config == net.config else None


def _options(net: Network) -> list[WeightsKind]:
    kinds = [WeightsKind.RANDOM, WeightsKind.IMAGENET]
    if _trained(net) is not None:
        kinds.append(WeightsKind.TRAINED)
    return [*kinds, WeightsKind.UPLOAD]


def _prepare_choice(net: Network, options: list[WeightsKind]) -> None:
    """Keep the radio's value one of its options, and choose newly handed-over trained weights once."""
    trained = _trained(net)
    if trained is not None and st.session_state.get(_TRAINED_SEEN) is not trained:
        st.session_state[_TRAINED_SEEN] = trained
        st.session_state[CHOICE_KEY] = WeightsKind.TRAINED.value
    if st.session_state.get(CHOICE_KEY) not in options:
        st.session_state[CHOICE_KEY] = WeightsKind.RANDOM.value


@dataclass(frozen=True)
class WeightsPanel:
    """What the weights choice drew.

    Attributes:
        ready: Whether a run may start with the chosen weights.
        refresh: Redraws what may change with a run (the note on the published file, once downloaded).
    """

    ready: bool
    refresh: Callable[[], None]


def _nothing() -> None:
    pass


def weights_control(net: Network, where: Any) -> WeightsPanel:
    """Draw the weights choice (and its uploader or notes) in ``where``."""
    options = _options(net)
    _prepare_choice(net, options)
    preset, why_not = imagenet_offer(net.config)
    captions = {
        WeightsKind.RANDOM: "the ranking means nothing",
        WeightsKind.IMAGENET: f"torchvision's {PRESETS[preset].title}" if preset else "DenseNet-121/161/169/201 only",
        WeightsKind.TRAINED: "on the digits 0–9",
        WeightsKind.UPLOAD: ".safetensors or torchvision .pth",
    }
    kind = WeightsKind(
        where.radio(
            "Weights",
            [k.value for k in options],
            key=CHOICE_KEY,
            format_func=lambda k: _LABELS[WeightsKind(k)],
            captions=[captions[k] for k in options],
            horizontal=True,
        )
    )
    if kind is WeightsKind.UPLOAD:
        where.file_uploader(
            "Weights file (.safetensors or torchvision .pth)",
            type=list(_WEIGHTS_TYPES),
            key=UPLOAD_KEY,
            max_upload_size=uploads.limit(UPLOAD_KEY, _WEIGHTS_TYPES, MAX_WEIGHTS_BYTES),
        )
    elif kind is WeightsKind.IMAGENET:
        if preset is None:
            where.warning(
                f"Pretrained (ImageNet) is not offered for this design: {why_not} "
                "Choose DenseNet-121, -161, -169 or -201 in the Preset menu, or other weights.",
                icon=":material/block:",
            )
            return WeightsPanel(False, _nothing)
        return WeightsPanel(True, _imagenet_note(preset, where))
    return WeightsPanel(True, _nothing)


def _imagenet_caption(preset: str) -> str:
    """Where the published file is, or where it will come from."""
    path = checkpoint_path(IMAGENET_WEIGHTS[preset])
    if path.is_file():
        return (
            f":material/check: {path.name} is in {path.parent}/ (checked against the hash in its name when loaded). "
            "ImageNet preprocessing: short side 256, centre crop 224, ImageNet mean and std."
        )
    return (
        f"Run downloads {path.name} (about {format_bytes(int(_PUBLISHED_MB[preset] * 1e6))}) from "
        f"{urlparse(IMAGENET_WEIGHTS[preset]).netloc} into {path.parent}/ once. "
        "No network here? Place the file in that folder, or upload it:"
    )


def _imagenet_note(preset: str, where: Any) -> Callable[[], None]:
    """The caption on the published file, and an uploader for it when it is not here; redraws the caption."""
    slot = where.empty()
    slot.caption(_imagenet_caption(preset))
    if not checkpoint_path(IMAGENET_WEIGHTS[preset]).is_file():
        where.file_uploader(
            f"The published file {_published_name(preset)}",
            type=["pth"],
            key=IMAGENET_FILE_KEY,
            max_upload_size=uploads.limit(IMAGENET_FILE_KEY, ["pth"], MAX_WEIGHTS_BYTES),
            label_visibility="collapsed",
        )
    return lambda: slot.caption(_imagenet_caption(preset))


def chosen_weights(net: Network) -> Weights:
    """The weights the current choice stands for (nothing is loaded or read from disk here)."""
    kind = WeightsKind(st.session_state.get(CHOICE_KEY) or WeightsKind.RANDOM.value)
    if kind is WeightsKind.TRAINED and (trained := _trained(net)) is not None:
        digits = DIGIT_CLASSES if net.config.num_classes == len(DIGIT_CLASSES) else None  # trained on the digits
        return Weights(kind, trained.label, trained.name, trained.data, digits)
    if kind is WeightsKind.UPLOAD:
        upload = st.session_state.get(UPLOAD_KEY)
        if upload is None:
            return Weights(kind, "upload: no file chosen")
        return Weights(kind, upload.name, upload.name, upload.getvalue())
    if kind is WeightsKind.IMAGENET:
        preset, _ = imagenet_offer(net.config)
        if preset is None:
            return Weights(kind, "Pretrained (ImageNet): not offered for this design")
        published = _published_name(preset)
        upload = st.session_state.get(IMAGENET_FILE_KEY)
        if upload is not None and not checkpoint_path(IMAGENET_WEIGHTS[preset]).is_file():
            label = f"Pretrained (ImageNet): {published}, uploaded"
            return Weights(kind, label, upload.name, upload.getvalue(), imagenet_class_names(), preset)
        return Weights(kind, f"Pretrained (ImageNet): {published}", published, None, imagenet_class_names(), preset)
    return Weights(WeightsKind.RANDOM, RANDOM_WEIGHTS)


# --- loading -----------------------------------------------------------------------


_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="densviz-download")
_DOWNLOADS: dict[str, Future[None]] = {}
_DOWNLOADS_LOCK = threading.Lock()


def _fetch(cfg: DenseNetConfig) -> None:
    imagenet_weights(cfg)  # into torch's hub cache; the page loads it from there


def _download(cfg: DenseNetConfig, url: str) -> Future[None]:
    """The download of ``url`` into the cache: one per URL for the whole server, shared by every session."""
    with _DOWNLOADS_LOCK:
        running = _DOWNLOADS.get(url)
        if running is None or running.done():
            running = _DOWNLOADS[url] = _POOL.submit(_fetch, cfg)
        return running


def _partial_bytes(path: Path) -> int:
    """Bytes torch's hub has written so far (it downloads to ``<file>.<uuid>.partial`` beside the file)."""
    sizes = [0]
    for part in path.parent.glob(f"{path.name}.*.partial"):
        with contextlib.suppress(OSError):  # renamed into place between the listing and the stat
            sizes.append(part.stat().st_size)
    return max(sizes)


def _ensure_cached(cfg: DenseNetConfig, preset: str, say: Callable[[str], None]) -> None:
    """Download the published file into the cache unless it is there, with a progress bar while it comes.

    Raises:
        ConfigError: no network, a refused hash, a file that cannot be saved (the sentence names the file and
            the folder).
    """
    url = IMAGENET_WEIGHTS[preset]
    path = checkpoint_path(url)
    if path.is_file():
        return
    say(f"downloading {path.name} from {urlparse(url).netloc}")
    expected = int(_PUBLISHED_MB[preset] * 1e6)
    bar = st.progress(0.0, text=f"Downloading {path.name}")
    future = _download(cfg, url)
    while not wait_for([future], timeout=_POLL_S).done:
        got = _partial_bytes(path)
        # the bar moves with each poll: Streamlit ends the script here when the user stops or changes the page
        bar.progress(
            min(got / expected, 0.99),
            text=f"Downloading {path.name}: {format_bytes(got)} of about {format_bytes(expected)}",
        )
    bar.empty()
    future.result()


def _check_published(data: bytes, name: str, preset: str) -> None:
    """Refuse an uploaded file that is not the published one: its SHA-256 must start with the published name's hash.

    Raises:
        WeightsError: naming both hashes.
    """
    published = _published_name(preset)
    found = torch.hub.HASH_REGEX.search(published)
    prefix = found.group(1) if found else ""
    digest = hashlib.sha256(data).hexdigest()
    if not digest.startswith(prefix):
        raise WeightsError(
            f"the uploaded {name} is not torchvision's published {published}: its SHA-256 starts {digest[:8]}, the published "
            f"file's {prefix}. Upload that file as downloaded, or choose other weights."
        )


def prepare_imagenet(cfg: DenseNetConfig, weights: Weights, say: Callable[[str], None]) -> tuple[bytes, str]:
    """Before a run on a worker, for ImageNet weights: the published file's bytes and name, checked.

    An uploaded copy is checked against the published hash; otherwise the file
    is put in this server's cache (downloaded with the page's progress bar when
    missing) and read from there. The worker gets the bytes, so it needs neither
    this server's cache nor a network.

    Raises:
        ConfigError: a design without published weights, or a file that could not be fetched.
        WeightsError: an uploaded file that is not the published one.
    """
    preset = weights.preset or imagenet_preset(cfg)  # no preset: raises the sentence saying why
    if weights.data is not None:  # the published file, uploaded because this server has no network
        say(f"checking {weights.name} against the published hash")
        _check_published(weights.data, weights.name, preset)
        return weights.data, _published_name(preset)
    _ensure_cached(cfg, preset, say)
    return checkpoint_path(IMAGENET_WEIGHTS[preset]).read_bytes(), _published_name(preset)


def load_into(
    model: nn.Module, cfg: DenseNetConfig, weights: Weights, say: Callable[[str], None]
) -> tuple[str, ...] | None:
    """Load ``weights`` into ``model`` (built from ``cfg``); the classes' names where they are known.

    Raises:
        ConfigError: ImageNet weights for a design without them, or that could not be fetched.
        WeightsError: a file that is missing, not the published one, or does not fit.
    """
    if weights.kind is WeightsKind.RANDOM:
        return None
    if weights.kind is WeightsKind.IMAGENET:
        preset = weights.preset or imagenet_preset(cfg)  # no preset: raises the sentence saying why
        if weights.data is not None:  # the published file, uploaded because this server has no network
            say(f"checking {weights.name} against the published hash")
            _check_published(weights.data, weights.name, preset)
            say(f"loading {weights.label}")
            load_weights(model, weights.data, _published_name(preset))
            return imagenet_class_names()
        _ensure_cached(cfg, preset, say)
        say(f"loading {weights.label}")
        report, _ = load_imagenet(model, cfg)
        return report.classes
    if weights.data is None:
        raise WeightsError("choose a weights file (.safetensors or torchvision .pth) to upload first.")
    say(f"loading the {weights.label}" if weights.kind is WeightsKind.TRAINED else f"loading {weights.name}")
    report = load_weights(model, weights.data, weights.name)
    return weights.classes or report.classes
