"""ONNX export: the file runs in onnxruntime with PyTorch's numbers, keeps the module names, and is refused when it does not.

The oracle is independent of the export's own check: the file's initializers
are loaded by name into a freshly built PyTorch model (so the names must be
the state dict's keys and the values its weights), and both run on new
random images at a batch the export never saw.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort  # type: ignore[import-untyped]
import pytest
import torch
from onnx import numpy_helper

import densviz.nn.onnx as onnx_export
from densviz.cli import main
from densviz.core.config import PRESETS, ConfigError, DenseNetConfig, InputSpec, Stem
from densviz.nn.model import build_model
from densviz.nn.onnx import MAX_DENSE_LAYERS, OnnxCheckError, check_onnx_bounds, export_onnx

TINY = PRESETS["tiny"]


def onnxruntime_vs_torch(data: bytes, cfg: DenseNetConfig, spec: InputSpec, batch: int) -> float:
    """Max |onnxruntime − PyTorch| with the file's weights loaded by name into a new model."""
    proto = onnx.load_model_from_string(data)
    weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in proto.graph.initializer}
    model = build_model(cfg).eval()
    state = model.state_dict()
    missing = [k for k in state if k not in weights]
    assert all(k.endswith("num_batches_tracked") for k in missing), missing[:5]  # not used in inference
    model.load_state_dict({k: weights.get(k, v) for k, v in state.items()}, strict=True)
    images = torch.randn(batch, cfg.in_channels, spec.height, spec.width, generator=torch.Generator().manual_seed(7))
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"image": images.numpy()})
    with torch.inference_mode():
        want = model(images).numpy()
    assert got.shape == want.shape == (batch, cfg.num_classes)
    return float(np.max(np.abs(got - want)))


@pytest.fixture(scope="module")
def tiny_model() -> onnx_export.OnnxModel:
    return export_onnx(TINY.config, TINY.input)


@pytest.fixture(scope="module")
def densenet121_cli(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """``densviz export --preset densenet121 --formats onnx --out DIR``, once: (folder, stdout, stderr)."""
    import contextlib
    import io

    out_dir = tmp_path_factory.mktemp("onnx121")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main(["export", "--preset", "densenet121", "--formats", "onnx", "--out", str(out_dir)])
    assert status == 0, stderr.getvalue()
    return out_dir, stdout.getvalue(), stderr.getvalue()


def test_tiny_runs_in_onnxruntime_with_pytorchs_numbers(tiny_model: onnx_export.OnnxModel) -> None:
    diff = onnxruntime_vs_torch(tiny_model.data, TINY.config, TINY.input, batch=3)
    print(f"tiny: max |onnxruntime - PyTorch| = {diff:.2e} (export's own check: {tiny_model.max_abs_difference:.2e})")
    assert diff < 1e-4 and tiny_model.max_abs_difference < 1e-4
    assert tiny_model.opset == 18 == onnx.load_model_from_string(tiny_model.data).opset_import[0].version


def test_tiny_keeps_one_node_per_pytorch_operation(tiny_model: onnx_export.OnnxModel) -> None:
    graph = onnx.load_model_from_string(tiny_model.data).graph
    ops = Counter(n.op_type for n in graph.node)
    # tiny: 3 blocks of 2 bottleneck layers (2 BN, 2 ReLU, 2 conv each), 2 transitions (BN, ReLU, conv, pool),
    # a 3×3 stem conv, norm5 and ReLU, then pooling and the classifier. No batch norm folded into a conv.
    assert ops["BatchNormalization"] == 6 * 2 + 2 + 1
    assert ops["Conv"] == 6 * 2 + 2 + 1
    assert ops["Relu"] == 6 * 2 + 2 + 1
    assert ops["AveragePool"] == 2 and ops["Gemm"] == 1
    # a layer ℓ ≥ 2 concatenates its inputs, and each block its output: (2 − 1) + 1 per block
    assert ops["Concat"] == 3 * 2
    names = [n.name for n in graph.node]
    assert len(set(names)) == len(names)
    assert "/features/denseblock2/denselayer2/conv1/Conv" in names
    assert "/features/denseblock2/denselayer2/Concat" in names
    assert "/features/transition1/pool/AveragePool" in names and "/classifier/Gemm" in names
    concat = next(n for n in graph.node if n.name == "/features/denseblock2/denselayer2/Concat")
    assert list(concat.input) == [
        "/features/transition1/pool/AveragePool_output_0",
        "/features/denseblock2/denselayer1/conv2/Conv_output_0",
    ]


def test_the_file_says_what_it_is(tiny_model: onnx_export.OnnxModel) -> None:
    proto = onnx.load_model_from_string(tiny_model.data)
    onnx.checker.check_model(proto, full_check=True)
    (image,) = proto.graph.input
    dims = [d.dim_param or d.dim_value for d in image.type.tensor_type.shape.dim]
    assert image.name == "image" and dims == ["batch", 3, 32, 32]
    assert [o.name for o in proto.graph.output] == ["logits"]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert '"growth_rate": 8' in meta["densviz.config"]
    assert proto.producer_name == "densviz" and "random" in proto.doc_string
    for node in proto.graph.node:
        keys = {p.key for p in node.metadata_props}
        assert "pkg.torch.onnx.stack_trace" not in keys  # it names this machine's files
    assert b"/work/" not in tiny_model.data and str(Path.cwd()).encode() not in tiny_model.data


def test_cli_densenet121_writes_a_file_equal_to_pytorch(densenet121_cli: tuple[Path, str, str]) -> None:
    out_dir, stdout, stderr = densenet121_cli
    path = out_dir / "densenet121.onnx"
    assert stdout.split() == [str(path)]
    printed = re.search(
        r"densenet121\.onnx: onnxruntime vs PyTorch on 2 random images: max \|difference\| of the logits ([\d.e+-]+)",
        stderr,
    )
    assert printed, stderr
    assert float(printed.group(1)) < 1e-4
    data = path.read_bytes()
    cfg, spec = PRESETS["densenet121"].config, PRESETS["densenet121"].input
    diff = onnxruntime_vs_torch(data, cfg, spec, batch=1)
    print(f"DenseNet-121 fp32: max |onnxruntime - PyTorch| = {diff:.2e}; the CLI printed {printed.group(1)}")
    assert diff < 1e-4


def test_densenet121_keeps_module_paths(densenet121_cli: tuple[Path, str, str]) -> None:
    proto = onnx.load(densenet121_cli[0] / "densenet121.onnx", load_external_data=False)
    initializers = {t.name for t in proto.graph.initializer}
    assert "features.denseblock2.denselayer7.conv1.weight" in initializers
    assert "features.denseblock2.denselayer7.norm2.running_var" in initializers
    names = {n.name for n in proto.graph.node}
    for part in (
        "norm1/BatchNormalization",
        "relu1/Relu",
        "conv1/Conv",
        "norm2/BatchNormalization",
        "conv2/Conv",
        "Concat",
    ):
        assert f"/features/denseblock2/denselayer7/{part}" in names
    # layer 7 of block 2 reads the block input and layers 1-6: 128 + 6·32 = 320 channels
    concat = next(n for n in proto.graph.node if n.name == "/features/denseblock2/denselayer7/Concat")
    assert len(concat.input) == 7
    conv1 = next(t for t in proto.graph.initializer if t.name == "features.denseblock2.denselayer7.conv1.weight")
    assert list(conv1.dims) == [128, 320, 1, 1]


def test_a_file_that_fails_the_check_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    """A real export whose classifier bias is then changed: onnxruntime's logits differ, nothing is written."""
    real = onnx_export._export_bytes

    def spoiled(*args: Any, **kwargs: Any) -> tuple[bytes, int]:
        data, nodes = real(*args, **kwargs)
        proto = onnx.load_model_from_string(data)
        bias = next(t for t in proto.graph.initializer if t.name == "classifier.bias")
        bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias) + 0.01, "classifier.bias"))
        return proto.SerializeToString(), nodes

    monkeypatch.setattr(onnx_export, "_export_bytes", spoiled)
    small = DenseNetConfig(growth_rate=4, block_config=(1,), num_init_features=4, num_classes=3, stem=Stem.CIFAR)
    with pytest.raises(
        OnnxCheckError,
        match=r"differ from PyTorch's by up to 1\.00e-02 in onnxruntime, over the limit of 1\.0e-04; the file was not written",
    ):
        export_onnx(small, InputSpec.square(8))
    args = ["export", "--growth-rate", "4", "--block-config", "1", "--num-init-features", "4", "--num-classes", "3"]
    args += ["--stem", "cifar", "--input-size", "8", "--formats", "onnx,csv", "--out", str(tmp_path / "out")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "densviz: error: The exported model's logits differ" in err and "Traceback" not in err
    assert list((tmp_path / "out").iterdir()) == []  # not even the CSV of the same export


def test_bounds_are_sentences_before_any_work(tmp_path: Path, capsys: Any) -> None:
    many = DenseNetConfig(growth_rate=1, block_config=(200, 200), num_init_features=2, stem=Stem.CIFAR)
    with pytest.raises(
        ConfigError, match=rf"ONNX export takes designs of at most {MAX_DENSE_LAYERS} dense layers \(this one has 400\)"
    ):
        check_onnx_bounds(many, InputSpec.square(32))
    with pytest.raises(ConfigError, match="over the memory budget"):
        check_onnx_bounds(PRESETS["densenet121"].config, PRESETS["densenet121"].input, budget_bytes=16 << 20)
    assert (
        main(["export", "--preset", "densenet121", "--formats", "onnx", "--budget", "16MiB", "--out", str(tmp_path)])
        == 2
    )
    assert "memory budget" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("out", ["/dev/null", "/proc/onnx", ""])
def test_a_bad_destination_is_a_sentence(out: str, capsys: Any) -> None:
    assert main(["export", "--preset", "tiny", "--formats", "onnx", "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith("densviz: error: ") and ("--out" in err or out in err) and "Traceback" not in err
    assert err.count("\n") == 1


def test_missing_packages_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_export, "_PACKAGES", ("onnx", "onnx_nowhere_to_be_found"))
    why = onnx_export.onnx_unavailable()
    assert why == (
        "ONNX export needs the onnx_nowhere_to_be_found package(s), which are not installed "
        "(pip install onnx-nowhere-to-be-found)."
    )


@pytest.mark.slow
def test_densenet264_exports_and_passes(tmp_path: Path) -> None:
    cfg, spec = PRESETS["densenet264"].config, PRESETS["densenet264"].input
    model = export_onnx(cfg, spec)
    diff = onnxruntime_vs_torch(model.data, cfg, spec, batch=1)
    print(
        f"DenseNet-264: {model.check_sentence}; independent check {diff:.2e}; {model.seconds:.1f} s, {len(model.data) >> 20} MiB"
    )
    assert diff < 1e-4 and model.max_abs_difference < 1e-4


@pytest.mark.slow
@pytest.mark.parametrize(
    ("cfg", "spec"),
    [
        (  # memory-efficient layers (checkpointing only when training), dropout, odd sizes
            DenseNetConfig(
                growth_rate=4,
                block_config=(2, 3),
                num_init_features=8,
                num_classes=3,
                stem=Stem.CIFAR,
                memory_efficient=True,
                drop_rate=0.2,
            ),
            InputSpec(batch=1, height=17, width=23),
        ),
        (  # no bottleneck, θ = 0.7, one input channel, one class, the ImageNet stem
            DenseNetConfig(
                growth_rate=4,
                block_config=(2, 2),
                num_init_features=8,
                num_classes=1,
                stem=Stem.IMAGENET,
                bn_size=0,
                compression=0.7,
                in_channels=1,
            ),
            InputSpec(batch=4, height=45, width=33),
        ),
    ],
)
def test_unusual_designs_export_and_pass(cfg: DenseNetConfig, spec: InputSpec) -> None:
    model = export_onnx(cfg, spec)
    assert onnxruntime_vs_torch(model.data, cfg, spec, batch=2) < 1e-4
