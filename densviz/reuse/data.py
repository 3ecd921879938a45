"""The data: scikit-learn's 1,797 handwritten 8×8 digits (shipped with it, no download), split and scaled.

The split is stratified and seeded, so the 360 held-out digits are the same
whatever the training seed; :func:`digits` gives them at any size and channel
count, :func:`digit_batch` gives a batch of them as a trained network sees them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the PyTorch convention)
from torch import Tensor

from densviz.reuse.variant import DIGITS_SIZE

__all__ = ["Digits", "digit_batch", "digits", "training_digits"]

_HELD_OUT = 0.2
_SPLIT_SEED = 0  # the held-out digits are the same whatever the training seed


@dataclass(frozen=True)
class Digits:
    """scikit-learn's handwritten digits, split, scaled and normalised.

    Attributes:
        x_train: (N, C, S, S) float32, normalised with the training set's mean and std.
        y_train: (N,) int64 labels 0–9.
        x_test: The held-out 20% (stratified, always the same 360 digits).
        y_test: Their labels.
        mean: Mean of the training pixels (in [0, 1]) before normalising.
        std: Their standard deviation.
    """

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    mean: float
    std: float


@lru_cache(maxsize=1)
def _raw_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The digits as scikit-learn ships them, scaled to [0, 1] and split: (x_train, x_test, y_train, y_test)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)  # (1797, 8, 8) in [0, 1]
    x_tr, x_te, y_tr, y_te = train_test_split(
        images, data.target, test_size=_HELD_OUT, stratify=data.target, random_state=_SPLIT_SEED
    )
    return x_tr, x_te, y_tr, y_te


def training_digits() -> int:
    """How many digits are trained on (1,437: all but the held-out 20%)."""
    return len(_raw_digits()[0])


def _prepare(images: np.ndarray, hw: tuple[int, int], in_channels: int, mean: float, std: float) -> Tensor:
    """(N, 8, 8) images as a network input: normalised, resized to ``hw``, repeated over ``in_channels``."""
    x = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1)  # (N, 1, 8, 8)
    x = (x - mean) / std
    if hw != (DIGITS_SIZE, DIGITS_SIZE):
        x = F.interpolate(x, size=hw, mode="bilinear", align_corners=False)  # (N, 1, H, W)
    if in_channels != 1:
        x = x.expand(-1, in_channels, -1, -1)
    return x.contiguous()


@lru_cache(maxsize=4)
def digits(size: int = DIGITS_SIZE, in_channels: int = 1) -> Digits:
    """The digits at ``size × size`` (bilinear upsampling), split 80/20 the same way every time."""
    x_tr, x_te, y_tr, y_te = _raw_digits()
    mean, std = float(x_tr.mean()), float(x_tr.std())
    return Digits(
        _prepare(x_tr, (size, size), in_channels, mean, std),
        torch.from_numpy(y_tr).long(),
        _prepare(x_te, (size, size), in_channels, mean, std),
        torch.from_numpy(y_te).long(),
        mean,
        std,
    )


def digit_batch(batch: int, height: int, width: int, in_channels: int = 1) -> tuple[Tensor, list[int]]:
    """The first ``batch`` held-out digits as a network trained by :func:`train` sees them: (N, C, H, W) and labels.

    Scaled like the training data; H×W other than 8×8 by bilinear interpolation.
    """
    _, x_te, _, y_te = _raw_digits()
    picks = [i % len(x_te) for i in range(batch)]
    scale = digits()
    return _prepare(x_te[picks], (height, width), in_channels, scale.mean, scale.std), [int(y_te[i]) for i in picks]
