"""Training-step memory: the peak of one forward and backward step, each measured in a fresh process."""

from __future__ import annotations

import os

import torch
from torch import nn

from densviz.core.config import DenseNetConfig, InputSpec
from densviz.nn.model import build_model
from densviz.run.devices import synchronize
from densviz.run.inputs import random_input
from densviz.run.memory import peak_memory

__all__ = ["training_step_peak"]


def _train_step_peak(cfg: DenseNetConfig, spec: InputSpec, device: str) -> int:
    """One training step's peak memory, in this (child) process."""
    dev = torch.device(device)
    model = build_model(cfg, device=dev).train()
    x = random_input(spec, cfg.in_channels).to(dev).requires_grad_(False)
    target = torch.zeros(spec.batch, dtype=torch.long, device=dev)
    with peak_memory(dev) as mem:
        loss = nn.functional.cross_entropy(model(x), target)
        loss.backward()  # type: ignore[no-untyped-call]
        synchronize(dev)
    return int(mem["peak_bytes"])


def training_step_peak(cfg: DenseNetConfig, spec: InputSpec, device: str = "cpu") -> dict[str, int]:
    """Peak memory of one forward and backward step, naive and memory-efficient.

    Each is measured in a fresh process (so that neither inherits the other's
    allocator state), with the model built inside it. The process serves
    allocations of 64 KiB and more from mmap (``MALLOC_MMAP_THRESHOLD_``), so
    that freed tensors leave its resident memory at once and the sampled RSS
    follows the live tensors: with glibc's default heap, DenseNet-121 at batch
    16 read 2.21 GiB naive and 1.42 GiB memory-efficient, with this 1.97 and 1.05.

    Returns:
        ``{"naive": bytes, "efficient": bytes}`` above the process's level before the step.
    """
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    out = {}
    saved = os.environ.get("MALLOC_MMAP_THRESHOLD_")
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"  # read by the child's C library at start
    try:
        with ctx.Pool(1, maxtasksperchild=1) as pool:
            for label, efficient in (("naive", False), ("efficient", True)):
                out[label] = pool.apply(_train_step_peak, (cfg.replace(memory_efficient=efficient), spec, device))
    finally:
        if saved is None:
            os.environ.pop("MALLOC_MMAP_THRESHOLD_", None)
        else:
            os.environ["MALLOC_MMAP_THRESHOLD_"] = saved
    return out
