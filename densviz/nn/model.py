"""The real PyTorch DenseNet, laid out exactly as torchvision lays it out.

Module names and state-dict keys are torchvision's (``features.conv0``,
``features.denseblock1.denselayer1.norm1``, ``features.transition1.conv``,
``features.norm5``, ``classifier``), so a checkpoint saved by torchvision loads
with ``strict=True``. Beyond torchvision, :class:`DenseNet` takes any number of
blocks, a compression θ other than 0.5, no bottleneck (the plain DenseNet layer)
and the CIFAR stem of the paper.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping

import torch
import torch.nn.functional as F  # noqa: N812 (the PyTorch convention)
import torch.utils.checkpoint as cp
from torch import Tensor, nn

from densviz.core.config import ConfigError, DenseNetConfig, InputSpec, Stem, min_input_size, transition_channels
from densviz.core.memory import DEFAULT_BUDGET_BYTES
from densviz.core.plan import make_plan
from densviz.core.units import format_bytes

__all__ = [
    "DenseBlock",
    "DenseLayer",
    "DenseNet",
    "Transition",
    "build_model",
    "load_torchvision_state_dict",
    "remap_legacy_keys",
]


class DenseLayer(nn.Module):
    """One dense layer H_ℓ: reads the concatenation of all earlier maps, adds k.

    With a bottleneck (DenseNet-B): BN-ReLU-Conv1×1(bn_size·k)-BN-ReLU-Conv3×3(k).
    Without (``bn_size=0``, the plain DenseNet): BN-ReLU-Conv3×3(k).

    Args:
        in_channels: k₀ + k·(ℓ−1), the channels of the concatenated input.
        growth_rate: k.
        bn_size: Bottleneck width factor, 0 for none.
        drop_rate: Dropout after the layer's last convolution.
        memory_efficient: Recompute the concatenation and first BN in backward
            instead of storing them (arXiv 1707.06990).
    """

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int, drop_rate: float, memory_efficient: bool):
        super().__init__()
        first_out = bn_size * growth_rate if bn_size > 0 else growth_rate
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        if bn_size > 0:
            self.conv1 = nn.Conv2d(in_channels, first_out, kernel_size=1, stride=1, bias=False)
            self.norm2: nn.Module | None = nn.BatchNorm2d(first_out)
            self.relu2: nn.Module | None = nn.ReLU(inplace=True)
            self.conv2: nn.Module | None = nn.Conv2d(
                first_out, growth_rate, kernel_size=3, stride=1, padding=1, bias=False
            )
        else:
            self.conv1 = nn.Conv2d(in_channels, first_out, kernel_size=3, stride=1, padding=1, bias=False)
            self.norm2 = self.relu2 = self.conv2 = None
        self.drop_rate = float(drop_rate)
        self.memory_efficient = memory_efficient

    def _concat_norm_conv(self, *inputs: Tensor) -> Tensor:
        concatenated = torch.cat(inputs, 1)  # (N, k₀ + k·(ℓ−1), H, W)
        out: Tensor = self.conv1(self.relu1(self.norm1(concatenated)))  # (N, bn_size·k or k, H, W)
        return out

    def forward(self, inputs: list[Tensor]) -> Tensor:
        """Return the layer's k new feature maps, (N, k, H, W)."""
        if self.memory_efficient and torch.is_grad_enabled() and any(t.requires_grad for t in inputs):
            out: Tensor = cp.checkpoint(self._concat_norm_conv, *inputs, use_reentrant=False)
        else:
            out = self._concat_norm_conv(*inputs)
        if self.conv2 is not None:
            assert self.norm2 is not None and self.relu2 is not None
            out = self.conv2(self.relu2(self.norm2(out)))  # (N, k, H, W)
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return out


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers; layer ℓ reads block input and layers 1..ℓ−1.

    Its output is the concatenation of the block input and every layer's maps:
    k₀ + k·L channels.
    """

    def __init__(
        self,
        num_layers: int,
        in_channels: int,
        growth_rate: int,
        bn_size: int,
        drop_rate: float,
        memory_efficient: bool,
    ):
        super().__init__()
        for i in range(num_layers):
            layer = DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size, drop_rate, memory_efficient)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, x: Tensor) -> Tensor:
        """(N, k₀, H, W) -> (N, k₀ + k·L, H, W)."""
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    """BN-ReLU-Conv1×1 to floor(θ·m) channels, then 2×2 average pooling (halves H×W)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """Densely Connected Convolutional Network (Huang et al., arXiv 1608.06993).

    x_ℓ = H_ℓ([x₀, x₁, …, x_{ℓ−1}]): each layer reads the concatenation of every
    earlier layer's output in its block. Memory-efficient training follows
    Pleiss et al., arXiv 1707.06990.

    Args:
        cfg: The architecture.
    """

    def __init__(self, cfg: DenseNetConfig):
        super().__init__()
        self.config = cfg
        k0 = cfg.init_features
        if cfg.stem is Stem.IMAGENET:
            stem: list[tuple[str, nn.Module]] = [
                ("conv0", nn.Conv2d(cfg.in_channels, k0, kernel_size=7, stride=2, padding=3, bias=False)),
                ("norm0", nn.BatchNorm2d(k0)),
                ("relu0", nn.ReLU(inplace=True)),
                ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
            ]
        else:
            stem = [("conv0", nn.Conv2d(cfg.in_channels, k0, kernel_size=3, stride=1, padding=1, bias=False))]
        self.features = nn.Sequential(OrderedDict(stem))

        channels = k0
        for b, num_layers in enumerate(cfg.block_config, start=1):
            block = DenseBlock(num_layers, channels, cfg.growth_rate, cfg.bn_size, cfg.drop_rate, cfg.memory_efficient)
            self.features.add_module(f"denseblock{b}", block)
            channels += num_layers * cfg.growth_rate
            if b < len(cfg.block_config):
                out = transition_channels(channels, cfg.compression)
                self.features.add_module(f"transition{b}", Transition(channels, out))
                channels = out
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.classifier = nn.Linear(channels, cfg.num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise as torchvision does: He-normal convolutions, BN (1, 0), zero linear bias."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_channels, H, W) -> logits (N, num_classes)."""
        features = self.features(x)  # (N, C, h, w)
        out = F.relu(features, inplace=True)
        out = F.adaptive_avg_pool2d(out, (1, 1))  # (N, C, 1, 1)
        out = torch.flatten(out, 1)  # (N, C)
        logits: Tensor = self.classifier(out)  # (N, num_classes)
        return logits


def build_model(
    cfg: DenseNetConfig,
    *,
    device: str | torch.device = "cpu",
    budget_bytes: int | None = DEFAULT_BUDGET_BYTES,
) -> DenseNet:
    """Build the real model for a configuration.

    Args:
        cfg: The architecture.
        device: Where to allocate it; ``"meta"`` allocates nothing (shapes only).
        budget_bytes: Refuse, before allocating, a model whose parameters alone
            exceed this many bytes; ``None`` to skip. Not applied on ``meta``.

    Raises:
        ConfigError: if the parameters exceed the budget.
    """
    device = torch.device(device)
    if budget_bytes is not None and device.type != "meta":
        plan = make_plan(cfg, InputSpec.square(min_input_size(cfg)))  # parameters do not depend on H×W
        if plan.totals.param_bytes > budget_bytes:
            raise ConfigError(
                "memory",
                plan.totals.param_bytes,
                f"at most {format_bytes(budget_bytes)}",
                message=f"this network's parameters alone need {format_bytes(plan.totals.param_bytes)}, over the memory budget of {format_bytes(budget_bytes)}.",
            )
    with device:
        return DenseNet(cfg)


# Older torchvision checkpoints spell 'norm.1' where the modules are now 'norm1'
# (and, older than PyTorch 0.4, have no num_batches_tracked: BatchNorm fills it in).
_LEGACY_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12]\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)


def remap_legacy_keys(state_dict: Mapping[str, Tensor]) -> OrderedDict[str, Tensor]:
    """Rename old torchvision keys (``denselayer1.norm.1.weight`` -> ``denselayer1.norm1.weight``)."""
    out: OrderedDict[str, Tensor] = OrderedDict()
    for key, value in state_dict.items():
        match = _LEGACY_KEY.match(key)
        out[match.group(1) + match.group(2) if match else key] = value
    return out


def load_torchvision_state_dict(model: nn.Module, state_dict: Mapping[str, Tensor]) -> None:
    """Load a torchvision-format state dict strictly, legacy key names included.

    Raises:
        RuntimeError: from ``load_state_dict`` when keys or shapes do not fit.
    """
    model.load_state_dict(remap_legacy_keys(state_dict), strict=True)
