"""The job functions of the Forward pass view's analyses: CAM rows, a layer's feature maps, the profile, the fastest settings.

Each is a plain module-level function ``fn(request, ctx)`` on plain data, run on
a worker (the local pool or Ray), never in the server's process, so the page
holds no network: CAM and the feature maps rebuild the run's network from its
weights (the safetensors bytes a forward pass sends back,
:class:`~densviz.jobs.work.ForwardRun`), the profile and the fastest settings
build the design with random weights (their times do not depend on them).
The results are plain data: the existing result dataclasses
(:class:`~densviz.run.cam.CamRow`, :class:`~densviz.run.profile.ProfileResult`,
:class:`~densviz.run.fastest.FastestResult`) and numpy arrays.

A worker keeps the last network it rebuilt (one per process, keyed by the
design and a digest of its weights), so moving through the explorer's layers
or CAM's targets of one run does not rebuild it each time.

Stop: the profile and the fastest settings stop after the pass in flight; CAM
and the feature maps are one pass, and stop before it, or end with their worker.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from torch import Tensor, nn

from densviz.core.architecture import DenseNetConfig, InputSpec
from densviz.jobs.context import JobContext, JobStoppedError
from densviz.nn.model import build_model
from densviz.run.cam import CamMethod, CamRow, cam_rows
from densviz.run.fastest import FastestOptions, FastestResult, find_fastest
from densviz.run.features import capture_feature_maps, feature_grid
from densviz.run.inputs import random_input
from densviz.run.profile import ProfileOptions, ProfileResult, profile_forward
from densviz.run.timing import build_for_run
from densviz.run.weights import load_weights

__all__ = [
    "AnalysisProgress",
    "CamRequest",
    "FastestRequest",
    "FeatureRequest",
    "LayerMaps",
    "ProfileRequest",
    "cam",
    "fastest",
    "feature_maps",
    "profile",
]


@dataclass(frozen=True)
class AnalysisProgress:
    """How far an analysis is: passes (or steps) done of all (0 of 0 before they start), and the step it is on."""

    done: int
    total: int
    step: str


# The run's network, rebuilt on the worker.

_KEPT: dict[str, tuple[tuple[DenseNetConfig, str], nn.Module]] = {}
_KEPT_LOCK = threading.Lock()


def _network(config: DenseNetConfig, weights: bytes) -> nn.Module:
    """The network a forward pass ran, on the CPU, in eval mode: the one this worker kept, or rebuilt from ``weights``.

    Raises:
        WeightsError: the weights do not fit the design.
    """
    key = (config, hashlib.blake2b(weights, digest_size=16).hexdigest())
    with _KEPT_LOCK:
        kept = _KEPT.get("last")
        if kept is not None and kept[0] == key:
            return kept[1].cpu().eval()  # CAM may have moved it to the run's device
        _KEPT.clear()  # one network per worker: the previous run's goes before the next is built
    model = build_model(config)
    load_weights(model, weights, "run.safetensors")
    model.eval()
    with _KEPT_LOCK:
        _KEPT["last"] = (key, model)
    return model


def _stop_here(ctx: JobContext) -> None:
    if ctx.stopping():
        raise JobStoppedError


# CAM.


@dataclass(frozen=True)
class CamRequest:
    """A CAM row of a run's first image, as plain data.

    Attributes:
        config: The network.
        weights: The run's weights, safetensors bytes (``ForwardRun.weights``).
        input: The run's first image, (1, C, H, W) on the CPU.
        target: The class to explain; ``None`` for the predicted one.
        classes: The classes' names where known.
        device: Where the run ran (the row is computed there).
        methods: The maps to make (both from one forward and one backward pass).
    """

    config: DenseNetConfig
    weights: bytes
    input: Tensor
    target: int | None = None
    classes: tuple[str, ...] | None = None
    device: str = "cpu"
    methods: tuple[CamMethod, ...] = tuple(CamMethod)


def cam(request: CamRequest, ctx: JobContext) -> dict[CamMethod, CamRow]:
    """The CAM rows of :func:`densviz.run.cam.cam_rows` for the run's network and first image, one per method.

    Raises:
        ConfigError: a target the network does not have, names that do not fit its outputs, a device not here.
        WeightsError: the weights do not fit the design.
    """
    ctx.progress(AnalysisProgress(0, 1, "rebuilding the run's network from its weights"))
    model = _network(request.config, request.weights)
    _stop_here(ctx)
    ctx.progress(AnalysisProgress(0, 1, "computing the maps (one forward and one backward pass)"))
    rows = cam_rows(
        model,
        request.input,
        methods=request.methods,
        target=request.target,
        classes=request.classes,
        device=request.device,
    )
    ctx.progress(AnalysisProgress(1, 1, "done"))
    return rows


# A layer's feature maps.


@dataclass(frozen=True)
class FeatureRequest:
    """One module's feature maps of a run's first image: the network, its weights, the image, the module's path."""

    config: DenseNetConfig
    weights: bytes
    input: Tensor
    layer: str


@dataclass(frozen=True)
class LayerMaps:
    """One module's maps of the first image, tiled for the page (see :func:`densviz.run.features.feature_grid`).

    Attributes:
        name: The module.
        output: Its output's first 64 channels tiled, uint8, each scaled to its own range.
        output_shape: Its output's (channels, height, width).
        inherited: For a dense layer, the concatenation it read, tiled likewise; else ``None``.
        inherited_channels: That concatenation's channels (0 when there is none).
    """

    name: str
    output: np.ndarray
    output_shape: tuple[int, int, int]
    inherited: np.ndarray | None
    inherited_channels: int


def feature_maps(request: FeatureRequest, ctx: JobContext) -> LayerMaps:
    """One module's maps of the run's first image (:func:`densviz.run.features.capture_feature_maps`), tiled.

    Raises:
        ConfigError: the network has no such module.
        WeightsError: the weights do not fit the design.
    """
    ctx.progress(AnalysisProgress(0, 1, "rebuilding the run's network from its weights"))
    model = _network(request.config, request.weights)
    _stop_here(ctx)
    ctx.progress(AnalysisProgress(0, 1, f"running the first image to {request.layer}"))
    maps = capture_feature_maps(model, request.input, [request.layer])[request.layer]
    c, h, w = (int(n) for n in maps.output.shape)
    inherited = maps.inherited
    return LayerMaps(
        request.layer,
        feature_grid(maps.output),
        (c, h, w),
        feature_grid(inherited) if inherited is not None else None,
        int(inherited.shape[0]) if inherited is not None else 0,
    )


# The profile and the fastest settings.


def _passes(ctx: JobContext, stop: threading.Event, what: str) -> Callable[[int, int], None]:
    """Called after each pass: sets ``stop`` once the job is asked to, and reports each percent (at most a hundred records)."""
    shown = [-1]

    def on_pass(done: int, total: int) -> None:
        if ctx.stopping():
            stop.set()  # the measurement raises RunStoppedError before its next pass
        percent = 100 * done // max(total, 1)
        if percent != shown[0]:
            shown[0] = percent
            ctx.progress(AnalysisProgress(done, total, f"{what}: pass {done} of {total}"))

    return on_pass


def _steps(ctx: JobContext, stop: threading.Event) -> Callable[[str], None]:
    def say(step: str) -> None:
        if ctx.stopping():
            stop.set()
        ctx.progress(AnalysisProgress(0, 0, step))

    return say


@dataclass(frozen=True)
class ProfileRequest:
    """A profile per plan row of the design (random weights), with these options."""

    config: DenseNetConfig
    spec: InputSpec
    options: ProfileOptions


def profile(request: ProfileRequest, ctx: JobContext) -> ProfileResult:
    """Profile the design (see :func:`densviz.run.profile.profile_forward`), reporting its steps and passes.

    Raises:
        ConfigError: the profile would break its time limit or the memory budget, or the precision is not here.
        RunStoppedError: stopped (after the pass in flight).
    """
    stop = threading.Event()
    say = _steps(ctx, stop)
    say("building the model")
    model, plan = build_for_run(request.config, request.spec)
    x = random_input(request.spec, request.config.in_channels)
    return profile_forward(model, plan, x, request.options, say, stop=stop, on_pass=_passes(ctx, stop, "Profiling"))


@dataclass(frozen=True)
class FastestRequest:
    """The candidate settings of the design (random weights), measured side by side with these options."""

    config: DenseNetConfig
    spec: InputSpec
    options: FastestOptions


def fastest(request: FastestRequest, ctx: JobContext) -> FastestResult:
    """Measure the candidate settings (see :func:`densviz.run.fastest.find_fastest`), reporting its steps and passes.

    Raises:
        ConfigError: over the time limit or the memory budget.
        CompileError: the compile cannot run here or failed.
        RunStoppedError: stopped (after the pass in flight).
    """
    stop = threading.Event()
    say = _steps(ctx, stop)
    say("building the model")
    model, plan = build_for_run(request.config, request.spec)
    x = random_input(request.spec, request.config.in_channels)
    return find_fastest(
        model,
        plan,
        x,
        request.options,
        say,
        random_weights=True,
        stop=stop,
        on_pass=_passes(ctx, stop, "Measuring the settings"),
    )
