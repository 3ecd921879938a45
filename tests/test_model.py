"""The real PyTorch model: torchvision's layout, a forward pass, the memory-efficient path."""

import re

import pytest
import torch

from densviz import build_model
from densviz.core.config import PRESETS, ConfigError, DenseNetConfig, Stem
from densviz.nn.model import load_torchvision_state_dict, remap_legacy_keys

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def torchvision_keys(block_config: tuple[int, ...]) -> set[str]:
    """The state-dict keys of torchvision's DenseNet, from its naming rules."""
    keys = {"features.conv0.weight", "classifier.weight", "classifier.bias"}
    keys |= {f"features.norm0.{p}" for p in BN} | {f"features.norm5.{p}" for p in BN}
    for b, layers in enumerate(block_config, start=1):
        for i in range(1, layers + 1):
            prefix = f"features.denseblock{b}.denselayer{i}"
            keys |= {f"{prefix}.norm1.{p}" for p in BN} | {f"{prefix}.norm2.{p}" for p in BN}
            keys |= {f"{prefix}.conv1.weight", f"{prefix}.conv2.weight"}
        if b < len(block_config):
            keys |= {f"features.transition{b}.norm.{p}" for p in BN} | {f"features.transition{b}.conv.weight"}
    return keys


def test_densenet121_state_dict_is_torchvisions() -> None:
    model = build_model(PRESETS["densenet121"].config, device="meta")
    state = model.state_dict()
    assert set(state) == torchvision_keys((6, 12, 24, 16))
    assert len(state) == 727
    assert state["features.conv0.weight"].shape == (64, 3, 7, 7)
    # layer 24 of block 3 reads 256 + 23·32 = 992 channels, bottleneck 4·32 = 128
    assert state["features.denseblock3.denselayer24.conv1.weight"].shape == (128, 992, 1, 1)
    assert state["features.denseblock3.denselayer24.conv2.weight"].shape == (32, 128, 3, 3)
    assert state["features.transition3.conv.weight"].shape == (512, 1024, 1, 1)
    assert state["classifier.weight"].shape == (1000, 1024)


def test_legacy_key_spelling_loads_strictly() -> None:
    cfg = PRESETS["tiny"].config
    source = build_model(cfg)
    renamed = {
        re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", k): v for k, v in source.state_dict().items()
    }
    assert "features.denseblock1.denselayer1.norm.1.weight" in renamed
    assert set(remap_legacy_keys(renamed)) == set(source.state_dict())
    # Checkpoints of that age also predate BatchNorm's num_batches_tracked.
    legacy = {k: v for k, v in renamed.items() if not k.endswith("num_batches_tracked")}
    for state in (renamed, legacy):
        target = build_model(cfg)
        load_torchvision_state_dict(target, state)
        for key, value in source.state_dict().items():
            if not key.endswith("num_batches_tracked"):
                assert torch.equal(target.state_dict()[key], value), key


def test_wrong_architecture_does_not_load() -> None:
    small = build_model(PRESETS["tiny"].config)
    other = build_model(PRESETS["tiny"].config.replace(growth_rate=4))
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_torchvision_state_dict(other, small.state_dict())


def test_forward_pass_on_real_tensors() -> None:
    torch.manual_seed(0)
    cfg = PRESETS["tiny"].config
    model = build_model(cfg).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


def test_plain_layer_and_grey_input() -> None:
    cfg = DenseNetConfig(
        growth_rate=4,
        block_config=(2, 2),
        num_init_features=8,
        bn_size=0,
        compression=1.0,
        in_channels=1,
        num_classes=3,
        stem=Stem.CIFAR,
    )
    model = build_model(cfg)
    layer = model.features.denseblock1.denselayer2
    assert layer.conv1.kernel_size == (3, 3) and layer.conv1.in_channels == 12
    assert layer.conv2 is None and layer.norm2 is None
    assert model.features.transition1.conv.out_channels == 16  # θ = 1 keeps 8 + 2·4
    assert model(torch.randn(1, 1, 8, 8)).shape == (1, 3)


def test_initialisation_is_torchvisions() -> None:
    model = build_model(PRESETS["tiny"].config)
    bn = model.features.denseblock1.denselayer1.norm1
    assert torch.equal(bn.weight, torch.ones_like(bn.weight)) and torch.equal(bn.bias, torch.zeros_like(bn.bias))
    assert torch.equal(model.classifier.bias, torch.zeros(10))
    conv = model.features.denseblock1.denselayer1.conv2.weight  # He normal: std = sqrt(2 / fan_in)
    fan_in = conv.shape[1] * 9
    assert 0.5 < conv.std().item() / (2 / fan_in) ** 0.5 < 1.5


def test_memory_efficient_gives_the_same_output_and_gradients() -> None:
    torch.manual_seed(0)
    cfg = PRESETS["tiny"].config
    naive = build_model(cfg).train()
    efficient = build_model(cfg.replace(memory_efficient=True)).train()
    efficient.load_state_dict(naive.state_dict())
    x = torch.randn(4, 3, 32, 32)
    out_naive = naive(x)
    out_efficient = efficient(x)
    torch.testing.assert_close(out_efficient, out_naive)
    out_naive.square().mean().backward()
    out_efficient.square().mean().backward()
    for (name, p), q in zip(naive.named_parameters(), efficient.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, msg=name)


def test_build_refuses_parameters_over_budget_before_allocating() -> None:
    cfg = PRESETS["densenet121"].config
    with pytest.raises(ConfigError, match=r"parameters alone need 30\.4 MiB, over the memory budget of 1\.00 MiB"):
        build_model(cfg, budget_bytes=1 << 20)
    assert build_model(cfg, device="meta", budget_bytes=1 << 20) is not None  # meta allocates nothing
