"""A network's totals in closed form: parameters, MACs, depth, final channels, activation bytes.

:func:`~densviz.core.plan.make_plan` writes one row per module; summing rows
costs O(L) per network (O(L²) with the concatenation lists). Here each dense
block is one arithmetic series: layer ℓ of a block whose input has c₀ channels
reads c₀ + k·(ℓ−1), so over its n layers the channels read sum to
S = n·c₀ + k·n(n−1)/2, and every per-layer cost is linear in what it reads.
A network costs O(blocks), a few microseconds, which is what lets
:mod:`densviz.core.explore` sweep a hundred thousand designs in well under a second.

What is counted is exactly the plan's (the tests prove them equal over the
whole allowed space):

* parameters: convolution weights, two per channel for every batch norm, the
  classifier's weights and bias;
* MACs: H·W·C_out·C_in·kH·kW for every convolution plus the linear layer, no
  bias, batch norm, ReLU or pooling;
* activation bytes: every module's float32 output for the whole batch: the
  stem's rows, each dense layer's k maps, each transition, ``features.norm5``
  and the classifier.

Plain integer arithmetic, no torch.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

from densviz.core.architecture import DenseNetConfig, InputSpec, check_input
from densviz.core.layers import BYTES_PER_ELEMENT, Totals
from densviz.core.settings import Stem

__all__ = ["Cost", "StemCost", "closed_form_totals", "compression_ratio", "network_cost", "stem_cost"]


class StemCost(NamedTuple):
    """The stem's cost per channel k₀ it writes (every stem cost is linear in k₀), and what it hands on.

    Attributes:
        params_per_k0: Parameters per output channel.
        macs_per_k0: MACs per output channel, per image.
        elements_per_k0: Output elements per output channel, per image (every stem row).
        height: Height handed to block 1.
        width: Width handed to block 1.
    """

    params_per_k0: int
    macs_per_k0: int
    elements_per_k0: int
    height: int
    width: int


class Cost(NamedTuple):
    """A network's totals as the sweep needs them.

    Attributes:
        params: Learnable parameters.
        macs: Multiply-accumulates per image.
        activation_elements: Output elements of every module, per image (× 4 × batch for bytes).
        depth: The paper's L: the stem's convolution, one or two per dense layer, one per transition,
            the classifier.
        final_channels: Channels into the classifier.
    """

    params: int
    macs: int
    activation_elements: int
    depth: int
    final_channels: int


def _halve(size: int) -> int:
    """A 3×3/2 window padded by 1 or a 7×7/2 padded by 3: ⌊(n − 1)/2⌋ + 1."""
    return (size - 1) // 2 + 1


@lru_cache(maxsize=4096)
def stem_cost(stem: Stem, in_channels: int, height: int, width: int) -> StemCost:
    """The stem's cost per output channel for an input of ``height × width`` pixels.

    CIFAR: one 3×3/1 convolution. ImageNet: a 7×7/2 convolution, batch norm,
    ReLU (three rows at the convolution's size) and a 3×3/2 max pool.
    """
    if stem is Stem.CIFAR:
        area = height * width
        return StemCost(9 * in_channels, 9 * in_channels * area, area, height, width)
    conv_h, conv_w = _halve(height), _halve(width)
    pool_h, pool_w = _halve(conv_h), _halve(conv_w)
    weights = 49 * in_channels
    return StemCost(weights + 2, weights * conv_h * conv_w, 3 * conv_h * conv_w + pool_h * pool_w, pool_h, pool_w)


@lru_cache(maxsize=4096)  # a sweep asks for few θ, many times
def compression_ratio(compression: float) -> tuple[int, int]:
    """θ as the exact decimal the user typed, (numerator, denominator): a transition keeps m·p // q channels.

    The same reading as :func:`densviz.core.architecture.transition_channels`
    (0.29 is 29/100, not the binary float just under it).
    """
    ratio = Fraction(repr(compression))
    return ratio.numerator, ratio.denominator


def network_cost(
    growth_rate: int,
    block_config: tuple[int, ...],
    init_features: int,
    bn_size: int,
    compression: tuple[int, int],
    num_classes: int,
    stem: StemCost,
) -> Cost | None:
    """The totals of one network, one arithmetic series per dense block.

    Args:
        growth_rate: k.
        block_config: Layers in each dense block.
        init_features: k₀ of block 1 (the stem's output channels).
        bn_size: Bottleneck width factor; 0 for none.
        compression: θ as (numerator, denominator), from :func:`compression_ratio`.
        num_classes: Outputs of the classifier.
        stem: The stem's cost per channel, from :func:`stem_cost`.

    Returns:
        The cost, or ``None`` for a network the input cannot feed (a transition
        would pool a map under 2×2) or that a transition leaves with no channel.
    """
    k, (num, den) = growth_rate, compression
    c = init_features
    params, macs, elements = c * stem.params_per_k0, c * stem.macs_per_k0, c * stem.elements_per_k0
    h, w = stem.height, stem.width
    width = bn_size * k
    # per dense layer: params a·c + b, MACs area·(d·c + e), with c the channels it reads
    a, b, d, e = (2 + width, 2 * width + 9 * width * k, width, 9 * width * k) if width else (2 + 9 * k, 0, 9 * k, 0)
    for n in block_config[:-1]:
        area = h * w
        read = n * c + k * n * (n - 1) // 2  # Σ_ℓ c₀ + k·(ℓ−1)
        params += a * read + b * n
        macs += area * (d * read + e * n)
        c += k * n
        out = c * num // den  # ⌊θ·m⌋
        if h < 2 or w < 2 or out < 1:
            return None
        params += 2 * c + c * out  # BN, then the 1×1 convolution before the 2×2 pool
        macs += area * c * out
        h, w = h // 2, w // 2
        elements += area * k * n + h * w * out  # each layer's k maps, the transition's output
        c = out
    n, area = block_config[-1], h * w
    read = n * c + k * n * (n - 1) // 2
    params += a * read + b * n
    macs += area * (d * read + e * n)
    c += k * n
    params += 2 * c + c * num_classes + num_classes  # norm5, the classifier
    macs += c * num_classes
    elements += area * k * n + area * c + num_classes
    depth = (2 if width else 1) * sum(block_config) + len(block_config) + 1
    return tuple.__new__(Cost, (params, macs, elements, depth, c))  # Cost(…) without its Python-level __new__


def closed_form_totals(cfg: DenseNetConfig, spec: InputSpec | None = None) -> Totals:
    """The totals of :func:`~densviz.core.plan.make_plan`, in closed form: equal, in microseconds.

    Args:
        cfg: The architecture.
        spec: The input; DenseNet's 1×224×224 if omitted.

    Returns:
        ``make_plan(cfg, spec).totals``, computed without a row per layer.

    Raises:
        ConfigError: if the input is smaller than the network allows (as ``make_plan``).
    """
    spec = spec or InputSpec()
    stem = stem_cost(cfg.stem, cfg.in_channels, spec.height, spec.width)
    cost = network_cost(
        cfg.growth_rate,
        cfg.block_config,
        cfg.init_features,
        cfg.bn_size,
        compression_ratio(cfg.compression),
        cfg.num_classes,
        stem,
    )
    if cost is None:  # exactly when the input is too small (a valid config never loses all channels)
        check_input(cfg, spec)  # raises the plan's sentence
        raise AssertionError(f"no cost for {cfg} at {spec}, which check_input accepts")
    params, macs, elements, depth, final_channels = cost
    per_element = BYTES_PER_ELEMENT * spec.batch
    return Totals(params, macs, 2 * macs, params * BYTES_PER_ELEMENT, elements * per_element, depth, final_channels)
