"""What is trained on the digits: the user's DenseNet with only what the data and the time budget require changed.

Pure arithmetic on configurations and plans (no torch): :func:`training_variant`
turns any architecture into one that trains on 8×8 grey digits within about a
minute, and says in a sentence per change how it differs from the user's.
"""

from __future__ import annotations

from dataclasses import dataclass

from densviz.core.config import ConfigError, DenseNetConfig, InputSpec, Stem, min_input_size
from densviz.core.memory import DEFAULT_BUDGET_BYTES
from densviz.core.plan import make_plan
from densviz.core.units import format_bytes

__all__ = [
    "DIGITS_CLASSES",
    "DIGITS_SIZE",
    "MAX_TRAIN_SIZE",
    "TRAIN_MACS_BUDGET",
    "TrainVariant",
    "check_training_memory",
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
    new, changes = _digits_ready(cfg)
    _check_upsampling(cfg, new)
    new, narrowed = _narrower(new, max_macs)
    new, shortened = _shorter(new, max_macs)
    new, thinner = _thinner_stem(new, max_macs)
    changes += narrowed + shortened + thinner
    _check_cost(cfg, new, max_macs)
    size = _size_of(new)
    if size > DIGITS_SIZE:
        changes.append(f"digits upsampled to {size}×{size} so that every transition has pixels to pool")
    return TrainVariant(new, size, tuple(changes))


def _size_of(cfg: DenseNetConfig) -> int:
    """The input side ``cfg`` trains at: the digits' 8, or the least its transitions can pool."""
    return max(DIGITS_SIZE, min_input_size(cfg))


def _cost(cfg: DenseNetConfig) -> int:
    """Forward MACs of one image at the size ``cfg`` trains at."""
    return make_plan(cfg, InputSpec.square(_size_of(cfg))).totals.macs


def _digits_ready(cfg: DenseNetConfig) -> tuple[DenseNetConfig, list[str]]:
    """The changes every network needs to read the digits: classes, channel, stem, no checkpointing."""
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
    return new, changes


def _check_upsampling(cfg: DenseNetConfig, new: DenseNetConfig) -> None:
    """Refuse networks whose transitions would need the digits upsampled beyond 64×64."""
    size = _size_of(new)
    if size > MAX_TRAIN_SIZE:
        raise ConfigError(
            "block_config",
            cfg.block_config,
            "",
            message=(
                f"training on the 8×8 digits takes at most {_MAX_TRAIN_BLOCKS} dense blocks: these "
                f"{len(cfg.block_config)} would need the digits upsampled to {size}×{size} "
                f"(at most {MAX_TRAIN_SIZE}×{MAX_TRAIN_SIZE})."
            ),
        )


def _narrower(cfg: DenseNetConfig, max_macs: int) -> tuple[DenseNetConfig, list[str]]:
    """Step k down (24, 16, 12, 8, with k₀ = 2k at most) until one image costs at most ``max_macs``."""
    new = cfg
    for k in _GROWTH_STEPS:
        if _cost(new) <= max_macs or k >= new.growth_rate:
            continue
        try:
            new = new.replace(growth_rate=k, num_init_features=min(new.init_features, 2 * k))
        except ConfigError:  # at a tiny θ a narrower network can leave a transition no channel
            break
    if new.growth_rate == cfg.growth_rate:
        return new, []
    return new, [
        f"growth rate k = {new.growth_rate} instead of {cfg.growth_rate} (k₀ = {new.init_features}) "
        f"to train within a minute"
    ]


def _thinner_stem(cfg: DenseNetConfig, max_macs: int) -> tuple[DenseNetConfig, list[str]]:
    """Halve k₀ (down to 2k) while one image still costs more than ``max_macs``: a huge stem survives k and layers."""
    new = cfg
    while _cost(new) > max_macs and new.init_features > 2 * new.growth_rate:
        try:
            new = new.replace(num_init_features=max(2 * new.growth_rate, new.init_features // 2))
        except ConfigError:  # at a tiny θ fewer channels can leave a transition none
            break
    if new.init_features == cfg.init_features:
        return new, []
    return new, [f"k₀ = {new.init_features} instead of {cfg.init_features} to train within a minute"]


def _check_cost(cfg: DenseNetConfig, new: DenseNetConfig, max_macs: int) -> None:
    """The MAC cap bounds the network actually trained: refuse one that no step brought under it."""
    cost = _cost(new)
    if cost > max_macs:
        raise ConfigError(
            "block_config",
            cfg.block_config,
            "",
            message=(
                f"Even cut down for the digits (k = {new.growth_rate}, k₀ = {new.init_features}, layers "
                f"{','.join(map(str, new.block_config))}), this design costs {cost / 1e6:,.0f} M MACs per digit, "
                f"over the {max_macs / 1e6:,.0f} M that keep training near a minute; lower the growth rate, "
                "the initial features or the layers per block."
            ),
        )


def check_training_memory(variant: TrainVariant, batch_size: int, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
    """Refuse a training run whose step would need more memory than the budget (the plan's estimate).

    Raises:
        ConfigError: naming the estimate, the batch and the budget.
    """
    spec = InputSpec.square(variant.size, batch=batch_size)
    need = make_plan(variant.config, spec).memory.training_naive_bytes
    if need > budget_bytes:
        raise ConfigError(
            "batch_size",
            batch_size,
            "",
            message=(
                f"One training step of this network at {batch_size} digits a step needs about {format_bytes(need)} "
                f"(the plan's estimate), over the memory budget of {format_bytes(budget_bytes)}; lower the batch "
                "size, the growth rate or the layers per block."
            ),
        )


def _shorter(cfg: DenseNetConfig, max_macs: int) -> tuple[DenseNetConfig, list[str]]:
    """Halve the layers of every block until one image costs at most ``max_macs`` (or every block has one)."""
    new = cfg
    while _cost(new) > max_macs and max(new.block_config) > 1:
        try:
            new = new.replace(block_config=tuple((n + 1) // 2 for n in new.block_config))
        except ConfigError:  # halving can leave a transition no channel at a tiny θ
            break
    if new.block_config == cfg.block_config:
        return new, []
    return new, [
        "layers per block "
        + ",".join(map(str, new.block_config))
        + " instead of "
        + ",".join(map(str, cfg.block_config))
        + " to train within a minute"
    ]
