"""Feature reuse in a trained DenseNet: train on scikit-learn's digits, draw the paper's Figure 5.

Huang et al. (arXiv 1608.06993, Sec. 5 "Feature Reuse") train a DenseNet and,
for every convolutional layer ℓ of a block and every earlier source s (the
block's input and each earlier layer), take the mean absolute weight of ℓ's
convolution over the input channels that came from s. A high value means ℓ
makes strong use of the maps s produced. :func:`reuse_maps` computes exactly
that from a model's weights; :func:`train` trains the network first, on the
1,797 8×8 handwritten digits scikit-learn ships (no download).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the PyTorch convention)
from torch import Tensor, nn

from densviz.core.config import ConfigError, DenseNetConfig, InputSpec, Stem, min_input_size
from densviz.core.plan import make_plan
from densviz.nn.model import DenseBlock, DenseNet, Transition, build_model
from densviz.run import choose_device

__all__ = [
    "DIGITS_SIZE",
    "TRAIN_MACS_BUDGET",
    "WEIGHTS_FILE",
    "Digits",
    "Reading",
    "ReuseMap",
    "TrainLog",
    "TrainOptions",
    "TrainResult",
    "TrainVariant",
    "caption",
    "digit_batch",
    "digits",
    "mean_abs_by_source",
    "readings",
    "reuse_figure",
    "reuse_files",
    "reuse_maps",
    "run_command",
    "source_slices",
    "train",
    "training_json",
    "training_variant",
]

DIGITS_SIZE = 8
DIGITS_CLASSES = 10
# Forward MACs per image of the network that is trained: 20 M keeps an epoch of
# the 1,437 training digits near 10 s on one CPU core (forward + backward ≈ 3×).
TRAIN_MACS_BUDGET = 20_000_000
_GROWTH_STEPS = (24, 16, 12, 8)
MAX_TRAIN_SIZE = 64  # digits upsampled at most 8×: the CIFAR stem and 6 transitions
_MAX_TRAIN_BLOCKS = 7
_HELD_OUT = 0.2
_SPLIT_SEED = 0  # the held-out digits are the same whatever the training seed


# --- what is trained -------------------------------------------------------------


@dataclass(frozen=True)
class TrainVariant:
    """The network that is trained on the digits, and how it differs from the user's.

    Attributes:
        config: The trained architecture (10 classes, one grey channel, CIFAR stem).
        size: Input side in pixels (8, the digits' own, or more when the blocks need it).
        changes: One sentence per change from the user's architecture; empty when it is trained as it is.
    """

    config: DenseNetConfig
    size: int
    changes: tuple[str, ...]

    @property
    def input(self) -> InputSpec:
        """One image of the trained size."""
        return InputSpec.square(self.size)

    @property
    def macs(self) -> int:
        """Forward multiply-accumulates per image."""
        return make_plan(self.config, self.input).totals.macs


def training_variant(cfg: DenseNetConfig, *, max_macs: int = TRAIN_MACS_BUDGET) -> TrainVariant:
    """The architecture to train on 8×8 digits: ``cfg`` with only what the data and the time budget require changed.

    Always: 10 classes, one grey input channel, the CIFAR stem (the ImageNet
    stem would shrink an 8×8 digit to 2×2 before the first block), no
    checkpointing (it only saves memory). The input is 8×8 unless the
    transitions need more pixels to pool (at most 64×64: 7 blocks). Then, while one image costs more
    than ``max_macs``, k steps down (24, 16, 12, 8; k₀ follows as 2k), and
    after that the layers of every block are halved: the blocks, θ and the
    bottleneck are kept, so the heat maps have the user's shape.

    Raises:
        ConfigError: for more than 7 dense blocks (the digits would be upsampled beyond 64×64).
    """
    changes: list[str] = []
    if cfg.num_classes != DIGITS_CLASSES:
        changes.append(f"10 classes (the digits 0–9) instead of {cfg.num_classes}")
    if cfg.in_channels != 1:
        changes.append("one grey input channel instead of 3")
    if cfg.stem is not Stem.CIFAR:
        changes.append("the CIFAR stem (one 3×3 convolution): the ImageNet stem would shrink 8×8 digits to 2×2")
    if cfg.memory_efficient:
        changes.append("no checkpointing (it saves memory, not time, and these networks are small)")
    new = cfg.replace(num_classes=DIGITS_CLASSES, in_channels=1, stem=Stem.CIFAR, memory_efficient=False)

    def size_of(c: DenseNetConfig) -> int:
        return max(DIGITS_SIZE, min_input_size(c))

    def cost(c: DenseNetConfig) -> int:
        return make_plan(c, InputSpec.square(size_of(c))).totals.macs

    if size_of(new) > MAX_TRAIN_SIZE:
        raise ConfigError(
            "block_config",
            cfg.block_config,
            "",
            message=(
                f"training on the 8×8 digits takes at most {_MAX_TRAIN_BLOCKS} dense blocks: these "
                f"{len(cfg.block_config)} would need the digits upsampled to {size_of(new)}×{size_of(new)} "
                f"(at most {MAX_TRAIN_SIZE}×{MAX_TRAIN_SIZE})."
            ),
        )
    before = new
    for k in _GROWTH_STEPS:
        if cost(new) <= max_macs or k >= new.growth_rate:
            continue
        try:
            new = new.replace(growth_rate=k, num_init_features=min(new.init_features, 2 * k))
        except ConfigError:  # at a tiny θ a narrower network can leave a transition no channel
            break
    if new.growth_rate != before.growth_rate:
        changes.append(
            f"growth rate k = {new.growth_rate} instead of {before.growth_rate} (k₀ = {new.init_features}) "
            f"to train within a minute"
        )
    before = new
    while cost(new) > max_macs and max(new.block_config) > 1:
        try:
            new = new.replace(block_config=tuple((n + 1) // 2 for n in new.block_config))
        except ConfigError:  # halving can leave a transition no channel at a tiny θ
            break
    if new.block_config != before.block_config:
        changes.append(
            "layers per block "
            + ",".join(map(str, new.block_config))
            + " instead of "
            + ",".join(map(str, before.block_config))
            + " to train within a minute"
        )
    size = size_of(new)
    if size > DIGITS_SIZE:
        changes.append(f"digits upsampled to {size}×{size} so that every transition has pixels to pool")
    return TrainVariant(new, size, tuple(changes))


# --- the data --------------------------------------------------------------------


@dataclass(frozen=True)
class Digits:
    """scikit-learn's handwritten digits, split, scaled and normalised.

    Attributes:
        x_train: (N, C, S, S) float32, normalised with the training set's mean and std.
        y_train: (N,) int64 labels 0–9.
        x_test: The held-out 20% (stratified, always the same 360 digits).
        y_test: Their labels.
        mean: Mean of the training pixels (in [0, 1]) before normalising.
        std: Their standard deviation.
    """

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    mean: float
    std: float


@lru_cache(maxsize=1)
def _raw_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)  # (1797, 8, 8) in [0, 1]
    x_tr, x_te, y_tr, y_te = train_test_split(
        images, data.target, test_size=_HELD_OUT, stratify=data.target, random_state=_SPLIT_SEED
    )
    return x_tr, x_te, y_tr, y_te


def _prepare(images: np.ndarray, hw: tuple[int, int], in_channels: int, mean: float, std: float) -> Tensor:
    x = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1)  # (N, 1, 8, 8)
    x = (x - mean) / std
    if hw != (DIGITS_SIZE, DIGITS_SIZE):
        x = F.interpolate(x, size=hw, mode="bilinear", align_corners=False)  # (N, 1, H, W)
    if in_channels != 1:
        x = x.expand(-1, in_channels, -1, -1)
    return x.contiguous()


@lru_cache(maxsize=4)
def digits(size: int = DIGITS_SIZE, in_channels: int = 1) -> Digits:
    """The digits at ``size × size`` (bilinear upsampling), split 80/20 the same way every time."""
    x_tr, x_te, y_tr, y_te = _raw_digits()
    mean, std = float(x_tr.mean()), float(x_tr.std())
    return Digits(
        _prepare(x_tr, (size, size), in_channels, mean, std),
        torch.from_numpy(y_tr).long(),
        _prepare(x_te, (size, size), in_channels, mean, std),
        torch.from_numpy(y_te).long(),
        mean,
        std,
    )


def digit_batch(batch: int, height: int, width: int, in_channels: int = 1) -> tuple[Tensor, list[int]]:
    """The first ``batch`` held-out digits as a network trained by :func:`train` sees them: (N, C, H, W) and labels.

    Scaled like the training data; H×W other than 8×8 by bilinear interpolation.
    """
    _, x_te, _, y_te = _raw_digits()
    picks = [i % len(x_te) for i in range(batch)]
    scale = digits()
    return _prepare(x_te[picks], (height, width), in_channels, scale.mean, scale.std), [int(y_te[i]) for i in picks]


# --- training --------------------------------------------------------------------


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

    epochs: int = 3
    max_seconds: float | None = None
    seed: int = 0
    batch_size: int = 64
    lr: float = 0.1
    weight_decay: float = 1e-4
    device: str = "auto"

    def __post_init__(self) -> None:
        checks: Sequence[tuple[str, Any, bool, str]] = (
            (
                "epochs",
                self.epochs,
                isinstance(self.epochs, int) and 1 <= self.epochs <= 200,
                "an integer from 1 to 200",
            ),
            (
                "max_seconds",
                self.max_seconds,
                self.max_seconds is None
                or (isinstance(self.max_seconds, int | float) and 0 < self.max_seconds <= 3600),
                "a number of seconds above 0 and at most 3,600, or none",
            ),
            ("seed", self.seed, isinstance(self.seed, int) and 0 <= self.seed < 2**32, "an integer from 0 to 2³²−1"),
            (
                "batch_size",
                self.batch_size,
                isinstance(self.batch_size, int) and 1 <= self.batch_size <= 1437,
                "an integer from 1 to 1,437",
            ),
            (
                "lr",
                self.lr,
                isinstance(self.lr, int | float) and math.isfinite(self.lr) and 0 < self.lr <= 10,
                "a number in (0, 10]",
            ),
        )
        for name, value, ok, allowed in checks:
            if isinstance(value, bool) or not ok:
                raise ConfigError(name, value, allowed)


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
        n = len(_raw_digits()[0])
        return cls(total_steps=options.epochs * math.ceil(n / options.batch_size), max_seconds=options.max_seconds)

    @property
    def fraction(self) -> float:
        """How far the run is, 0–1: by steps, or by time where the time limit comes first."""
        if self.done:
            return 1.0
        step, seconds = (self.losses[-1][0], self.losses[-1][1]) if self.losses else (0, 0.0)
        by_time = seconds / self.max_seconds if self.max_seconds else 0.0
        return min(1.0, max(step / self.total_steps, by_time))


@dataclass
class TrainResult:
    """A trained network and how it got there.

    Attributes:
        model: The trained model, in eval mode, on the CPU.
        variant: What was trained.
        options: How.
        log: Every step's loss and every epoch's accuracies.
        test_accuracy: Held-out accuracy at the end (360 digits never trained on).
        seconds: Training time, evaluations included.
        samples_per_s: Training digits per second (forward and backward).
        stopped_by: ``epochs``, ``time`` or ``user``.
        device: Where it trained.
    """

    model: DenseNet
    variant: TrainVariant
    options: TrainOptions
    log: TrainLog
    test_accuracy: float
    seconds: float
    samples_per_s: float
    stopped_by: str
    device: str

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


def _accuracy(model: nn.Module, x: Tensor, y: Tensor, batch: int = 512) -> float:
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
        variant: From :func:`training_variant`.
        options: Epochs, time limit, seed, batch, learning rate, device.
        log: Filled while training (pass your own to watch it from another thread).
        stop: Set it to stop after the current step; the network trained so far is kept and evaluated.
        on_step: Called after every step with the log.

    Returns:
        The trained model (on the CPU, eval mode) with its log and held-out accuracy.
    """
    options = options or TrainOptions()
    device = choose_device(options.device)
    data = digits(variant.size, variant.config.in_channels)
    n = len(data.x_train)
    log = log if log is not None else TrainLog.for_run(options)
    x_tr, y_tr = data.x_train.to(device), data.y_train.to(device)
    x_te, y_te = data.x_test.to(device), data.y_test.to(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(options.seed)
        model = build_model(variant.config, device=device)
    gen = torch.Generator().manual_seed(options.seed)
    decay = [p for p in model.parameters() if p.ndim > 1]  # weights; not BN scales and biases
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.SGD(
        [{"params": decay, "weight_decay": options.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=options.lr,
        momentum=0.9,
        nesterov=True,
    )
    start = time.perf_counter()
    step, stopped_by, seen = 0, "epochs", 0
    for epoch in range(1, options.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=gen).to(device)
        loss_sum, correct, count = 0.0, 0, 0
        for i in range(0, n, options.batch_size):
            idx = order[i : i + options.batch_size]
            elapsed = time.perf_counter() - start
            progress = step / log.total_steps
            if options.max_seconds:
                progress = max(progress, elapsed / options.max_seconds)
            for group in opt.param_groups:
                group["lr"] = _lr(options.lr, progress)
            logits = model(x_tr[idx])
            loss = F.cross_entropy(logits, y_tr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            step += 1
            seen += len(idx)
            value = float(loss.detach())
            loss_sum += value * len(idx)
            correct += int((logits.argmax(1) == y_tr[idx]).sum())
            count += len(idx)
            log.losses.append((step, time.perf_counter() - start, value))
            if on_step is not None:
                on_step(log)
            if stop is not None and stop.is_set():
                stopped_by = "user"
            elif options.max_seconds and time.perf_counter() - start >= options.max_seconds:
                stopped_by = "time"
            if stopped_by != "epochs":
                break
        log.epochs.append(
            EpochRecord(
                epoch,
                step,
                time.perf_counter() - start,
                loss_sum / count,
                correct / count,
                _accuracy(model, x_te, y_te),
            )
        )
        if stopped_by != "epochs":
            break
    seconds = time.perf_counter() - start
    log.done = True
    model.eval()
    return TrainResult(
        model=model.cpu(),
        variant=variant,
        options=options,
        log=log,
        test_accuracy=log.epochs[-1].test_accuracy,
        seconds=seconds,
        samples_per_s=seen / seconds if seconds > 0 else 0.0,
        stopped_by=stopped_by,
        device=str(device),
    )


# --- Figure 5 --------------------------------------------------------------------


def source_slices(in_channels: int, growth_rate: int, layers: int) -> list[slice]:
    """The input channels of a block's concatenation, by where they came from.

    Source 0 is the block's input (``in_channels`` maps: the stem's or the
    previous transition's), source s ≥ 1 is dense layer s (k maps each), in
    the order :class:`densviz.nn.model.DenseBlock` concatenates them.
    """
    edges = [0, in_channels, *(in_channels + growth_rate * s for s in range(1, layers + 1))]
    return [slice(a, b) for a, b in pairwise(edges)]


def mean_abs_by_source(weight: Tensor, slices: Sequence[slice]) -> np.ndarray:
    """Mean |w| of a convolution or linear weight over each source's input channels.

    ``weight`` is (out, in, …) as PyTorch stores it; the mean runs over the
    output channels, the source's input channels and the kernel, so sources of
    different widths compare fairly (the paper's "normalized by the number of
    input feature-maps").
    """
    w = weight.detach().abs().float().cpu()
    if w.shape[1] < slices[-1].stop:
        raise ValueError(f"a weight with {w.shape[1]} input channels cannot hold sources up to {slices[-1].stop}")
    return np.array([float(w[:, s].mean()) for s in slices])


@dataclass(frozen=True)
class ReuseMap:
    """One dense block's panel of Figure 5.

    Attributes:
        block: The block's number (1-based).
        last: ``transition`` (the transition after the block) or ``classifier`` (after the last block).
        raw: (sources, targets) mean absolute weights; NaN where the target cannot see the source.
            Sources: the block's input, then layers 1…n; targets: layers 1…n, then the transition or classifier.
        values: ``raw`` divided by each target's largest value (each column's strongest source is 1).
    """

    block: int
    last: str
    raw: np.ndarray
    values: np.ndarray

    @property
    def layers(self) -> int:
        """Dense layers in the block."""
        return int(self.values.shape[0]) - 1

    @property
    def source_labels(self) -> list[str]:
        """``in`` (the block's input) then ``1``…``n``."""
        return ["in", *map(str, range(1, self.layers + 1))]

    @property
    def target_labels(self) -> list[str]:
        """``1``…``n`` then ``T`` (transition) or ``C`` (classifier)."""
        return [*map(str, range(1, self.layers + 1)), "T" if self.last == "transition" else "C"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (NaN written as null)."""

        def rows(a: np.ndarray) -> list[list[float | None]]:
            return [[None if math.isnan(v) else round(float(v), 6) for v in r] for r in a]

        return {
            "block": self.block,
            "last": self.last,
            "sources": self.source_labels,
            "targets": self.target_labels,
            "values": rows(self.values),
            "raw": rows(self.raw),
        }


def _reading_conv(layer: nn.Module) -> Tensor:
    """The convolution of a dense layer that reads the concatenation: the bottleneck's 1×1, else the 3×3."""
    conv = layer.conv1
    assert isinstance(conv, nn.Conv2d)
    return conv.weight


def reuse_maps(model: DenseNet) -> list[ReuseMap]:
    """Figure 5 of the paper for this model: one :class:`ReuseMap` per dense block."""
    cfg = model.config
    k = cfg.growth_rate
    modules = dict(model.features.named_children())
    maps: list[ReuseMap] = []
    for b, layers in enumerate(cfg.block_config, start=1):
        block = modules[f"denseblock{b}"]
        assert isinstance(block, DenseBlock)
        c0 = _reading_conv(block["denselayer1"]).shape[1]
        slices = source_slices(c0, k, layers)
        raw = np.full((layers + 1, layers + 1), np.nan)
        for t in range(1, layers + 1):
            raw[:t, t - 1] = mean_abs_by_source(_reading_conv(block[f"denselayer{t}"]), slices[:t])
        weight: Tensor
        if b < len(cfg.block_config):
            transition = modules[f"transition{b}"]
            assert isinstance(transition, Transition)
            last, weight = "transition", transition.conv.weight
        else:
            last, weight = "classifier", model.classifier.weight
        raw[:, layers] = mean_abs_by_source(weight, slices)
        with np.errstate(invalid="ignore"):
            values = raw / np.nanmax(raw, axis=0, keepdims=True)
        maps.append(ReuseMap(b, last, raw, values))
    return maps


@dataclass(frozen=True)
class Reading:
    """One sentence of the paper's reading of Figure 5, and this run's number for it.

    Attributes:
        title: The observation in a few words.
        claim: What the paper observes.
        measure: How the number is computed.
        value: This run's number, as text.
        holds: Whether this run agrees (``None`` where the network is too small to tell).
    """

    title: str
    claim: str
    measure: str
    value: str
    holds: bool | None


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def readings(maps: Sequence[ReuseMap]) -> list[Reading]:
    """The paper's four observations (Sec. 5), each checked against these heat maps."""
    out: list[Reading] = []
    # 1. dense layers spread their weight over many inputs: early features are used deep in the block
    shares = [
        float(np.mean(m.values[:t, t - 1] >= 0.5)) for m in maps for t in range(2, m.layers + 1)
    ]  # layers with at least two sources
    share = _mean(shares)
    out.append(
        Reading(
            "Layers use many inputs",
            "All layers spread their weights over many inputs in the same block: "
            "features extracted early are used directly by deep layers.",
            "dense layers' share of sources weighted ≥ 0.5 of their strongest",
            f"{share:.0%}" if shares else "n/a",
            (share >= 0.5) if shares else None,
        )
    )
    # 2. transitions spread their weight over every layer of the block before
    trans = [float(np.nanmin(m.values[:, -1])) for m in maps if m.last == "transition"]
    out.append(
        Reading(
            "Transitions draw on the whole block",
            "The transition layers also spread their weight across all layers of the dense block before them: "
            "information flows from the first to the last layers through few indirections.",
            "weakest source of each transition, relative to its strongest",
            ", ".join(f"{v:.2f}" for v in trans) if trans else "n/a",
            all(v >= 0.3 for v in trans) if trans else None,
        )
    )
    # 3. in blocks 2+, the transition's output (first row) gets the least weight
    first_rows: list[tuple[float, float]] = []
    for m in maps[1:]:
        if m.layers < 2:
            continue
        dense = m.values[:, : m.layers]
        first_rows.append((_mean([v for v in dense[0] if not math.isnan(v)]), float(np.nanmean(dense[1:]))))
    out.append(
        Reading(
            "Transition outputs get the least weight",
            "Layers in the second and later blocks assign the least weight to the outputs of the transition "
            "(the first row): those maps are redundant, which is what compression θ < 1 exploits.",
            "mean weight on the block input vs on earlier layers, blocks 2 onwards",
            "; ".join(f"{a:.2f} vs {b:.2f}" for a, b in first_rows) if first_rows else "n/a",
            all(a < b for a, b in first_rows) if first_rows else None,
        )
    )
    # 4. the classifier concentrates on the final feature maps
    last = maps[-1]
    column = last.values[:, -1]
    half = (len(column) + 1) // 2
    early, late = _mean(list(column[:half])), _mean(list(column[half:]))
    out.append(
        Reading(
            "The classifier favours the final maps",
            "The classifier uses weights across the whole last block but concentrates on the final feature maps: "
            "more high-level features are produced late in the network.",
            "classifier's mean weight on the later half of the sources vs the earlier half",
            f"{late:.2f} vs {early:.2f}" if last.layers >= 1 else "n/a",
            (late > early) if last.layers >= 1 else None,
        )
    )
    return out


# --- the picture -----------------------------------------------------------------

_PANELS_PER_ROW = 4


def reuse_figure(maps: Sequence[ReuseMap], subtitle: str = "") -> Any:
    """The heat maps as one plotly figure: a panel per block, like the paper's Figure 5.

    Rows are sources (the block's input on top, then layers 1…n), columns are
    targets (layers 1…n, then the transition ``T`` or the classifier ``C``,
    outlined in black as in the paper). One colour scale for all panels, from
    the weakest value in any panel to 1; the numbers are in the hover text
    (and in the cells of small blocks).
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    cols = min(len(maps), _PANELS_PER_ROW)
    rows = math.ceil(len(maps) / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[f"Block {m.block} · {m.layers} layers" for m in maps],
        horizontal_spacing=0.06,
        vertical_spacing=0.16 if rows > 1 else 0.1,
    )
    low = min(float(np.nanmin(m.values)) for m in maps)
    low = math.floor(low * 20) / 20 if low < 1 else 0.0
    for i, m in enumerate(maps):
        r, c = i // cols + 1, i % cols + 1
        small = m.layers <= 12
        text = [["" if math.isnan(v) else f"{v:.2f}" for v in row] for row in m.values]
        fig.add_trace(
            go.Heatmap(
                z=[[None if math.isnan(v) else float(v) for v in row] for row in m.values],
                x=m.target_labels,
                y=m.source_labels,
                coloraxis="coloraxis",
                text=text,
                texttemplate="%{text}" if small and m.layers <= 8 else None,
                textfont={"size": 10},
                customdata=[[f"{v:.4f}" if not math.isnan(v) else "" for v in row] for row in m.raw],
                hovertemplate=(
                    "target %{x} ← source %{y}<br>relative weight %{z:.2f}<br>mean |w| %{customdata}<extra>"
                    f"block {m.block}</extra>"
                ),
                xgap=1,
                ygap=1,
            ),
            row=r,
            col=c,
        )
        n = m.layers
        fig.add_shape(
            type="rect",
            x0=n - 0.5,
            x1=n + 0.5,
            y0=-0.5,
            y1=n + 0.5,
            line={"color": "black", "width": 2},
            row=r,
            col=c,
        )
        fig.update_xaxes(title_text="target layer ℓ" if r == rows else None, tickangle=0, row=r, col=c)
        fig.update_yaxes(
            autorange="reversed", title_text="source layer s" if c == 1 else None, row=r, col=c, scaleanchor=None
        )
    fig.update_layout(
        template="plotly_white",
        font={"family": "Helvetica, Arial, sans-serif", "size": 13},
        title={
            "text": "Feature reuse: mean |weight| from each source to each layer, per target"
            + (f"<br><sup>{subtitle}</sup>" if subtitle else ""),
            "x": 0.01,
            "xanchor": "left",
        },
        coloraxis={
            "colorscale": "RdYlBu",
            "reversescale": True,
            "cmin": low,
            "cmax": 1.0,
            "colorbar": {"title": {"text": "relative<br>weight"}, "thickness": 14},
        },
        height=120 + 360 * rows,
        margin={"l": 70, "r": 30, "t": 100, "b": 60},
    )
    return fig


def run_command(variant: TrainVariant, weights_path: str) -> str:
    """The ``densviz run`` line that loads the trained weights and classifies held-out digits."""
    from densviz.core.config import to_query

    skip = {"batch", "height", "width", "drop_rate", "memory_efficient"}
    flags = [
        f"--{key.replace('_', '-')} {value}"
        for key, value in to_query(variant.config, variant.input).items()
        if key not in skip
    ]
    return f"densviz run {' '.join(flags)} --input-size {variant.size} --image digits --weights {weights_path}"


def reuse_files(result: TrainResult) -> tuple[dict[str, bytes], list[str]]:
    """Everything a run leaves: heat maps (PNG, SVG, HTML), ``training.json`` and the weights.

    Returns:
        (file name → bytes, notes): a note says what was left out and why (no Chromium: no PNG/SVG).
    """
    from densviz.export import ChartImageUnavailableError, chart_html, chart_images
    from densviz.run import save_weights

    maps = reuse_maps(result.model)
    fig = reuse_figure(maps, caption(result))
    files: dict[str, bytes] = {}
    notes: list[str] = []
    try:
        png, svg = chart_images([(fig, "png"), (fig, "svg")])
        files["reuse.png"], files["reuse.svg"] = png, svg
    except ChartImageUnavailableError as err:
        notes.append(str(err))
    files["reuse.html"] = chart_html(fig).encode()
    files["training.json"] = training_json(result, maps).encode()
    files[WEIGHTS_FILE] = save_weights(result.model)
    return files, notes


WEIGHTS_FILE = "densenet-digits.safetensors"


def training_json(result: TrainResult, maps: Sequence[ReuseMap]) -> str:
    """``training.json``: the run (:meth:`TrainResult.to_dict`), its heat-map numbers and the readings."""
    import json

    data = result.to_dict()
    data["heat_maps"] = [m.to_dict() for m in maps]
    data["readings"] = [r.__dict__ for r in readings(maps)]
    return json.dumps(data, indent=2) + "\n"


def caption(result: TrainResult) -> str:
    """One line: what was trained, how long, how well."""
    cfg = result.variant.config
    blocks = ",".join(map(str, cfg.block_config))
    return (
        f"k={cfg.growth_rate}, blocks {blocks}, θ={cfg.compression:g}, "
        f"{'bottleneck' if cfg.bottleneck else 'no bottleneck'}, {result.variant.size}×{result.variant.size} digits · "
        f"{len(result.log.epochs)} epoch(s), {result.seconds:.1f} s on {result.device} · "
        f"held-out accuracy {result.test_accuracy:.1%}"
    )
