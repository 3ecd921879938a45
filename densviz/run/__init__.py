"""Run the network for real: devices, inputs, a timed forward pass, feature maps, weights.

Everything is decided at run time: CUDA, Apple MPS or the CPU, whichever is
there. The modules:

- ``devices``: Precision, DeviceInfo, available_devices, choose_device,
  supported_precisions, cpu_bf16_native, precision_note, and the autocast,
  synchronize and precision-check helpers.
- ``inputs``: ImageError, sample_images, load_image (safe decoding),
  preprocess, random_input, the image size limits.
- ``memory``: peak memory while a block runs (CUDA's allocator, or sampled RSS).
- ``timing``: RunOptions, ShapeCheck, RunResult, matmul_peak_gflops,
  run_forward, build_for_run.
- ``features``: FeatureMaps, capture_feature_maps, feature_grid.
- ``weights``: WeightsError, LoadReport, load_weights, save_weights, the
  weights size limit.
- ``training_step``: training_step_peak (each step in a fresh process).
"""

from __future__ import annotations

from densviz.run.devices import (
    DeviceInfo,
    Precision,
    available_devices,
    choose_device,
    cpu_bf16_native,
    precision_note,
    supported_precisions,
)
from densviz.run.features import FeatureMaps, capture_feature_maps, feature_grid
from densviz.run.inputs import (
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    ImageError,
    load_image,
    preprocess,
    random_input,
    sample_images,
)
from densviz.run.timing import RunOptions, RunResult, ShapeCheck, build_for_run, matmul_peak_gflops, run_forward
from densviz.run.training_step import training_step_peak
from densviz.run.weights import MAX_WEIGHTS_BYTES, LoadReport, WeightsError, load_weights, save_weights

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_WEIGHTS_BYTES",
    "DeviceInfo",
    "FeatureMaps",
    "ImageError",
    "LoadReport",
    "Precision",
    "RunOptions",
    "RunResult",
    "ShapeCheck",
    "WeightsError",
    "available_devices",
    "build_for_run",
    "capture_feature_maps",
    "choose_device",
    "cpu_bf16_native",
    "feature_grid",
    "load_image",
    "load_weights",
    "matmul_peak_gflops",
    "precision_note",
    "preprocess",
    "random_input",
    "run_forward",
    "sample_images",
    "save_weights",
    "supported_precisions",
    "training_step_peak",
]
