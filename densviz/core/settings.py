"""Every setting a user can give densviz, declared once.

Each row (a :class:`~densviz.core.setting.Setting`) holds the field name (which
is also the query-string key and the widget key), its type, range, default and
unit, the paper's meaning in one sentence, the CLI flag and the kind of widget
that shows it. From this table, and only from it, come the validation and its
"allowed" sentences, the string parsers used by links, flags, files and widgets
alike, the argparse flags, the sidebar and view controls, the query-string keys
and the fuzz script's key list.

Plain data: no torch, plotly or streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from densviz.core.setting import Group, Kind, Setting, Widget

__all__ = [
    "SETTINGS",
    "Detail",
    "Direction",
    "Group",
    "Kind",
    "Precision",
    "Setting",
    "Stem",
    "Widget",
    "in_group",
]


class Stem(StrEnum):
    """The layers before the first dense block."""

    IMAGENET = "imagenet"
    """7×7/2 convolution, BN, ReLU, 3×3/2 max pool (the paper's ImageNet models)."""
    CIFAR = "cifar"
    """One 3×3/1 convolution and nothing after it (the paper's CIFAR/SVHN models)."""


class Detail(StrEnum):
    """How much of the concatenation graph is drawn."""

    DENSE = "dense"
    """Every concatenation edge (L(L+1)/2 per block); long blocks are elided."""
    CHAIN = "chain"
    """The running concatenation, as the network computes it: O(L) edges."""
    OVERVIEW = "overview"
    """One node per stage: stem, blocks, transitions, head."""


class Direction(StrEnum):
    """Which way the graph is laid out."""

    TB = "TB"
    """Top to bottom."""
    LR = "LR"
    """Left to right."""


class Precision(StrEnum):
    """Numeric precision of a forward pass."""

    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"


def _int(
    name: str, group: Group, default: int | None, low: int, high: int, label: str, meaning: str, **kw: Any
) -> Setting:
    return Setting(name, group, Kind.INT, default, label, meaning, low=low, high=high, **kw)


_A, _I, _G, _F, _T = Group.ARCHITECTURE, Group.INPUT, Group.GRAPH, Group.FORWARD, Group.TRAINING

_ROWS: tuple[Setting, ...] = (
    Setting(
        "preset",
        Group.START,
        Kind.TEXT,
        None,
        "Preset",
        "start from a published architecture and its input size; the other settings override it",
        metavar="NAME",
    ),
    # --- the architecture (DenseNetConfig), paper: Huang et al., arXiv 1608.06993
    _int(
        "growth_rate",
        _A,
        32,
        1,
        128,
        "Growth rate k",
        "k, the feature maps each dense layer adds; layer ℓ of a block reads k₀ + k·(ℓ−1) channels",
        unit="channels",
        widget=Widget.SLIDER,
        metavar="K",
    ),
    Setting(
        "block_config",
        _A,
        Kind.INT_LIST,
        (6, 12, 24, 16),
        "Layers in block",
        "layers in each dense block (comma-separated on the command line); a block adds k channels per layer",
        unit="layers",
        low=1,
        high=256,
        count=(1, 16),
        widget=Widget.BLOCKS,
        metavar="N,N,…",
        example="6,12,24,16",
    ),
    _int(
        "num_init_features",
        _A,
        None,
        1,
        4096,
        "Initial features k₀",
        "k₀, the channels out of the stem; auto is 2k, the paper's choice for DenseNet-BC (16 for plain CIFAR DenseNets)",
        unit="channels",
        optional=True,
        widget=Widget.NUMBER,
        step=1,
        metavar="K0",
    ),
    _int(
        "bn_size",
        _A,
        4,
        0,
        16,
        "Bottleneck width bn_size",
        "a 1×1 convolution to bn_size·k channels before each 3×3 one (DenseNet-B; the paper uses 4); 0 = no bottleneck",
        widget=Widget.NUMBER,
        widget_range=(1, 16),
        step=1,
        metavar="N",
    ),
    Setting(
        "compression",
        _A,
        Kind.FLOAT,
        0.5,
        "Compression θ",
        "θ: a transition keeps ⌊θ·m⌋ of its m channels and halves H and W; θ < 1 is DenseNet-C",
        low=0,
        high=1,
        low_open=True,
        symbol="θ",
        widget=Widget.NUMBER,
        widget_range=(0.01, 1.0),
        step=0.05,
        metavar="θ",
    ),
    Setting(
        "drop_rate",
        _A,
        Kind.FLOAT,
        0.0,
        "Drop rate",
        "dropout probability after each dense layer",
        low=0,
        high=1,
        high_open=True,
        symbol="p",
        widget=Widget.NUMBER,
        widget_range=(0.0, 0.95),
        step=0.05,
        metavar="P",
    ),
    _int(
        "num_classes",
        _A,
        1000,
        1,
        100_000,
        "Classes",
        "outputs of the classifier",
        unit="classes",
        widget=Widget.NUMBER,
        step=1,
        metavar="N",
    ),
    Setting(
        "in_channels",
        _A,
        Kind.CHOICE,
        3,
        "Image channels",
        "channels of the input image",
        choices=((3, "RGB"), (1, "grey")),
        spell_out=True,
        widget=Widget.SEGMENTED,
        metavar="3|1",
    ),
    Setting(
        "stem",
        _A,
        Kind.CHOICE,
        Stem.IMAGENET,
        "Stem",
        "the layers before block 1: imagenet is 7×7/2 conv, BN, ReLU, 3×3/2 max pool (÷4); cifar is one 3×3 conv",
        choices=((Stem.IMAGENET, "ImageNet 7×7/2 + pool"), (Stem.CIFAR, "CIFAR 3×3")),
        widget=Widget.SEGMENTED,
        metavar="imagenet|cifar",
    ),
    Setting(
        "memory_efficient",
        _A,
        Kind.BOOL,
        False,
        "Memory-efficient",
        "recompute concatenations in the backward pass instead of storing them (arXiv 1707.06990)",
        widget=Widget.TOGGLE,
    ),
    # --- the input (InputSpec)
    _int(
        "batch",
        _I,
        1,
        1,
        4096,
        "Batch (memory figures)",
        "images per batch, for the activation and memory figures",
        unit="images",
        widget=Widget.NUMBER,
        step=1,
        metavar="N",
    ),
    _int("height", _I, 224, 1, 4096, "Input height", "input height", unit="px", widget=Widget.NUMBER, step=1, flag=""),
    _int("width", _I, 224, 1, 4096, "Input width", "input width", unit="px", widget=Widget.NUMBER, step=1, flag=""),
    Setting(
        "input_size",
        _I,
        Kind.SIZE,
        None,
        "Input size",
        "input size, S or HxW (default 224, or the preset's)",
        metavar="SIZE",
        example="224 or 224x160",
    ),
    # --- the graph (GraphOptions)
    Setting(
        "detail",
        _G,
        Kind.CHOICE,
        Detail.DENSE,
        "Detail",
        "graph detail: every concatenation edge, the running concatenation, or the stages",
        choices=((Detail.DENSE, "every edge"), (Detail.CHAIN, "concat chain"), (Detail.OVERVIEW, "overview")),
        widget=Widget.SEGMENTED,
        metavar="dense|chain|overview",
    ),
    _int(
        "block",
        _G,
        None,
        1,
        16,
        "Block",
        "draw only this dense block; all blocks when not given",
        optional=True,
        widget=Widget.SELECT,
        metavar="N",
        query="focus",
    ),
    Setting(
        "direction",
        _G,
        Kind.CHOICE,
        Direction.TB,
        "Direction",
        "lay the graph out top to bottom or left to right",
        choices=((Direction.TB, "top to bottom"), (Direction.LR, "left to right")),
        spell_out=True,
        widget=Widget.SEGMENTED,
        metavar="TB|LR",
    ),
    Setting(
        "show_cost",
        _G,
        Kind.BOOL,
        False,
        "Parameters and MACs in the labels",
        "write each node's parameters and MACs in its label",
        widget=Widget.TOGGLE,
    ),
    _int(
        "max_full_layers",
        _G,
        12,
        1,
        24,
        "Layers drawn in full",
        "dense detail: a block with more layers shows its first and last few and elides the middle",
        unit="layers",
        widget=Widget.SLIDER,
        metavar="N",
    ),
    # --- a forward pass (RunOptions)
    Setting(
        "device",
        _F,
        Kind.TEXT,
        "auto",
        "Device",
        "where to run: auto (the best there is), cpu, cuda, cuda:N or mps",
        metavar="auto|cpu|cuda|mps",
        query="",
    ),
    Setting(
        "dtype",
        _F,
        Kind.CHOICE,
        Precision.FP32,
        "Precision",
        "fp32, or bf16/fp16 autocast where the device supports it",
        choices=((Precision.FP32, ""), (Precision.BF16, ""), (Precision.FP16, "")),
        widget=Widget.SEGMENTED,
        metavar="fp32|bf16|fp16",
        query="",
    ),
    Setting(
        "channels_last",
        _F,
        Kind.BOOL,
        False,
        "Channels-last",
        "NHWC memory format (faster convolutions on many CPUs and GPUs)",
        widget=Widget.TOGGLE,
        query="",
    ),
    _int(
        "runs", _F, 10, 1, 1000, "Timed runs", "timed passes after warm-up", widget=Widget.NUMBER, metavar="N", query=""
    ),
    _int("warmup", _F, 2, 0, 100, "Warm-up runs", "untimed passes first", widget=Widget.NUMBER, metavar="N", query=""),
    _int(
        "threads",
        _F,
        None,
        1,
        1024,
        "CPU threads",
        "CPU threads (default: all cores on the command line, one in the app)",
        optional=True,
        metavar="N",
        query="",
    ),
    Setting(
        "image",
        _F,
        Kind.TEXT,
        "china",
        "Input image",
        "input: one of scikit-learn's photographs (china, flower), its held-out handwritten digits "
        "(for `densviz reuse` weights), random, or a PNG/JPEG path",
        metavar="china|flower|digits|random|PATH",
        query="",
    ),
    Setting(
        "weights",
        _F,
        Kind.TEXT,
        None,
        "Weights",
        "a torchvision-format .pth or a .safetensors file",
        metavar="PATH",
        query="",
    ),
    # --- training on the digits (TrainOptions)
    _int(
        "epochs",
        _T,
        3,
        1,
        200,
        "Epochs",
        "passes over the 1,437 training digits",
        widget=Widget.NUMBER,
        metavar="N",
        query="",
    ),
    Setting(
        "max_seconds",
        _T,
        Kind.FLOAT,
        None,
        "Time limit",
        "stop training after this many seconds (default: no limit on the command line)",
        unit="s",
        low=0,
        high=3600,
        low_open=True,
        symbol="s",
        optional=True,
        metavar="S",
        query="",
    ),
    _int(
        "seed",
        _T,
        0,
        0,
        2**32 - 1,
        "Seed",
        "weights and batch order; same seed, same network on a CPU",
        metavar="S",
        query="",
    ),
    _int("batch_size", _T, 64, 1, 1437, "Batch size", "digits per step", metavar="N", query=""),
    Setting(
        "lr",
        _T,
        Kind.FLOAT,
        0.1,
        "Learning rate",
        "peak learning rate of SGD with Nesterov momentum",
        low=0,
        high=10,
        low_open=True,
        symbol="lr",
        metavar="LR",
        query="",
    ),
)

SETTINGS: Mapping[str, Setting] = {s.name: s for s in _ROWS}
"""Every setting by name."""


def in_group(*groups: Group) -> tuple[Setting, ...]:
    """The settings of some groups, in table order."""
    return tuple(s for s in _ROWS if s.group in groups)
