"""Run the network for real: devices, inputs, a timed forward pass, feature maps, weights.

Everything is decided at run time: CUDA, Apple MPS or the CPU, whichever is
there. The modules:

- ``devices``: Precision, DeviceInfo, available_devices, choose_device,
  supported_precisions, cpu_bf16_native, precision_note, and the autocast,
  synchronize and precision-check helpers.
- ``inputs``: ImageError, sample_images, load_image (safe decoding),
  preprocess, random_input, the image size and shape limits.
- ``memory``: forward_peak_memory (one pass, by the device allocator's own
  accounting), and peak memory while a block runs (CUDA's allocator, or sampled RSS).
- ``peak``: DevicePeak, KernelRate, device_peak (the best of a large GEMM
  and a channels-last 3×3 convolution, measured once per device, precision
  and thread count), observe_rate (a faster run raises it).
- ``timing``: RunOptions, ShapeCheck, RunResult, run_forward, build_for_run.
- ``compiled``: ``torch.compile`` with Inductor for inference, one compiled
  model per design, weights and settings kept in the process; CompileError.
- ``fastest``: find_fastest, FastestOptions, FastestResult: the candidate
  settings of this device measured side by side.
- ``profile``: profile_forward, ProfileOptions, ProfileResult: time per plan
  row; ``bandwidth``: the device's memory bandwidth and each row's bytes moved.
- ``limit``, ``probe``: a run's time limit, from passes measured on the device.
- ``features``: FeatureMaps, capture_feature_maps, feature_grid.
- ``weights``: WeightsError, LoadReport, load_weights, save_weights, the
  weights size and archive limits, RANDOM_WEIGHTS, DIGIT_CLASSES.
- ``training_step``: training_step_peak (each step in a fresh, watched
  process, after the step's estimate is checked against the budget), its time limit.
- ``cam``: class activation maps (Grad-CAM, gradient × activation; Captum,
  imported on first use) at every dense block and transition from one
  forward and one backward pass: CamMethod, CamPanel, CamRow, cam_rows,
  cam_row, cam_modules, module_label, parse_target, check_cam_memory,
  input_picture. Drawn by ``densviz.draw.cam``.
"""

from __future__ import annotations

from densviz.run.cam import (
    CamMethod,
    CamPanel,
    CamRow,
    cam_modules,
    cam_row,
    cam_rows,
    check_cam_memory,
    input_picture,
    module_label,
    parse_target,
)
from densviz.run.compiled import CompileError
from densviz.run.devices import (
    DeviceInfo,
    Precision,
    available_devices,
    choose_device,
    cpu_bf16_native,
    precision_note,
    supported_precisions,
)
from densviz.run.fastest import FastestOptions, FastestResult, find_fastest
from densviz.run.features import FeatureMaps, capture_feature_maps, feature_grid
from densviz.run.inputs import (
    MAX_IMAGE_ASPECT,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    ImageError,
    load_image,
    preprocess,
    random_input,
    sample_images,
)
from densviz.run.memory import forward_peak_memory
from densviz.run.peak import DevicePeak, KernelRate, device_peak, observe_rate
from densviz.run.timing import RunOptions, RunResult, RunStoppedError, ShapeCheck, build_for_run, run_forward
from densviz.run.training_step import STEP_TIMEOUT_S, training_step_peak
from densviz.run.weights import (
    DIGIT_CLASSES,
    MAX_ARCHIVE_MEMBERS,
    MAX_COMPRESSION_RATIO,
    MAX_WEIGHTS_BYTES,
    RANDOM_WEIGHTS,
    LoadReport,
    WeightsError,
    load_weights,
    save_weights,
)

__all__ = [
    "DIGIT_CLASSES",
    "MAX_ARCHIVE_MEMBERS",
    "MAX_COMPRESSION_RATIO",
    "MAX_IMAGE_ASPECT",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_WEIGHTS_BYTES",
    "RANDOM_WEIGHTS",
    "STEP_TIMEOUT_S",
    "CamMethod",
    "CamPanel",
    "CamRow",
    "CompileError",
    "DeviceInfo",
    "DevicePeak",
    "FastestOptions",
    "FastestResult",
    "FeatureMaps",
    "ImageError",
    "KernelRate",
    "LoadReport",
    "Precision",
    "RunOptions",
    "RunResult",
    "RunStoppedError",
    "ShapeCheck",
    "WeightsError",
    "available_devices",
    "build_for_run",
    "cam_modules",
    "cam_row",
    "cam_rows",
    "capture_feature_maps",
    "check_cam_memory",
    "choose_device",
    "cpu_bf16_native",
    "device_peak",
    "feature_grid",
    "find_fastest",
    "forward_peak_memory",
    "input_picture",
    "load_image",
    "load_weights",
    "module_label",
    "observe_rate",
    "parse_target",
    "precision_note",
    "preprocess",
    "random_input",
    "run_forward",
    "sample_images",
    "save_weights",
    "supported_precisions",
    "training_step_peak",
]
