"""What a training run is reported as: ``training.json``, a one-line caption, the ``densviz run`` line.

The files themselves (heat maps as PNG, SVG and HTML, the JSON and the weights)
are assembled by :func:`densviz.export.reuse.reuse_files`, which draws the
figure this package does not.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from densviz.core.config import to_query
from densviz.reuse.figure5 import ReuseMap, readings
from densviz.reuse.training import TrainResult
from densviz.reuse.variant import TrainVariant

__all__ = ["WEIGHTS_FILE", "caption", "run_command", "training_json"]

WEIGHTS_FILE = "densenet-digits.safetensors"


def run_command(variant: TrainVariant, weights_path: str) -> str:
    """The ``densviz run`` line that loads the trained weights and classifies held-out digits."""
    skip = {"batch", "height", "width", "drop_rate", "memory_efficient"}
    flags = [
        f"--{key.replace('_', '-')} {value}"
        for key, value in to_query(variant.config, variant.input).items()
        if key not in skip
    ]
    return f"densviz run {' '.join(flags)} --input-size {variant.size} --image digits --weights {weights_path}"


def training_json(result: TrainResult, maps: Sequence[ReuseMap]) -> str:
    """``training.json``: the run (:meth:`TrainResult.to_dict`), its heat-map numbers and the readings."""
    data = result.to_dict()
    data["heat_maps"] = [m.to_dict() for m in maps]
    data["readings"] = [r.__dict__ for r in readings(maps)]
    return json.dumps(data, indent=2) + "\n"


def caption(result: TrainResult) -> str:
    """One line: what was trained, how long, how well."""
    cfg = result.variant.config
    blocks = ",".join(map(str, cfg.block_config))
    return (
        f"k={cfg.growth_rate}, blocks {blocks}, θ={cfg.compression:g}, "
        f"{'bottleneck' if cfg.bottleneck else 'no bottleneck'}, {result.variant.size}×{result.variant.size} digits · "
        f"{len(result.log.epochs)} epoch(s), {result.seconds:.1f} s on {result.device} · "
        f"held-out accuracy {result.test_accuracy:.1%}"
    )
