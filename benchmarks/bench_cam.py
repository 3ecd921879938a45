"""A CAM row against a plain forward pass: DenseNet-121, 224×224, one image, one thread (as the server runs).

The forward pass is timed as ``densviz.run.timing`` times it (eval mode,
inference mode, the device synchronised before the clock is read); the row is
``densviz.run.cam.cam_row`` with the predicted class at every dense block and
transition (one forward and one backward pass, then Captum's per-module
arithmetic). The two alternate, after warm-up, so that both see the same load;
the medians and their ratio are printed (target: under 3×).

    .venv/bin/python benchmarks/bench_cam.py [--preset densenet121] [--size 224] [--runs 10] [--threads 1] [--device auto] [--both]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from densviz import PRESETS, InputSpec
from densviz.run import build_for_run, choose_device, random_input
from densviz.run.cam import CamMethod, cam_rows
from densviz.run.devices import synchronize

TARGET = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="densenet121")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--both", action="store_true", help="both methods from the one pass")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = PRESETS[args.preset].config
    model, _plan = build_for_run(cfg, InputSpec.square(args.size))
    device = choose_device(args.device)
    model = model.to(device).eval()
    x = random_input(InputSpec.square(args.size), cfg.in_channels).to(device)
    methods = tuple(CamMethod) if args.both else (CamMethod.GRADCAM,)

    def forward() -> None:
        with torch.inference_mode():
            model(x)
        synchronize(device)

    def row() -> None:
        cam_rows(model, x, methods=methods, device=device)
        synchronize(device)

    def timed(fn: object) -> float:
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        return time.perf_counter() - start

    for _ in range(args.warmup):
        forward()
        row()
    plain, cam = [], []
    for _ in range(args.runs):
        plain.append(timed(forward))
        cam.append(timed(row))
    f, c = statistics.median(plain), statistics.median(cam)
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(
        f"{args.preset} {args.size}×{args.size}, batch 1, {torch.get_num_threads()} thread(s) on {device}; "
        f"{args.runs} alternated runs each; load average {load}"
    )
    print(f"forward     median {f * 1e3:.1f} ms (eval, inference mode)")
    print(
        f"CAM row     median {c * 1e3:.1f} ms ({' + '.join(m.label for m in methods)}, {len(cfg.block_config) * 2 - 1} modules)"
    )
    ratio = c / f
    print(f"ratio       {ratio:.2f}× ({'under' if ratio < TARGET else 'OVER'} the {TARGET:g}× target)")


if __name__ == "__main__":
    main()
