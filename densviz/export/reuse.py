"""The files a feature-reuse run leaves: the Figure 5 heat maps (PNG, SVG, HTML), ``training.json`` and the weights.

``densviz reuse`` writes them to a folder; the figure is drawn by
:func:`densviz.draw.charts.figure5.reuse_figure` from the numbers
:func:`densviz.reuse.figure5.reuse_maps` reads off the trained model.
"""

from __future__ import annotations

from densviz.draw.charts.figure5 import reuse_figure
from densviz.export import ChartImageUnavailableError, chart_html, chart_images
from densviz.reuse.figure5 import reuse_maps
from densviz.reuse.report import WEIGHTS_FILE, caption, training_json
from densviz.reuse.training import TrainResult
from densviz.run import DIGIT_CLASSES, save_weights

__all__ = ["reuse_files"]


def reuse_files(result: TrainResult) -> tuple[dict[str, bytes], list[str]]:
    """Everything a run leaves: heat maps (PNG, SVG, HTML), ``training.json`` and the weights.

    Args:
        result: A finished run of :func:`densviz.reuse.training.train`.

    Returns:
        (file name → bytes, notes): a note says what was left out and why (no Chromium: no PNG/SVG).
    """
    maps = reuse_maps(result.model)
    fig = reuse_figure(maps, caption(result))
    files: dict[str, bytes] = {}
    notes: list[str] = []
    try:
        png, svg = chart_images([(fig, "png"), (fig, "svg")])
        files["reuse.png"], files["reuse.svg"] = png, svg
    except ChartImageUnavailableError as err:
        notes.append(str(err))
    files["reuse.html"] = chart_html(fig).encode()
    files["training.json"] = training_json(result, maps).encode()
    files[WEIGHTS_FILE] = save_weights(result.model, classes=DIGIT_CLASSES)
    return files, notes
