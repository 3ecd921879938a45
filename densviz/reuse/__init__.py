"""Feature reuse in a trained DenseNet: train on scikit-learn's digits, compute the paper's Figure 5.

Huang et al. (arXiv 1608.06993, Sec. 5 "Feature Reuse") train a DenseNet and,
for every convolutional layer ℓ of a block and every earlier source s, take the
mean absolute weight of ℓ's convolution over the input channels that came from
s. This package trains the network on the 1,797 8×8 handwritten digits
scikit-learn ships (no download) and computes those numbers:

- :mod:`~densviz.reuse.variant`: what is trained (:func:`training_variant`, the MACs budget); no torch.
- :mod:`~densviz.reuse.data`: the digits, split, scaled and resized (:func:`digits`, :func:`digit_batch`).
- :mod:`~densviz.reuse.training`: :class:`TrainOptions`, the live :class:`TrainLog`, :func:`train`.
- :mod:`~densviz.reuse.figure5`: the heat maps' numbers (:func:`reuse_maps`) and the paper's :func:`readings`.
- :mod:`~densviz.reuse.report`: ``training.json``, the caption and the ``densviz run`` line.

The figure itself is drawn by :mod:`densviz.draw.charts.figure5` and the files
a run leaves are assembled by :mod:`densviz.export.reuse` (this package draws
nothing and imports no plotly).
"""

from __future__ import annotations

from densviz.reuse.data import Digits, digit_batch, digits
from densviz.reuse.figure5 import Reading, ReuseMap, mean_abs_by_source, readings, reuse_maps, source_slices
from densviz.reuse.report import WEIGHTS_FILE, caption, run_command, training_json
from densviz.reuse.training import TrainLog, TrainOptions, TrainResult, train
from densviz.reuse.variant import DIGITS_SIZE, TRAIN_MACS_BUDGET, TrainVariant, check_training_memory, training_variant

__all__ = [
    "DIGITS_SIZE",
    "TRAIN_MACS_BUDGET",
    "WEIGHTS_FILE",
    "Digits",
    "Reading",
    "ReuseMap",
    "TrainLog",
    "TrainOptions",
    "TrainResult",
    "TrainVariant",
    "caption",
    "check_training_memory",
    "digit_batch",
    "digits",
    "mean_abs_by_source",
    "readings",
    "reuse_maps",
    "run_command",
    "source_slices",
    "train",
    "training_json",
    "training_variant",
]
