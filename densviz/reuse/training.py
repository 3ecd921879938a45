"""Training a :class:`~densviz.reuse.variant.TrainVariant` on the digits: options, the live log, the result.

SGD with Nesterov momentum and the paper's weight decay, a short warm-up then
cosine annealing; :func:`train` fills a :class:`TrainLog` as it goes (watch it
from another thread) and stops at the end of the epochs, at a time limit or
when asked to.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 (the PyTorch convention)
from torch import Tensor, nn

from densviz.core.config import DenseNetConfig
from densviz.core.settings import SETTINGS
from densviz.nn.model import DenseNet, build_model
from densviz.reuse.data import digits, training_digits
from densviz.reuse.variant import TrainVariant, check_training_memory
from densviz.run import choose_device

__all__ = ["EpochRecord", "TrainLog", "TrainOptions", "TrainResult", "TrainSummary", "train"]


@dataclass(frozen=True)
class TrainOptions:
    """How to train.

    Attributes:
        epochs: Passes over the 1,437 training digits, 1–200.
        max_seconds: Stop after this long (checked after every step); ``None`` for no limit.
        seed: Seeds the weights and the batch order; on the CPU the same seed gives the same network.
        batch_size: Digits per step, 1–1,437.
        lr: Peak learning rate of SGD with Nesterov momentum 0.9 and weight decay 1e-4 (the paper's),
            warmed up over the first 10% of the run and then cosine-annealed.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
    """

    epochs: int = SETTINGS["epochs"].default
    max_seconds: float | None = SETTINGS["max_seconds"].default
    seed: int = SETTINGS["seed"].default
    batch_size: int = SETTINGS["batch_size"].default
    lr: float = SETTINGS["lr"].default
    weight_decay: float = 1e-4
    device: str = SETTINGS["device"].default

    def __post_init__(self) -> None:
        for name in ("epochs", "max_seconds", "seed", "batch_size", "lr"):
            SETTINGS[name].check(getattr(self, name))


@dataclass(frozen=True)
class EpochRecord:
    """The state after one epoch (or after the last step of a run cut short)."""

    epoch: int
    step: int
    seconds: float
    train_loss: float
    train_accuracy: float
    test_accuracy: float


@dataclass
class TrainLog:
    """What a run has done so far; :func:`train` appends to it while it runs.

    Read from another thread, copy the lists first (``list(log.losses)``):
    appends are atomic, the numbers in them final.
    """

    total_steps: int
    max_seconds: float | None
    losses: list[tuple[int, float, float]] = field(default_factory=list)  # (step, seconds, loss)
    epochs: list[EpochRecord] = field(default_factory=list)
    done: bool = False

    @classmethod
    def for_run(cls, options: TrainOptions) -> TrainLog:
        """An empty log sized for ``options`` (steps = epochs × batches of the training digits)."""
        n = training_digits()
        return cls(total_steps=options.epochs * math.ceil(n / options.batch_size), max_seconds=options.max_seconds)

    @property
    def fraction(self) -> float:
        """How far the run is, 0–1: by steps, or by time where the time limit comes first."""
        if self.done:
            return 1.0
        step, seconds = (self.losses[-1][0], self.losses[-1][1]) if self.losses else (0, 0.0)
        by_time = seconds / self.max_seconds if self.max_seconds else 0.0
        return min(1.0, max(step / self.total_steps, by_time))


@dataclass(frozen=True)
class TrainSummary:
    """What a training run did, without the network itself.

    :class:`TrainResult` adds the trained model; the training job's
    :class:`~densviz.jobs.work.TrainedRun` adds its weights as bytes and Figure 5
    (a model object does not cross a process boundary).

    Attributes:
        variant: What was trained.
        options: How.
        log: Every step's loss and every epoch's accuracies.
        test_accuracy: Held-out accuracy at the end (360 digits never trained on).
        seconds: Training time, evaluations included.
        samples_per_s: Training digits per second (forward and backward).
        stopped_by: ``epochs``, ``time`` or ``user``.
        device: Where it trained.
    """

    variant: TrainVariant
    options: TrainOptions
    log: TrainLog
    test_accuracy: float
    seconds: float
    samples_per_s: float
    stopped_by: str
    device: str

    def summary(self) -> dict[str, Any]:
        """The summary's fields by name: what a richer record of the same run is made from (``Record(**s.summary(), ...)``)."""
        return {f.name: getattr(self, f.name) for f in fields(TrainSummary)}

    def time_to(self, accuracy: float) -> float | None:
        """Seconds until an epoch's held-out accuracy first reached ``accuracy``, or ``None``."""
        return next((e.seconds for e in self.log.epochs if e.test_accuracy >= accuracy), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (what ``densviz reuse`` writes as ``training.json``)."""
        return {
            "config": self.variant.config.to_dict(),
            "input_size": self.variant.size,
            "changes": list(self.variant.changes),
            "options": {
                "epochs": self.options.epochs,
                "max_seconds": self.options.max_seconds,
                "seed": self.options.seed,
                "batch_size": self.options.batch_size,
                "lr": self.options.lr,
            },
            "device": self.device,
            "test_accuracy": self.test_accuracy,
            "seconds": self.seconds,
            "samples_per_s": self.samples_per_s,
            "stopped_by": self.stopped_by,
            "time_to_90_percent_s": self.time_to(0.9),
            "epochs": [e.__dict__ for e in self.log.epochs],
        }


@dataclass(frozen=True)
class TrainResult(TrainSummary):
    """A trained network and how it got there (see :class:`TrainSummary`).

    Attributes:
        model: The trained model, in eval mode, on the CPU.
    """

    model: DenseNet


def _accuracy(model: nn.Module, x: Tensor, y: Tensor, batch: int = 512) -> float:
    """The share of ``x`` that ``model`` (put in eval mode) classifies as ``y``."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
    return correct / len(x)


def _lr(peak: float, progress: float) -> float:
    """10% linear warm-up, then cosine to zero."""
    if progress < 0.1:
        return peak * (0.1 + 0.9 * progress / 0.1)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - 0.1) / 0.9)))


def _seeded_model(cfg: DenseNetConfig, seed: int, device: torch.device) -> DenseNet:
    """``cfg``'s network with weights drawn from ``seed`` (the global random state is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(cfg, device=device)


def _optimizer(model: nn.Module, options: TrainOptions) -> torch.optim.SGD:
    """SGD with Nesterov momentum 0.9; weight decay on the weights only, not on BN scales and biases."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return torch.optim.SGD(
        [{"params": decay, "weight_decay": options.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=options.lr,
        momentum=0.9,
        nesterov=True,
    )


@dataclass
class _Run:
    """One training run in progress: the model, its optimiser, the log it fills and its counters."""

    model: DenseNet
    opt: torch.optim.SGD
    options: TrainOptions
    log: TrainLog
    device: torch.device
    stop: threading.Event | None
    on_step: Callable[[TrainLog], None] | None
    start: float = field(default_factory=time.perf_counter)
    step: int = 0
    seen: int = 0
    stopped_by: str = "epochs"

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self.start

    def set_lr(self) -> None:
        """The schedule's learning rate for the next step: by steps, or by time where the time limit comes first."""
        progress = self.step / self.log.total_steps
        if self.options.max_seconds:
            progress = max(progress, self.elapsed() / self.options.max_seconds)
        for group in self.opt.param_groups:
            group["lr"] = _lr(self.options.lr, progress)

    def take_step(self, x: Tensor, y: Tensor) -> tuple[float, int]:
        """One SGD step on a batch, logged: its mean loss and how many digits it classified right."""
        logits = self.model(x)
        loss = F.cross_entropy(logits, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        self.opt.step()
        self.step += 1
        self.seen += len(y)
        value = float(loss.detach())
        right = int((logits.argmax(1) == y).sum())
        self.log.losses.append((self.step, self.elapsed(), value))
        return value, right

    def check_stop(self) -> None:
        """Record why the run stops after this step (``user`` or ``time``), if it does."""
        if self.stop is not None and self.stop.is_set():
            self.stopped_by = "user"
        elif self.options.max_seconds and self.elapsed() >= self.options.max_seconds:
            self.stopped_by = "time"

    def epoch(
        self, number: int, train_set: tuple[Tensor, Tensor], test_set: tuple[Tensor, Tensor], gen: torch.Generator
    ) -> None:
        """One pass over the training digits in a fresh order (or until told to stop), then its record."""
        self.model.train()
        x_tr, y_tr = train_set
        n = len(x_tr)
        order = torch.randperm(n, generator=gen).to(self.device)
        loss_sum, correct, count = 0.0, 0, 0
        for i in range(0, n, self.options.batch_size):
            idx = order[i : i + self.options.batch_size]
            self.set_lr()
            value, right = self.take_step(x_tr[idx], y_tr[idx])
            loss_sum += value * len(idx)
            correct += right
            count += len(idx)
            if self.on_step is not None:
                self.on_step(self.log)
            self.check_stop()
            if self.stopped_by != "epochs":
                break
        self.log.epochs.append(
            EpochRecord(
                number, self.step, self.elapsed(), loss_sum / count, correct / count, _accuracy(self.model, *test_set)
            )
        )

    def finish(self, variant: TrainVariant) -> TrainResult:
        """Close the log and hand back the model (on the CPU, eval mode) with what the run did."""
        seconds = self.elapsed()
        self.log.done = True
        self.model.eval()
        return TrainResult(
            model=self.model.cpu(),
            variant=variant,
            options=self.options,
            log=self.log,
            test_accuracy=self.log.epochs[-1].test_accuracy,
            seconds=seconds,
            samples_per_s=self.seen / seconds if seconds > 0 else 0.0,
            stopped_by=self.stopped_by,
            device=str(self.device),
        )


def train(
    variant: TrainVariant,
    options: TrainOptions | None = None,
    *,
    log: TrainLog | None = None,
    stop: threading.Event | None = None,
    on_step: Callable[[TrainLog], None] | None = None,
) -> TrainResult:
    """Train ``variant`` on the digits.

    Args:
        variant: From :func:`~densviz.reuse.variant.training_variant`.
        options: Epochs, time limit, seed, batch, learning rate, device.
        log: Filled while training (pass your own to watch it from another thread).
        stop: Set it to stop after the current step; the network trained so far is kept and evaluated.
        on_step: Called after every step with the log.

    Returns:
        The trained model (on the CPU, eval mode) with its log and held-out accuracy.

    Raises:
        ConfigError: when one step would need more memory than the budget (before anything is allocated).
    """
    options = options or TrainOptions()
    check_training_memory(variant, options.batch_size)  # every run, whoever started it
    device = choose_device(options.device)
    data = digits(variant.size, variant.config.in_channels)
    log = log if log is not None else TrainLog.for_run(options)
    train_set = (data.x_train.to(device), data.y_train.to(device))
    test_set = (data.x_test.to(device), data.y_test.to(device))
    model = _seeded_model(variant.config, options.seed, device)
    gen = torch.Generator().manual_seed(options.seed)
    run = _Run(model, _optimizer(model, options), options, log, device, stop, on_step)
    for epoch in range(1, options.epochs + 1):
        run.epoch(epoch, train_set, test_set, gen)
        if run.stopped_by != "epochs":
            break
    return run.finish(variant)
