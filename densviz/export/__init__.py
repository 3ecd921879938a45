"""Files for download and for the CLI: the graph, the charts, the tables, the config.

* graph: SVG, PNG, PDF (through ``dot``), DOT text, and an HTML page holding the SVG;
* charts: self-contained HTML (plotly.js inside, works offline), and PNG,
  SVG and PDF through kaleido with the system Chromium;
* tables: the plan's layers and blocks as CSV, the whole plan as JSON;
* the config as JSON (it loads back to the same config);
* the model as ONNX (opset 18, module names kept), run in onnxruntime against
  PyTorch before it is written (:mod:`densviz.nn.onnx`);
* TikZ figures for papers: the overview and one dense block (:mod:`densviz.draw.tex`);
* any of these as one zip.

By job: :mod:`~densviz.export.formats` (what ``--formats`` accepts),
:mod:`~densviz.export.tables` (CSV), :mod:`~densviz.export.images` (chart HTML
and kaleido images, with its lock) and :mod:`~densviz.export.files`
(:func:`export`). The public names are re-exported here.
"""

from __future__ import annotations

from densviz.export.files import ExportResult, export
from densviz.export.formats import DEFAULT_FORMATS, ExportFormat, parse_formats
from densviz.export.images import (
    CHART_SCALE,
    CHART_WIDTH,
    ChartImageUnavailableError,
    chart_html,
    chart_image,
    chart_images,
)
from densviz.export.tables import blocks_csv, layers_csv

__all__ = [
    "CHART_SCALE",
    "CHART_WIDTH",
    "DEFAULT_FORMATS",
    "ChartImageUnavailableError",
    "ExportFormat",
    "ExportResult",
    "blocks_csv",
    "chart_html",
    "chart_image",
    "chart_images",
    "export",
    "layers_csv",
    "parse_formats",
]
