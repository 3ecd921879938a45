"""ONNX export of a design, run in onnxruntime against PyTorch before the file is handed over.

Exporter: ``torch.onnx.export(..., dynamo=True)``, the ``torch.export``-based
exporter that PyTorch makes the default since 2.9. The TorchScript exporter
(``dynamo=False``) warns that it "will be removed", names most nodes
``Identity_12``, and in eval mode folds every batch norm into the convolution
before it, so a viewer would no longer show the paper's BN-ReLU-Conv.

Opset 18: the opset the exporter's operator library (torchlib) is written in,
so no version-converter pass runs; onnxruntime has run it since 1.14 (2023),
and every operator DenseNet needs (Conv, BatchNormalization, Relu, Concat,
MaxPool, AveragePool, ReduceMean, Gemm) has been stable since far older opsets.

Graph passes: the exporter's own optimiser is switched off because its default
rules fuse each batch norm into the preceding convolution while keeping the
convolution's initializer name (``conv1.weight`` would then hold other values
than the state dict's). Only constant folding and the removal of the zero bias
the exporter gives bias-free convolutions run, so the file holds one ONNX node
per PyTorch operation: BatchNormalization, Relu, Conv, … as in the paper.

Names, for Netron and for people: every node is named after the module that
made it, as the TorchScript exporter used to name them
(``/features/denseblock2/denselayer7/conv1/Conv``), its output tensor
``…/Conv_output_0``; initializers keep the state-dict keys
(``features.denseblock2.denselayer7.conv1.weight``); the input is ``image``
(batch dynamic, channels and H×W fixed to the design's input), the output
``logits``. The exporter's per-node metadata stays (``namespace``,
``pkg.torch.onnx.name_scopes``, ``pkg.torch.onnx.class_hierarchy``), except the
Python stack traces, which hold this machine's file paths.

The check: the file is loaded in onnxruntime and run on a batch of
:data:`CHECK_BATCH` random images next to the PyTorch model; the largest
absolute difference of the logits is kept with the file, and a difference over
:data:`TOLERANCE` (1e-4, absolute) refuses the file with :class:`OnnxCheckError`.
DenseNet-121 gives about 2e-6 with logits up to about 3, DenseNet-264 2.4e-6:
float32 sums in another order, far inside the limit. The largest logit is
kept too, to show the difference's scale.

Bounds: the memory guard of every build (:func:`densviz.core.plan.checked_plan`,
parameters and activations of the check's batch), ONNX's 2 GiB limit for a
model in one file, and :data:`MAX_DENSE_LAYERS` (the exporter's time grows with
the layers and their concatenations); any failure of the exporter or of
onnxruntime is a sentence.

torch, onnx, onnxscript and onnxruntime are imported inside the functions, so
importing this module (and the export package that names it) stays light.
"""

from __future__ import annotations

import ast
import logging
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from densviz.core.architecture import DenseNetConfig, InputSpec
from densviz.core.errors import ConfigError, SurroundingsError
from densviz.core.memory import DEFAULT_BUDGET_BYTES
from densviz.core.plan import checked_plan
from densviz.core.units import format_bytes

if TYPE_CHECKING:
    from torch import Tensor, nn

__all__ = [
    "CHECK_BATCH",
    "MAX_DENSE_LAYERS",
    "ONNX_OPSET",
    "TOLERANCE",
    "OnnxCheckError",
    "OnnxModel",
    "check_onnx",
    "check_onnx_bounds",
    "export_onnx",
    "onnx_unavailable",
]

ONNX_OPSET = 18
"""The default-domain opset of the file (see the module's docstring for why)."""
TOLERANCE = 1e-4
"""The largest absolute logit difference onnxruntime vs PyTorch accepted."""
CHECK_BATCH = 2
"""Images in the check's batch: more than one, so the dynamic batch dimension is exercised."""
MAX_DENSE_LAYERS = 300
"""Dense layers an export accepts: the exporter takes about a second per dense layer on a busy core
(DenseNet-264's 130 layers: 40 s to 150 s here), so a few minutes at most; 2.3 times DenseNet-264."""
ONNX_FILE_LIMIT_BYTES = 2 << 30
"""Protocol buffers, and so one ONNX file, hold at most 2 GiB."""
_SEED = 0  # the weights when none are given: He-normal as torchvision initialises, from this seed
_PACKAGES = ("onnx", "onnxscript", "onnx_ir", "onnxruntime")
_DROPPED_METADATA = ("pkg.torch.onnx.stack_trace",)  # holds this machine's file paths


class OnnxCheckError(SurroundingsError):
    """The exported file did not run in onnxruntime, or gave other numbers than PyTorch: no file is handed over."""


@dataclass(frozen=True)
class OnnxModel:
    """An exported, checked ONNX model.

    Attributes:
        data: The ``.onnx`` file's bytes.
        max_abs_difference: Largest |onnxruntime − PyTorch| over the check's logits.
        tolerance: The limit it was checked against.
        largest_logit: Largest |logit| PyTorch gave in the check (the scale of the difference).
        opset: The default-domain opset.
        check_batch: Images in the check's batch.
        nodes: Nodes in the graph.
        seconds: Time the export and the check took.
    """

    data: bytes
    max_abs_difference: float
    tolerance: float
    largest_logit: float
    opset: int
    check_batch: int
    nodes: int
    seconds: float

    @property
    def check_sentence(self) -> str:
        """The check, in one sentence: the difference, what it was measured on, the limit."""
        return (
            f"onnxruntime vs PyTorch on {self.check_batch} random images: max |difference| of the logits "
            f"{self.max_abs_difference:.1e} (limit {self.tolerance:.1e}; largest logit {self.largest_logit:.2g})"
        )


def onnx_unavailable() -> str | None:
    """Why ONNX export cannot run here (a package missing), or ``None`` when it can."""
    import importlib.util

    missing = [name for name in _PACKAGES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    pip_names = " ".join(name.replace("_", "-") for name in missing)
    return f"ONNX export needs the {', '.join(missing)} package(s), which are not installed (pip install {pip_names})."


def check_onnx_bounds(cfg: DenseNetConfig, spec: InputSpec, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> InputSpec:
    """Every guard of an ONNX export, before any work; returns the check's input.

    Raises:
        ConfigError: over the memory budget, over ONNX's file limit, or too many layers.
    """
    check_spec = InputSpec(batch=CHECK_BATCH, height=spec.height, width=spec.width)
    plan = checked_plan(cfg, check_spec, budget_bytes)  # parameters + the check's activations
    if plan.totals.param_bytes > ONNX_FILE_LIMIT_BYTES:
        raise ConfigError(
            "memory",
            plan.totals.param_bytes,
            f"at most {format_bytes(ONNX_FILE_LIMIT_BYTES)}",
            message=(
                f"This network's parameters need {format_bytes(plan.totals.param_bytes)}, over the "
                f"{format_bytes(ONNX_FILE_LIMIT_BYTES)} one ONNX file can hold; lower the growth rate or the layers."
            ),
        )
    layers = sum(cfg.block_config)
    if layers > MAX_DENSE_LAYERS:
        raise ConfigError(
            "block_config",
            cfg.block_config,
            f"at most {MAX_DENSE_LAYERS} dense layers in all",
            message=(
                f"ONNX export takes designs of at most {MAX_DENSE_LAYERS} dense layers (this one has {layers}): "
                "the exporter's time grows with every layer and concatenation. Lower the layers per block."
            ),
        )
    return check_spec


def _scope_name(node: Any, modules: set[str]) -> str:
    """``/features/denseblock2/denselayer7/conv1/Conv`` from the exporter's name scopes of a node.

    Args:
        node: An ``onnx_ir`` node.
        modules: The model's module paths: the innermost scope that is one of
            them names the node (the exporter also records hooks of its own).
    """
    scopes_text = node.metadata_props.get("pkg.torch.onnx.name_scopes")
    try:
        scopes = ast.literal_eval(scopes_text) if scopes_text else []  # "['', 'features', 'features.conv0', 'conv2d']"
    except (ValueError, SyntaxError):
        scopes = []
    module = next((s for s in reversed(scopes) if isinstance(s, str) and s in modules), "")
    path = "/" + module.replace(".", "/") if module else ""
    return f"{path}/{node.op_type}"


def _name_nodes(model: Any, modules: set[str]) -> None:
    """Name every node and intermediate tensor after its module; drop the stack traces."""
    graph = model.graph
    keep = {v.name for v in graph.inputs} | {v.name for v in graph.outputs} | set(graph.initializers)
    used: dict[str, int] = {}
    for node in graph:
        base = _scope_name(node, modules)
        count = used.get(base, 0)
        used[base] = count + 1
        node.name = base if count == 0 else f"{base}_{count}"  # ONNX wants unique node names
        for i, value in enumerate(node.outputs):
            if value.name not in keep:
                value.name = f"{node.name}_output_{i}"
        for key in _DROPPED_METADATA:
            node.metadata_props.pop(key, None)


def _describe(model: Any, cfg: DenseNetConfig, spec: InputSpec, seeded: bool) -> None:
    """The model's own properties, as Netron's model sidebar shows them."""
    import json

    model.producer_name = "densviz"
    model.graph.name = "DenseNet"
    weights = (
        f"random (He-normal, seed {_SEED}, as torchvision initialises)" if seeded else "the state dict given at export"
    )
    model.doc_string = (
        f"DenseNet (Huang et al., arXiv 1608.06993), growth rate {cfg.growth_rate}, blocks "
        f"{','.join(str(n) for n in cfg.block_config)}, input {cfg.in_channels}×{spec.height}×{spec.width} "
        f"(batch dynamic), float32. Weights: {weights}. Exported by densviz."
    )
    model.metadata_props["densviz.config"] = json.dumps(cfg.to_dict(), sort_keys=True)
    model.metadata_props["densviz.input"] = json.dumps({"height": spec.height, "width": spec.width})


def _export_bytes(
    model: nn.Module, example: Tensor, cfg: DenseNetConfig, spec: InputSpec, seeded: bool
) -> tuple[bytes, int]:
    """The module as ONNX bytes (see the module's docstring for each step), and its node count."""
    import onnx_ir as ir
    import onnxscript.optimizer
    import torch
    from onnx_ir.passes.common import LiftConstantsToInitializersPass
    from onnxscript import rewriter
    from onnxscript.rewriter.rules.common import (
        materialize_reshape_shape_rule,
        remove_optional_bias_from_conv_rule,
    )

    # Quiet the exporter: one line per torchvision operator it cannot find (none is used here).
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*", category=FutureWarning)
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    program = torch.onnx.export(
        model,
        (example,),
        dynamo=True,
        optimize=False,
        verbose=False,
        opset_version=ONNX_OPSET,
        input_names=["image"],
        output_names=["logits"],
        dynamic_shapes=({0: batch},),
        external_data=False,
    )
    if program is None:  # only the TorchScript exporter returns None
        raise SurroundingsError("The ONNX exporter returned no program.")
    onnx_model = program.model
    onnxscript.optimizer.fold_constants(onnx_model)
    # the zero bias of bias-free convolutions; flatten's shape computed from the batch -> (-1, C)
    onnx_model = rewriter.rewrite(onnx_model, [remove_optional_bias_from_conv_rule, materialize_reshape_shape_rule])
    LiftConstantsToInitializersPass(lift_all_constants=True, size_limit=0)(onnx_model)
    _name_nodes(onnx_model, {name for name, _ in model.named_modules() if name})
    _describe(onnx_model, cfg, spec, seeded)
    data: bytes = ir.to_proto(onnx_model).SerializeToString()
    return data, sum(1 for _ in onnx_model.graph)


def check_onnx(data: bytes, model: nn.Module, images: Tensor) -> tuple[float, float]:
    """Run the ONNX bytes in onnxruntime and the model in PyTorch on ``images``.

    Returns:
        (max |onnxruntime − PyTorch| of the outputs, max |PyTorch output|).

    Raises:
        OnnxCheckError: onnxruntime could not load or run the file.
    """
    import numpy as np
    import onnxruntime as ort  # type: ignore[import-untyped]  # it ships no type stubs
    import torch

    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # the share of the machine torch was given
    options.log_severity_level = 3  # errors only
    try:
        session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
        (got,) = session.run(["logits"], {"image": images.numpy()})  # (N, classes)
    except Exception as err:  # onnxruntime raises its own, undocumented exception types
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise OnnxCheckError(f"onnxruntime could not run the exported model ({first}); no file was written.") from None
    with torch.inference_mode():
        want = model(images).numpy()  # (N, classes)
    if got.shape != want.shape:
        raise OnnxCheckError(
            f"onnxruntime gave logits of shape {got.shape}, PyTorch {want.shape}; no file was written."
        )
    return float(np.max(np.abs(got - want))), float(np.max(np.abs(want)))


def export_onnx(
    cfg: DenseNetConfig,
    spec: InputSpec,
    *,
    state_dict: Mapping[str, Tensor] | None = None,
    budget_bytes: int = DEFAULT_BUDGET_BYTES,
) -> OnnxModel:
    """Export a design to ONNX and check the file in onnxruntime against PyTorch.

    Args:
        cfg: The architecture.
        spec: Its input: the file takes (any batch, ``cfg.in_channels``, ``spec.height``, ``spec.width``).
        state_dict: Weights to export (torchvision's keys); random He-normal
            weights from a fixed seed if ``None``.
        budget_bytes: The memory guard for the model and the check's batch.

    Returns:
        The file's bytes with the check's figures.

    Raises:
        ConfigError: the design is over the memory budget, over ONNX's 2 GiB
            file limit or over :data:`MAX_DENSE_LAYERS`; before any work.
        SurroundingsError: a package is missing, or the exporter failed.
        OnnxCheckError: onnxruntime could not run the file, or its logits
            differ from PyTorch's by more than the tolerance.
    """
    check_spec = check_onnx_bounds(cfg, spec, budget_bytes)
    if why := onnx_unavailable():
        raise SurroundingsError(why)
    import torch

    from densviz.nn.model import build_model, load_torchvision_state_dict

    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):  # the same weights and images every time, the caller's RNG untouched
        torch.manual_seed(_SEED)
        model = build_model(cfg, budget_bytes=budget_bytes).eval()
        images = torch.randn(check_spec.batch, cfg.in_channels, spec.height, spec.width)  # (N, C, H, W)
    if state_dict is not None:
        try:
            load_torchvision_state_dict(model, state_dict)
        except RuntimeError as err:
            raise ConfigError(
                "weights", "state dict", "", message=f"The weights do not fit this design: {err}"
            ) from None
    try:
        data, nodes = _export_bytes(model, images, cfg, spec, seeded=state_dict is None)
    except (MemoryError, SurroundingsError):
        raise
    except Exception as err:  # the exporter's failures come in many types; the user gets one sentence
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise SurroundingsError(f"The ONNX exporter failed on this design ({first}); no file was written.") from None
    diff, largest = check_onnx(data, model, images)
    tolerance = TOLERANCE
    if not diff <= tolerance:  # also refuses NaN
        raise OnnxCheckError(
            f"The exported model's logits differ from PyTorch's by up to {diff:.2e} in onnxruntime, over the "
            f"limit of {tolerance:.1e}; the file was not written."
        )
    return OnnxModel(data, diff, tolerance, largest, ONNX_OPSET, check_spec.batch, nodes, time.perf_counter() - start)
