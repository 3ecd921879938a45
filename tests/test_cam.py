"""Class activation maps: a network whose answer is known, DenseNet shapes, the digits network, drawing, ``densviz cam``."""

from __future__ import annotations

import io
import shlex
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor, nn

from densviz.cli import main
from densviz.core.config import PRESETS, ConfigError, DenseNetConfig, InputSpec
from densviz.core.plan import ArchitecturePlan, make_plan
from densviz.draw.cam import cam_row_image, cam_row_png, colorize, enlarge, overlay
from densviz.nn.model import DenseNet, build_model
from densviz.reuse import TrainOptions, digit_batch, run_command, train, training_variant
from densviz.run import DIGIT_CLASSES, save_weights
from densviz.run.cam import (
    CamMethod,
    CamPanel,
    cam_modules,
    cam_row,
    cam_rows,
    check_cam_memory,
    input_picture,
    module_label,
    parse_target,
)

TINY = PRESETS["tiny"].config
H, W = 24, 40  # not square, so that swapped axes show


# --- a network whose answer is known ---------------------------------------------------


class _Gate(nn.Module):
    """Multiplies by a fixed mask: 1 in the top-right quadrant, 0 elsewhere."""

    def forward(self, x: Tensor) -> Tensor:
        mask = torch.zeros_like(x)
        mask[..., : x.shape[-2] // 2, x.shape[-1] // 2 :] = 1.0
        return x * mask


class _QuadrantNet(nn.Module):
    """Class 0's score is the top-right quadrant's brightness, class 1's its negative; the rest is ignored.

    With ``gate_first`` the quadrant is cut before the mapped modules (so their
    activations are zero outside it); otherwise after them (activations
    everywhere, gradient only in the quadrant).
    """

    def __init__(self, gate_first: bool) -> None:
        super().__init__()
        conv = nn.Conv2d(3, 4, kernel_size=1, bias=False)
        nn.init.constant_(conv.weight, 1.0 / 3.0)  # each channel the mean of the colours: positive
        stages: list[tuple[str, nn.Module]] = [("conv", conv), ("act", nn.ReLU()), ("pool", nn.AvgPool2d(2))]
        gate = ("gate", _Gate())
        self.features = nn.Sequential(OrderedDict([gate, *stages] if gate_first else [*stages, gate]))
        self.classifier = nn.Linear(4, 2, bias=False)
        with torch.no_grad():
            self.classifier.weight.copy_(torch.tensor([[1.0] * 4, [-1.0] * 4]))

    def forward(self, x: Tensor) -> Tensor:
        pooled = self.features(x).mean(dim=(2, 3))  # (N, 4)
        out: Tensor = self.classifier(pooled)  # (N, 2)
        return out


def _top_right_share(m: np.ndarray) -> float:
    """The share of a map's positive mass in its top-right quadrant."""
    pos = np.clip(m, 0, None)
    h, w = m.shape
    return float(pos[: h // 2, w // 2 :].sum() / pos.sum())


def _peak(m: np.ndarray) -> tuple[int, int]:
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(m)), m.shape))  # type: ignore[return-value]


@pytest.mark.parametrize("method", list(CamMethod))
def test_maps_peak_in_the_quadrant_the_class_reads(method: CamMethod) -> None:
    torch.manual_seed(0)
    x = torch.rand(1, 3, H, W) + 0.1  # bright everywhere: only the network decides where the class lies
    model = _QuadrantNet(gate_first=True)
    row = cam_row(model, x, method=method, target=0, modules=["features.act", "features.pool"], device="cpu")
    assert row.target == 0 and row.predicted == 0  # the quadrant is bright: class 0 wins
    assert [p.hw for p in row.panels] == [(H, W), (H // 2, W // 2)]
    for panel in row.panels:
        assert _top_right_share(panel.raw) > 0.99, panel.module
        assert _top_right_share(panel.upsampled) > 0.9, panel.module  # bilinear spreads a coarse map's edge a little
        for m in (panel.raw, panel.upsampled):
            r, c = _peak(m)
            assert r < m.shape[0] // 2 and c >= m.shape[1] // 2, panel.module
        assert panel.upsampled.shape == (H, W)
        assert float(panel.upsampled.max()) == pytest.approx(1.0) and float(panel.upsampled.min()) >= 0.0
    # class 1 is the quadrant's negative brightness: nothing in the image raises it
    against = cam_row(model, x, method=method, target=1, modules=["features.act"], device="cpu")
    assert against.panels[0].empty and float(against.panels[0].raw.max()) <= 0.0
    assert against.target_probability < 0.5 and not against.explains_prediction


def test_gradient_x_activation_keeps_where_the_gradient_is_and_grad_cam_does_not() -> None:
    """Activations everywhere, the class reads only the top-right: Grad-CAM averages the gradient over the map."""
    torch.manual_seed(0)
    x = torch.rand(1, 3, H, W) + 0.1
    rows = cam_rows(_QuadrantNet(gate_first=False), x, methods=tuple(CamMethod), modules=["features.act"], device="cpu")
    assert _top_right_share(rows[CamMethod.GRAD_X_ACT].panels[0].raw) > 0.99
    assert _top_right_share(rows[CamMethod.GRADCAM].panels[0].raw) < 0.4  # about a quarter: it follows the activations


def test_one_pass_gives_what_captum_gives_layer_by_layer() -> None:
    """The reference: Captum's own classes on the whole network, one module at a time."""
    from captum.attr import LayerGradCam, LayerGradientXActivation

    torch.manual_seed(1)
    model = build_model(TINY)
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, 32, 32))  # running statistics that are not the identity
    model.eval()
    x = torch.randn(1, 3, 32, 32)
    modules = cam_modules(TINY, final_norm=True)
    rows = cam_rows(model, x, methods=tuple(CamMethod), target=3, modules=modules, device="cpu")
    found = dict(model.named_modules())
    for panel_g, panel_x in zip(rows[CamMethod.GRADCAM].panels, rows[CamMethod.GRAD_X_ACT].panels, strict=True):
        layer = found[panel_g.module]
        ref_g = LayerGradCam(model, layer).attribute(x, target=3, relu_attributions=True)[0, 0].detach()
        ref_x = LayerGradientXActivation(model, layer).attribute(x, target=3)[0].sum(0).detach()
        np.testing.assert_allclose(panel_g.raw, ref_g.numpy(), rtol=1e-5, atol=1e-7 * float(ref_g.abs().max()))
        np.testing.assert_allclose(panel_x.raw, ref_x.numpy(), rtol=1e-5, atol=1e-6 * float(ref_x.abs().max()))
    assert all(p.requires_grad for p in model.parameters())  # the freeze is undone
    assert not model.training


# --- DenseNet shapes -------------------------------------------------------------------


def _planned_hw(plan: ArchitecturePlan) -> dict[str, tuple[int, int]]:
    """Every block's and transition's output H×W, from the plan (no torch)."""
    out = {b.name: b.hw for b in plan.blocks}
    out.update((r.name, r.out_hw) for r in plan.layers if r.name.startswith("features.transition"))
    out[plan.final_norm.name] = plan.final_norm.out_hw
    return out


@pytest.mark.parametrize(
    ("cfg", "hw"),
    [
        (TINY, (32, 32)),
        (TINY, (24, 40)),
        (PRESETS["densenet121"].config, (64, 64)),
        (PRESETS["densenet121"].config, (64, 96)),
    ],
)
def test_densenet_rows_have_the_plans_shapes(cfg: DenseNetConfig, hw: tuple[int, int]) -> None:
    torch.manual_seed(0)
    model = build_model(cfg)
    x = torch.randn(2, cfg.in_channels, *hw)  # a batch: only the first image is explained
    plan = make_plan(cfg, InputSpec(batch=1, height=hw[0], width=hw[1]))
    planned = _planned_hw(plan)
    rows = cam_rows(model, x, methods=tuple(CamMethod), device="cpu")
    expected = ["features.denseblock1", "features.transition1", "features.denseblock2", "features.transition2"]
    expected += ["features.denseblock3"] if len(cfg.block_config) == 3 else ["features.denseblock3", "features.transition3", "features.denseblock4"]  # fmt: skip
    for row in rows.values():
        assert [p.module for p in row.panels] == expected
        assert [p.label for p in row.panels][:3] == ["block 1", "transition 1", "block 2"]
        assert row.input_hw == hw
        for p in row.panels:
            assert p.hw == planned[p.module], p.module
            assert p.raw.dtype == np.float32 and p.upsampled.dtype == np.float32
            assert p.upsampled.shape == hw and 0.0 <= float(p.upsampled.min()) <= float(p.upsampled.max()) <= 1.0
    with torch.no_grad():
        expected_class = int(model(x[:1]).argmax())
    assert rows[CamMethod.GRADCAM].predicted == rows[CamMethod.GRADCAM].target == expected_class


def test_final_norm_can_be_added_and_labels_read_as_words() -> None:
    assert cam_modules(TINY, final_norm=True)[-1] == "features.norm5"
    assert [module_label(m) for m in ("features.denseblock12", "features.transition3", "features.norm5")] == [
        "block 12",
        "transition 3",
        "final norm",
    ]
    assert module_label("features.conv0") == "features.conv0"


def test_bad_requests_are_sentences() -> None:
    model = build_model(TINY)
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(ConfigError, match="has 10"):
        cam_row(model, x, target=10, device="cpu")
    with pytest.raises(ConfigError, match="not a module"):
        cam_row(model, x, modules=["features.denseblock9"], device="cpu")
    with pytest.raises(ConfigError, match="3 class names"):
        cam_row(model, x, classes=("a", "b", "c"), device="cpu")
    with pytest.raises(ConfigError, match="not a densviz DenseNet"):
        cam_row(nn.Sequential(nn.Conv2d(3, 1, 1)), x, device="cpu")
    assert all(p.requires_grad for p in model.parameters())  # restored after a pass that raised


def test_parse_target_takes_an_index_or_a_name() -> None:
    names = ("tench", "goldfish", "crane", "crane")
    assert parse_target(None, 4) is None
    assert parse_target("1", 4) == 1 and parse_target(" GoldFish ", 4, names) == 1
    for bad, words in (("4", "0–3"), ("-1", "0–3"), ("crane", "2, 3"), ("shark", "not a class"), ("fish", "goldfish")):
        with pytest.raises(ConfigError, match=words):
            parse_target(bad, 4, names)
    with pytest.raises(ConfigError, match="no names"):
        parse_target("tench", 4)


def test_memory_guard_uses_the_training_step_estimate() -> None:
    cfg = PRESETS["densenet121"].config
    need = make_plan(cfg, InputSpec(batch=1, height=224, width=224)).memory.training_naive_bytes
    check_cam_memory(cfg, (224, 224), need)  # exactly enough
    with pytest.raises(ConfigError, match="over the memory budget"):
        check_cam_memory(cfg, (224, 224), need - 1)


def test_input_picture_undoes_the_normalisation() -> None:
    mean, std = (0.5, 0.25, 0.0), (0.5, 0.25, 1.0)
    x = torch.zeros(1, 3, 2, 2)
    x[0, :, 0, 0] = torch.tensor([1.0, 2.0, 0.5])  # -> 1.0, 0.75, 0.5 -> 255, 191, 128 (0.75·255 = 191.25)
    pic = input_picture(x, mean, std)
    assert pic.shape == (2, 2, 3) and pic.dtype == np.uint8
    assert pic[0, 0].tolist() == [255, 191, 128] and pic[1, 1].tolist() == [128, 64, 0]
    grey = input_picture(torch.tensor([[[[-1.0, 3.0]]]]))  # min-max: -1 -> 0, 3 -> 255
    assert grey.tolist() == [[[0, 0, 0], [255, 255, 255]]]


# --- the digits network ------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_net() -> DenseNet:
    torch.set_num_threads(1)
    return train(training_variant(TINY), TrainOptions(epochs=2, seed=0, device="cpu")).model


def test_digits_network_names_its_digit_and_maps_every_block(digits_net: DenseNet) -> None:
    x, labels = digit_batch(16, 8, 8)
    with torch.no_grad():
        predicted = digits_net(x).argmax(1).tolist()
    i = next(i for i, (p, y) in enumerate(zip(predicted, labels, strict=True)) if p == y)  # one it gets right
    row = cam_row(digits_net, x[i], classes=DIGIT_CLASSES, device="cpu")
    assert row.predicted == labels[i] and row.predicted_name == str(labels[i]) and row.explains_prediction
    assert [p.hw for p in row.panels] == [(8, 8), (4, 4), (4, 4), (2, 2), (2, 2)]
    assert all(p.upsampled.shape == (8, 8) for p in row.panels)
    other = (labels[i] + 1) % 10
    against = cam_row(digits_net, x[i], target=other, classes=DIGIT_CLASSES, device="cpu")
    assert against.target_name == str(other) and against.target_probability < row.predicted_probability


def test_cli_maps_the_digits_network_from_its_weights_file(
    digits_net: DenseNet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "digits.safetensors"
    weights.write_bytes(save_weights(digits_net))
    # the line `densviz reuse` prints for its weights, with `cam` for `run`
    line = shlex.split(run_command(training_variant(TINY), str(weights)))
    assert line[:2] == ["densviz", "run"]
    code = main(["cam", *line[2:], "--threads", "1", "--method", "gradxact", "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Gradient × activation at 5 modules" in out
    with torch.no_grad():
        first = int(digits_net(digit_batch(1, 8, 8)[0]).argmax())
    assert f"predicted   {first} (class {first})" in out  # the digits are named; the first held-out one is mapped
    assert np.load(tmp_path / "out" / "features.transition2.npy").shape == (2, 2)


# --- drawing ----------------------------------------------------------------------------


def test_colour_map_is_matplotlibs_inferno() -> None:
    import matplotlib

    reference = matplotlib.colormaps["inferno"]
    values = np.linspace(0, 1, 41, dtype=np.float32)
    ours = colorize(values[None, :])[0].astype(int)  # (41, 3)
    theirs = (np.array([reference(float(v))[:3] for v in values]) * 255).round().astype(int)
    assert np.abs(ours - theirs).max() <= 8
    assert colorize(np.array([[-1.0, 2.0, np.nan]])).tolist() == [[[0, 0, 4], [252, 255, 164], [0, 0, 4]]]


def test_overlay_blends_the_map_over_the_picture() -> None:
    picture = np.full((2, 3, 3), 100, dtype=np.uint8)
    heat = np.zeros((2, 3), dtype=np.float32)
    heat[1, 2] = 1.0
    out = overlay(picture, heat, alpha=0.5)
    assert out[0, 0].tolist() == [50, 50, 52]  # half of 100 and half of inferno's (0, 0, 4)
    assert out[1, 2].tolist() == [176, 178, 132]  # half of 100 and half of (252, 255, 164), rounded half to even
    with pytest.raises(ValueError, match="3×3"):
        overlay(np.zeros((3, 3, 3), np.uint8), heat)
    assert enlarge(np.zeros((8, 8, 3), np.uint8)).shape == (224, 224, 3)  # 28 × 8
    assert enlarge(np.zeros((300, 400, 3), np.uint8)).shape == (300, 400, 3)


def test_row_image_has_the_input_and_every_panel() -> None:
    picture = np.zeros((8, 8, 3), np.uint8)
    panels = [
        CamPanel(f"features.m{i}", f"m{i}", np.zeros((2, 2), np.float32), np.eye(8, dtype=np.float32)) for i in range(3)
    ]
    image = cam_row_image(picture, panels, title="Grad-CAM · 7", tile=80)
    assert image.shape[1] == 2 * 12 + 4 * 80 + 3 * 10  # margins, four tiles (the input and three maps), three gaps
    png = cam_row_png(picture, panels, tile=80, show_input=False)
    assert Image.open(io.BytesIO(png)).size[0] == 2 * 12 + 3 * 80 + 2 * 10


# --- densviz cam ----------------------------------------------------------------------------


def test_cli_writes_overlays_and_raw_maps_with_the_plans_shapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cam"
    code = main(["cam", "--preset", "tiny", "--input-size", "32x48", "--image", "random", "--threads", "1",
                 "--target", "3", "--out", str(out)])  # fmt: skip
    stdout, err = capsys.readouterr()
    assert code == 0, err
    plan = make_plan(TINY, InputSpec(batch=1, height=32, width=48))
    planned = _planned_hw(plan)
    modules = cam_modules(TINY)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["cam_row.png", *(f"{m}.png" for m in modules), *(f"{m}.npy" for m in modules)]
    )
    for m in modules:
        raw = np.load(out / f"{m}.npy")
        assert raw.shape == planned[m] and raw.dtype == np.float32, m
        assert Image.open(out / f"{m}.png").size == (48 * 7, 32 * 7)  # enlarged 7× to a shorter side ≥ 224
        assert str(out / f"{m}.npy") in stdout
    assert "target      class 3" in stdout and "random (untrained)" in err


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--target", "10"], "--target 10: this network has 10 classes, so give a class index 0–9"),
        (["--target", "-1"], "--target -1"),
        (["--target", "cat"], "have no names"),
        (["--method", "lrp"], "give gradcam or gradxact"),
        (["--device", "tpu"], "device"),
    ],
)
def test_cli_bad_flags_are_sentences(
    flags: list[str], words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["cam", "--preset", "tiny", "--image", "random", "--out", str(tmp_path / "o"), *flags])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert words in err and "Traceback" not in err + out
    assert not any((tmp_path / "o").glob("*.npy"))


def test_cli_help_lists_the_methods_of_the_engine(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["cam", "--help"])
    text = capsys.readouterr().out
    for method in CamMethod:
        assert method.value in text
