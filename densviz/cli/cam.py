"""``densviz cam``: where each dense block and transition looks, as overlays and raw maps in a folder.

    densviz cam --preset densenet121 --weights imagenet --image flower --out cam/
    densviz cam --preset tiny ... --image digits --weights out/weights.pth --target 3 --method gradxact --out cam/

The network, image and weights flags are ``densviz run``'s (read by the same
helpers); the maps are :mod:`densviz.run.cam`'s, drawn by :mod:`densviz.draw.cam`.
The folder gets ``cam_row.png`` (the input and every panel side by side,
labelled) and, per module, ``<module>.png`` (its overlay) and ``<module>.npy``
(its raw map at the module's resolution, float32), each written whole.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import sys
import time
from pathlib import Path
from typing import Any

from densviz.cli.flags import add_config_flags, add_setting_flags, budget, read_settings, state
from densviz.cli.output import note, say
from densviz.core.config import ConfigError
from densviz.core.files import prepare_output_dir, write_atomic
from densviz.core.settings import SETTINGS

__all__ = ["CAM_SETTINGS", "METHODS", "command", "register"]

CAM_SETTINGS = (SETTINGS["image"], SETTINGS["weights"], SETTINGS["device"], SETTINGS["threads"])
"""``densviz cam``'s flags shared with ``densviz run``: the input, the weights, where to run, on how many threads."""

METHODS = ("gradcam", "gradxact")
"""``--method``'s values (``densviz.run.cam.CamMethod``'s, spelled here so that ``--help`` imports no torch)."""

ROW_FILE = "cam_row.png"
_INTERRUPTED = 130


def _method(text: str) -> Any:
    """``--method`` as a ``CamMethod``.

    Raises:
        ConfigError: for any other value.
    """
    from densviz.run.cam import CamMethod

    try:
        return CamMethod(text.strip().lower())
    except ValueError:
        allowed = " or ".join(m.value for m in CamMethod)
        raise ConfigError("method", text, allowed, message=f"--method {text!r}: give {allowed}.") from None


def _picture(args: argparse.Namespace, x: Any, in_channels: int) -> Any:
    """The input as the network saw it, for the overlays: a photograph's colours restored, else stretched."""
    from densviz.run.cam import input_picture
    from densviz.run.inputs import IMAGENET_MEAN, IMAGENET_STD

    image = args.image or SETTINGS["image"].default
    if image not in ("digits", "random") and in_channels == 3:  # normalised with ImageNet's mean and std
        return input_picture(x, IMAGENET_MEAN, IMAGENET_STD)
    return input_picture(x)


def _npy_bytes(array: Any) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _title(row: Any, weights_random: bool) -> str:
    """The row's heading: the method, the class explained, the prediction."""
    target = row.target_name or f"class {row.target}"
    if row.explains_prediction:
        said = f"{target} (predicted, {row.predicted_probability:.0%})"
    else:
        said = f"{target} ({row.target_probability:.0%}); predicted {row.predicted_name or f'class {row.predicted}'}"
    return f"{row.method.label} · {said}" + (" · random weights: no learned structure" if weights_random else "")


def _name(index: int, name: str | None) -> str:
    return f"{name} (class {index})" if name else f"class {index}"


def command(args: argparse.Namespace) -> int:
    """Run ``densviz cam``; return its exit status."""
    import torch

    from densviz.cli.run import load_input
    from densviz.draw.cam import cam_row_png, enlarge, overlay, png_bytes
    from densviz.run import RANDOM_WEIGHTS, build_for_run, choose_device
    from densviz.run.cam import cam_row, check_cam_memory, parse_target

    parsed = state(args)
    cfg = parsed.config
    spec = dataclasses.replace(parsed.input, batch=1)  # one image is explained
    method = _method(args.method)
    values = read_settings(args, CAM_SETTINGS[2:])
    if values["threads"] is not None:
        torch.set_num_threads(values["threads"])
    device = choose_device(values["device"])  # an unknown device is refused before any work
    if args.target is not None and args.target.strip().lstrip("-").isdigit():
        parse_target(args.target, cfg.num_classes)  # an index out of range is refused before any work
    out = prepare_output_dir(args.out)
    limit = budget(args)
    check_cam_memory(cfg, spec.hw, limit)
    model, _plan = build_for_run(cfg, spec, limit)
    x, weights, classes = load_input(args, model, cfg, spec, say)
    target = parse_target(args.target, cfg.num_classes, classes)
    say(f"{method.label} at every dense block and transition on {device}")
    try:
        start = time.perf_counter()
        row = cam_row(model, x, method=method, target=target, classes=classes, device=device)
        seconds = time.perf_counter() - start
    except KeyboardInterrupt:
        print("densviz: error: interrupted (Ctrl-C); nothing was written.", file=sys.stderr)
        return _INTERRUPTED
    picture = _picture(args, x, cfg.in_channels)

    files: dict[str, bytes] = {ROW_FILE: cam_row_png(picture, row.panels, title=_title(row, weights == RANDOM_WEIGHTS))}
    for panel in row.panels:
        files[f"{panel.module}.png"] = png_bytes(enlarge(overlay(picture, panel.upsampled)))
        files[f"{panel.module}.npy"] = _npy_bytes(panel.raw)
    for name, data in files.items():
        write_atomic(out / name, data)

    if weights == RANDOM_WEIGHTS:
        note("the weights are random (untrained): the maps show no learned structure; give --weights.")
    print(f"weights     {weights}")
    print(f"predicted   {_name(row.predicted, row.predicted_name)}, {row.predicted_probability:.1%}")
    explained = "the predicted class" if row.explains_prediction else f"{row.target_probability:.1%}"
    print(f"target      {_name(row.target, row.target_name)}, {explained}")
    print(
        f"maps        {row.method.label} at {len(row.panels)} modules, {row.input_hw[0]}×{row.input_hw[1]} input, "
        f"one forward and one backward pass on {device} in {seconds:.2f} s"
    )
    for panel in row.panels:
        if panel.empty:
            note(f"{panel.label}: no position raised the score; its overlay shows no map.")
    for name in files:
        print(Path(out) / name)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cam`` to the command's subparsers."""
    p = sub.add_parser(
        "cam",
        help="where each dense block looks: class activation maps over the input, as PNGs and raw .npy maps",
    )
    add_config_flags(p)
    add_setting_flags(p, CAM_SETTINGS)
    p.add_argument(
        "--target",
        metavar="CLASS",
        help="the class to explain: an index, or a name where the classes are known (default: the predicted class)",
    )
    p.add_argument(
        "--method",
        default=METHODS[0],
        metavar="|".join(METHODS),
        help="gradcam: Grad-CAM (channels weighted by their mean gradient); gradxact: gradient × activation "
        "at each position (default %(default)s)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write into (created if missing)")
    p.set_defaults(run=command)
