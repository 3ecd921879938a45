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


_S, _A, _I = Group.START, Group.ARCHITECTURE, Group.INPUT
_G, _F, _T = Group.GRAPH, Group.FORWARD, Group.TRAINING

# One row per setting: name, group, kind, default, label, then what differs from the defaults; its meaning below.
# fmt: off
_ROWS: tuple[Setting, ...] = (
    Setting("preset", _S, Kind.TEXT, None, "Preset", metavar="NAME",
            meaning="start from a published architecture and its input size; the other settings override it"),
    # --- the architecture (DenseNetConfig); paper: Huang et al., arXiv 1608.06993
    Setting("growth_rate", _A, Kind.INT, 32, "Growth rate k", unit="channels", low=1, high=128, widget=Widget.SLIDER, metavar="K",
            meaning="k, the feature maps each dense layer adds; layer ℓ of a block reads k₀ + k·(ℓ−1) channels"),
    Setting("block_config", _A, Kind.INT_LIST, (6, 12, 24, 16), "Layers in block", unit="layers", low=1, high=256, count=(1, 16), widget=Widget.BLOCKS, metavar="N,N,…", example="6,12,24,16",
            meaning="layers in each dense block (comma-separated on the command line); a block adds k channels per layer"),
    Setting("num_init_features", _A, Kind.INT, None, "Initial features k₀", unit="channels", low=1, high=4096, optional=True, widget=Widget.NUMBER, step=1, metavar="K0",
            meaning="k₀, the channels out of the stem; auto is 2k, the paper's choice for DenseNet-BC (16 for plain CIFAR DenseNets)"),
    Setting("bn_size", _A, Kind.INT, 4, "Bottleneck width bn_size", low=0, high=16, widget=Widget.NUMBER, widget_range=(1, 16), step=1,
            meaning="a 1×1 convolution to bn_size·k channels before each 3×3 one (DenseNet-B; the paper uses 4); 0 = no bottleneck"),
    Setting("compression", _A, Kind.FLOAT, 0.5, "Compression θ", low=0, high=1, low_open=True, symbol="θ", widget=Widget.NUMBER, widget_range=(0.01, 1.0), step=0.05,
            meaning="θ: a transition keeps ⌊θ·m⌋ of its m channels and halves H and W; θ < 1 is DenseNet-C"),
    Setting("drop_rate", _A, Kind.FLOAT, 0.0, "Drop rate", low=0, high=1, high_open=True, symbol="p", widget=Widget.NUMBER, widget_range=(0.0, 0.95), step=0.05,
            meaning="dropout probability after each dense layer"),
    Setting("num_classes", _A, Kind.INT, 1000, "Classes", unit="classes", low=1, high=100_000, widget=Widget.NUMBER, step=1,
            meaning="outputs of the classifier"),
    Setting("in_channels", _A, Kind.CHOICE, 3, "Image channels", choices=((3, "RGB"), (1, "grey")), spell_out=True,
            meaning="channels of the input image"),
    Setting("stem", _A, Kind.CHOICE, Stem.IMAGENET, "Stem", choices=((Stem.IMAGENET, "ImageNet"), (Stem.CIFAR, "CIFAR")),
            meaning="the layers before block 1: imagenet is 7×7/2 conv, BN, ReLU, 3×3/2 max pool (÷4); cifar is one 3×3 conv"),
    Setting("memory_efficient", _A, Kind.BOOL, False, "Memory-efficient",
            meaning="recompute concatenations in the backward pass instead of storing them (arXiv 1707.06990)"),
    # --- the input (InputSpec)
    Setting("batch", _I, Kind.INT, 1, "Batch (memory figures)", unit="images", low=1, high=4096, widget=Widget.NUMBER, step=1,
            meaning="images per batch, for the activation and memory figures"),
    Setting("height", _I, Kind.INT, 224, "Input height", unit="px", low=1, high=4096, widget=Widget.NUMBER, step=1, flag="",
            meaning="input height"),
    Setting("width", _I, Kind.INT, 224, "Input width", unit="px", low=1, high=4096, widget=Widget.NUMBER, step=1, flag="",
            meaning="input width"),
    Setting("input_size", _I, Kind.SIZE, None, "Input size", metavar="SIZE", example="224 or 224x160",
            meaning="input size, S or HxW (default 224, or the preset's)"),
    # --- the graph (GraphOptions)
    Setting("detail", _G, Kind.CHOICE, Detail.DENSE, "Detail", choices=((Detail.DENSE, "every edge"), (Detail.CHAIN, "running concat"), (Detail.OVERVIEW, "stages")),
            meaning="graph detail: every concatenation edge, the running concatenation, or the stages"),
    Setting("block", _G, Kind.INT, None, "Focus", low=1, high=16, optional=True, widget=Widget.SELECT, query="focus",
            meaning="draw only this dense block; all blocks when not given"),
    Setting("direction", _G, Kind.CHOICE, Direction.TB, "Direction", choices=((Direction.TB, "top to bottom"), (Direction.LR, "left to right")), spell_out=True,
            meaning="lay the graph out top to bottom or left to right"),
    Setting("show_cost", _G, Kind.BOOL, False, "Costs in labels",
            meaning="write each node's parameters and MACs in its label"),
    Setting("max_full_layers", _G, Kind.INT, 12, "Full blocks up to", unit="layers", low=1, high=24, widget=Widget.SLIDER, widget_range=(2, 24),
            meaning="dense detail: a block with more layers shows its first and last few and elides the middle"),
    # --- a forward pass (RunOptions)
    Setting("device", _F, Kind.TEXT, "auto", "Device", metavar="auto|cpu|cuda|mps",
            meaning="where to run: auto (the best there is), cpu, cuda, cuda:N or mps"),
    Setting("dtype", _F, Kind.CHOICE, Precision.FP32, "Precision", choices=((Precision.FP32, ""), (Precision.BF16, ""), (Precision.FP16, "")),
            meaning="fp32, or bf16/fp16 autocast where the device supports it"),
    Setting("channels_last", _F, Kind.BOOL, False, "Channels-last",
            meaning="NHWC memory format (faster convolutions on many CPUs and GPUs)"),
    Setting("compiled", _F, Kind.BOOL, False, "Compiled",
            meaning="torch.compile with Inductor, weights frozen for inference: compiled once per design, weights and settings and kept, its compile time shown apart from the run's"),
    Setting("runs", _F, Kind.INT, 10, "Timed runs", low=1, high=1000, widget=Widget.NUMBER, widget_range=(1, 50), page_default=5,
            meaning="timed passes after warm-up"),
    Setting("run_batch", _F, Kind.INT, 1, "Images per run", low=1, high=64, widget=Widget.NUMBER, flag="",
            meaning="images in each forward pass the page runs (the command line runs --batch)"),
    Setting("warmup", _F, Kind.INT, 2, "Warm-up runs", low=0, high=100, widget=Widget.NUMBER,
            meaning="untimed passes first"),
    Setting("threads", _F, Kind.INT, None, "CPU threads", low=1, high=1024, optional=True,
            meaning="CPU threads (default: all cores on the command line, one in the app)"),
    Setting("image", _F, Kind.TEXT, "china", "Input image", metavar="china|flower|digits|random|PATH",
            meaning="input: one of scikit-learn's photographs (china, flower), its held-out handwritten digits (for `densviz reuse` weights), random, or a PNG/JPEG path"),
    Setting("weights", _F, Kind.TEXT, None, "Weights", metavar="PATH|imagenet",
            meaning="a torchvision-format .pth or a .safetensors file, or imagenet: the published ImageNet weights of DenseNet-121/161/169/201 (torch's hub cache)"),
    # --- training on the digits (TrainOptions)
    Setting("epochs", _T, Kind.INT, 3, "Epochs", low=1, high=200, widget=Widget.NUMBER, widget_range=(1, 50),
            meaning="passes over the 1,437 training digits"),
    Setting("max_seconds", _T, Kind.FLOAT, None, "Time limit (s)", unit="s", low=0, high=3600, low_open=True, symbol="s", optional=True,
            widget=Widget.NUMBER, widget_range=(5, 600), step=5, page_default=60,
            meaning="stop training after this many seconds (default: no limit on the command line)"),
    Setting("seed", _T, Kind.INT, 0, "Seed", low=0, high=4_294_967_295, widget=Widget.NUMBER, widget_range=(0, 2**31 - 1),
            meaning="weights and batch order; same seed, same network on a CPU"),
    Setting("batch_size", _T, Kind.INT, 64, "Batch size", low=1, high=1437,
            meaning="digits per step"),
    Setting("lr", _T, Kind.FLOAT, 0.1, "Learning rate", low=0, high=10, low_open=True, symbol="lr",
            meaning="peak learning rate of SGD with Nesterov momentum"),
)
# fmt: on

SETTINGS: Mapping[str, Setting] = {s.name: s for s in _ROWS}
"""Every setting by name."""


def in_group(*groups: Group) -> tuple[Setting, ...]:
    """The settings of some groups, in table order."""
    return tuple(s for s in _ROWS if s.group in groups)
