"""How fast the Feature reuse view trains: samples per second and the time to 90% held-out accuracy.

For each network it trains the variant the app trains (``training_variant``:
8×8 grey digits, CIFAR stem, k lowered only if one image would cost more than
20 M MACs) on scikit-learn's digits, on the CPU with one thread as the server
does, and prints:

- training samples/s, and the ratio to its reference: a third of the same
  network's forward-only images/s at the same batch, measured side by side in
  this process (a training step costs about three forward passes, so 1.0 means
  the backward pass and the optimiser cost no more than the arithmetic says);
- the seconds until an epoch's held-out accuracy first reaches 90%, and the
  ratio to the target of one minute ("a user trains a DenseNet in the browser
  within a minute").

    .venv/bin/python benchmarks/bench_train.py [--epochs N] [--presets tiny,densenet40_k12,...]
"""

from __future__ import annotations

import argparse
import time

import torch

from densviz import PRESETS
from densviz.reuse import TrainOptions, digits, train, training_variant

TARGET_S = 60.0


def forward_images_per_s(model: torch.nn.Module, x: torch.Tensor, repeats: int = 5) -> float:
    model.eval()
    with torch.no_grad():
        model(x)
        start = time.perf_counter()
        for _ in range(repeats):
            model(x)
    return repeats * len(x) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--presets", default="tiny,densenet40_k12,densenet_bc100_k12,densenet121")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"scikit-learn digits, 1,437 training / 360 held-out, batch 64, 1 thread, torch {torch.__version__}")
    header = (
        f"{'preset':<20} {'trained as':<34} {'MMAC/img':>8} {'samples/s':>10} {'fwd/3':>8} {'ratio':>6} "
        f"{'90% after':>10} {'÷ 60 s':>7} {'final acc':>9}"
    )
    print(header)
    print("-" * len(header))
    for name in args.presets.split(","):
        variant = training_variant(PRESETS[name].config)
        cfg = variant.config
        result = train(variant, TrainOptions(epochs=args.epochs, seed=0, device="cpu"))
        x = digits(variant.size).x_train[:64]
        reference = forward_images_per_s(result.model, x) / 3
        t90 = result.time_to(0.9)
        shape = f"k={cfg.growth_rate} blocks={','.join(map(str, cfg.block_config))} {variant.size}×{variant.size}"
        print(
            f"{name:<20} {shape:<34} {variant.macs / 1e6:>8.1f} {result.samples_per_s:>10.0f} {reference:>8.0f} "
            f"{result.samples_per_s / reference:>6.2f} "
            + (f"{t90:>9.1f}s {t90 / TARGET_S:>7.2f}" if t90 is not None else f"{'not yet':>10} {'-':>7}")
            + f" {result.test_accuracy:>9.1%}",
            flush=True,
        )


if __name__ == "__main__":
    main()
