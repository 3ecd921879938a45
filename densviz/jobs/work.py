"""The job functions: a timed forward pass, a training run on the digits, a training step's memory.

Each is a plain module-level function ``fn(request, ctx)`` that takes plain data
(frozen dataclasses; weights and images as bytes), reports progress through
``ctx``, stops at the next pass or step once ``ctx.stopping()``, and returns
plain data that pickles: what the page shows, with the weights as safetensors
bytes (no model object crosses a process boundary). They run the same in a
local worker, a Ray task or this process (:class:`~densviz.jobs.context.InlineContext`).

The forward pass returns the model's weights and the first input image, so
that the page can rebuild the network for the feature-map explorer
(:func:`model_of`) and offer the weights for download; the explorer's one pass
at batch 1 stays in the page.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from densviz.core.architecture import DenseNetConfig, InputSpec
from densviz.core.errors import ConfigError
from densviz.core.memory import DEFAULT_BUDGET_BYTES
from densviz.jobs.context import JobContext
from densviz.nn.model import DenseNet, build_model
from densviz.reuse import (
    Reading,
    ReuseMap,
    TrainLog,
    TrainOptions,
    TrainVariant,
    caption,
    digit_batch,
    readings,
    reuse_maps,
    training_json,
)
from densviz.reuse import train as train_on_digits
from densviz.reuse.training import EpochRecord, TrainSummary
from densviz.run.inputs import ImageError, load_image, preprocess, random_input, sample_images
from densviz.run.limit import pass_count
from densviz.run.pretrained import IMAGENET_CROP, imagenet_preprocess, load_imagenet
from densviz.run.timing import RunOptions, RunResult, build_for_run, run_forward
from densviz.run.training_step import training_step_peak
from densviz.run.weights import DIGIT_CLASSES, RANDOM_WEIGHTS, load_weights, save_weights

__all__ = [
    "SOURCES",
    "ForwardProgress",
    "ForwardRequest",
    "ForwardRun",
    "StepRequest",
    "TrainProgress",
    "TrainRequest",
    "TrainedRun",
    "forward",
    "model_of",
    "train",
    "train_log",
    "training_step",
]

SOURCES = ("china", "flower", "digits", "upload", "random")
"""A forward pass's inputs: scikit-learn's two photographs, held-out digits, an uploaded image, a random tensor."""

_TRAIN_PROGRESS_S = 0.25  # a training run reports at most this often between epochs (a tiny run takes ~1,000 steps/s)


# The forward pass.


@dataclass(frozen=True)
class ForwardRequest:
    """A timed forward pass, as plain data.

    Attributes:
        config: The network.
        spec: Batch and input size.
        options: Device, precision, layout, runs, time limit.
        source: One of :data:`SOURCES`.
        image: The uploaded PNG or JPEG's bytes (for ``upload``).
        weights: A weights file's bytes (``.safetensors`` or ``.pth``), or ``None`` for random weights
            (or, with ``imagenet``, for the published file from the worker's torch hub cache).
        weights_name: The file's name (its suffix says its format).
        weights_label: How the result names the weights.
        classes: The classes' names where the page knows them (the digits, ImageNet's).
        imagenet: torchvision's published ImageNet weights: loaded from the worker's hub cache
            (downloaded there, bounded, when missing) unless ``weights`` holds the file, and photos
            at 224×224 get torchvision's evaluation preprocessing.
    """

    config: DenseNetConfig
    spec: InputSpec
    options: RunOptions
    source: str = "random"
    image: bytes | None = None
    weights: bytes | None = None
    weights_name: str = ""
    weights_label: str = RANDOM_WEIGHTS
    classes: tuple[str, ...] | None = None
    imagenet: bool = False


@dataclass(frozen=True)
class ForwardProgress:
    """How far a forward pass is: passes done of all (0 of 0 before they start) and the step it is on."""

    done: int
    total: int
    step: str


@dataclass(frozen=True)
class ForwardRun:
    """A forward pass's outcome.

    Attributes:
        result: The timings, shapes, memory and top-5.
        weights: The weights it ran with, as safetensors bytes (naming the classes where known).
        input: The first input image, (1, C, H, W) on the CPU.
        labels: The true labels of the batch where known (the digits).
    """

    result: RunResult
    weights: bytes
    input: Tensor
    labels: list[int] | None


def _forward_input(request: ForwardRequest) -> tuple[Tensor, list[int] | None]:
    """The input batch (N, C, H, W) and the true labels where they are known."""
    spec, channels = request.spec, request.config.in_channels
    if request.source == "digits":
        return digit_batch(spec.batch, spec.height, spec.width, channels)
    if request.source == "random":
        return random_input(spec, channels), None
    if request.source == "upload":
        if request.image is None:
            raise ImageError("choose a PNG or JPEG file to upload first.")
        picture = load_image(request.image)
    elif request.source in sample_images():
        picture = sample_images()[request.source]
    else:
        raise ConfigError("source", request.source, "one of " + ", ".join(SOURCES))
    if request.imagenet and spec.hw == (IMAGENET_CROP, IMAGENET_CROP):  # what the published weights were tested on
        return imagenet_preprocess(picture).expand(spec.batch, -1, -1, -1).contiguous(), None
    return preprocess(picture, spec, channels), None


def forward(request: ForwardRequest, ctx: JobContext) -> ForwardRun:
    """Build, load and time a forward pass (see :func:`densviz.run.timing.run_forward`), reporting each pass.

    Raises:
        ConfigError: a guard refused the run (memory, time, precision); :class:`RunStoppedError` when stopped.
        ImageError: the uploaded image cannot be used.
        WeightsError: the weights file does not fit the network.
    """
    stop = threading.Event()
    total, _ = pass_count(request.options)
    done = [0]
    shown = [-1]

    def say(step: str) -> None:
        if ctx.stopping():
            stop.set()
        ctx.progress(ForwardProgress(done[0], total, step))

    def on_pass(passed: int, passes: int) -> None:
        done[0] = passed
        if ctx.stopping():
            stop.set()  # the run raises RunStoppedError before its next pass
        percent = 100 * passed // max(passes, 1)
        if percent != shown[0]:  # at most a hundred records, however many short passes
            shown[0] = percent
            ctx.progress(ForwardProgress(passed, passes, f"pass {passed} of {passes}"))

    say("building the model")
    model, plan = build_for_run(request.config, request.spec)
    classes = request.classes
    if request.weights is not None:
        say(f"loading the {request.weights_label}")
        report = load_weights(model, request.weights, request.weights_name)
        classes = classes or report.classes
    elif request.imagenet:
        say(f"loading {request.weights_label}")
        report, _ = load_imagenet(model, request.config)
        classes = classes or report.classes
    say("preparing the input")
    x, labels = _forward_input(request)
    result = run_forward(
        model,
        plan,
        x,
        request.options,
        progress=say,
        weights=request.weights_label,
        classes=classes,
        stop=stop,
        on_pass=on_pass,
    )
    return ForwardRun(result, save_weights(model, classes=result.classes), x[:1].clone(), labels)


def model_of(config: DenseNetConfig, run: ForwardRun) -> DenseNet:
    """The network a forward pass ran, rebuilt on the CPU from its weights, in eval mode (for the feature maps)."""
    model = build_model(config)
    load_weights(model, run.weights, "run.safetensors")
    return model.eval()


# Training on the digits.


@dataclass(frozen=True)
class TrainRequest:
    """A training run on the digits: what to train and how."""

    variant: TrainVariant
    options: TrainOptions


@dataclass(frozen=True)
class TrainProgress:
    """A training run's progress since the record before.

    Attributes:
        step: Steps done.
        total_steps: Steps of the whole run.
        seconds: Time since the run started.
        loss: The last step's loss.
        fraction: How far the run is, 0–1 (by steps, or by time where the time limit comes first).
        losses: The ``(step, seconds, loss)`` of every step since the record before.
        epochs: The epochs that ended since the record before.
    """

    step: int
    total_steps: int
    seconds: float
    loss: float
    fraction: float
    losses: tuple[tuple[int, float, float], ...]
    epochs: tuple[EpochRecord, ...]


@dataclass(frozen=True)
class TrainedRun(TrainSummary):
    """A training run's outcome: what the Feature reuse view shows and offers, without the model object.

    The run's summary (:class:`~densviz.reuse.training.TrainSummary`: what was
    trained, how, its log, accuracy and time), and:

    Attributes:
        weights: The trained weights, safetensors bytes naming the ten digit classes.
        maps: Figure 5's heat maps, one per block.
        readings: The paper's readings of them.
        caption: One line: what was trained, how long, how well.
        json: ``training.json``.
    """

    weights: bytes
    maps: tuple[ReuseMap, ...]
    readings: tuple[Reading, ...]
    caption: str
    json: str


def train(request: TrainRequest, ctx: JobContext) -> TrainedRun:
    """Train on the digits (see :func:`densviz.reuse.train`), reporting every epoch and every quarter second.

    Stop ends the run after the step in flight; the network trained so far is
    evaluated and returned (``stopped_by == "user"``).

    Raises:
        ConfigError: one step would need more memory than the budget.
    """
    stop = threading.Event()
    log = TrainLog.for_run(request.options)
    sent = {"losses": 0, "epochs": 0, "at": 0.0}

    def on_step(log: TrainLog) -> None:
        if ctx.stopping():
            stop.set()  # the run stops after this step
        now = time.monotonic()
        new_epoch = len(log.epochs) > sent["epochs"]
        if not new_epoch and sent["losses"] and now - sent["at"] < _TRAIN_PROGRESS_S:
            return
        losses, epochs = log.losses[int(sent["losses"]) :], log.epochs[int(sent["epochs"]) :]
        step, seconds, loss = log.losses[-1]
        sent.update(losses=len(log.losses), epochs=len(log.epochs), at=now)
        ctx.progress(TrainProgress(step, log.total_steps, seconds, loss, log.fraction, tuple(losses), tuple(epochs)))

    result = train_on_digits(request.variant, request.options, log=log, stop=stop, on_step=on_step)
    maps = reuse_maps(result.model)
    return TrainedRun(
        **result.summary(),
        weights=save_weights(result.model, classes=DIGIT_CLASSES),
        maps=tuple(maps),
        readings=tuple(readings(maps)),
        caption=caption(result),
        json=training_json(result, maps),
    )


def train_log(options: TrainOptions, records: list[Any]) -> TrainLog:
    """A training run's log so far, put together from its :class:`TrainProgress` records (others are skipped)."""
    log = TrainLog.for_run(options)
    for record in records:
        if isinstance(record, TrainProgress):
            log.losses.extend(record.losses)
            log.epochs.extend(record.epochs)
    return log


# A training step's memory.


@dataclass(frozen=True)
class StepRequest:
    """A training step's peak memory: the network, the input, the device and the memory budget."""

    config: DenseNetConfig
    spec: InputSpec
    device: str = "cpu"
    budget_bytes: int = DEFAULT_BUDGET_BYTES


def training_step(request: StepRequest, ctx: JobContext) -> dict[str, int]:
    """One training step's peak memory, naive and memory-efficient (see :func:`densviz.run.training_step_peak`).

    The step cannot be interrupted: Stop kills the worker (and the measuring processes with it).

    Raises:
        ConfigError: the step's estimate is over the budget.
        SurroundingsError: a measuring process was killed, failed or ran out of time.
    """
    ctx.progress("measuring one training step, naive then memory-efficient, each in a fresh process")
    return training_step_peak(request.config, request.spec, request.device, budget_bytes=request.budget_bytes)
