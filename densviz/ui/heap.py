"""The server's heap kept out of the garbage collector's way: what ``densviz app`` does once, before any session.

CPython's cycle collector stops every thread while it walks its oldest
generation, and that walk visits every tracked object the process holds.
Under ``benchmarks/ws_load.py`` at 64 sessions the server held about a
million tracked objects (the modules of Streamlit, torch, plotly and
matplotlib, and the design-space sweeps), and each full collection held all
64 sessions for 0.3–0.44 s, every 5–10 s: the tail of the rerun times.

:func:`settle_heap` imports the page's modules before the first session
(which also spares the first visitor the imports) and moves everything then
alive into the collector's permanent generation (:func:`gc.freeze`): objects
that live as long as the process, which no collection has to visit again.
What sessions make later is collected as before. Objects frozen are still
freed by reference counting; only a cycle among them would stay, and the
modules and the page's constants have none that ever become garbage.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Sequence

__all__ = ["PAGE_MODULES", "settle_heap"]

PAGE_MODULES: tuple[str, ...] = (
    "densviz.ui.page",
    # The views the page imports when first shown (torch among them), and what they import when used.
    "densviz.ui.compare",
    "densviz.ui.design_space",
    "densviz.ui.forward",
    "densviz.ui.reuse",
    "densviz.run.cam",
    "densviz.run.fastest",
    "densviz.run.profile",
    "densviz.run.training_step",
    "densviz.reuse.training",
    "densviz.jobs.analysis",
    "densviz.jobs.work",
    "pandas",  # Streamlit's tables
    "pyarrow",
    "plotly.io",  # what st.plotly_chart imports to send a figure
    "plotly.offline",
    "streamlit.components.v2",  # the Growth view's SVG
)
"""What the page imports, at once or when a view is first shown: every module a session can make the server import."""


def _warm_plotly() -> None:
    """Draw each chart once and serialise it.

    Plotly imports a trace's or an axis's classes, and builds its templates, the first time a figure uses them.
    """
    import plotly.io as pio

    from densviz.core.config import PRESETS
    from densviz.core.plan import make_plan
    from densviz.draw.charts import CHARTS

    plan = make_plan(PRESETS["densenet121"].config)
    for chart in CHARTS.values():
        pio.to_json(chart(plan), validate=False)


def _warm_files() -> None:
    """What the Export and Forward pass views import when first shown.

    The search for Chromium (kaleido's modules; no browser is started) and Pillow's image formats.
    """
    from PIL import Image

    from densviz.export.images import images_unavailable

    images_unavailable()
    Image.init()


def settle_heap(modules: Sequence[str] = PAGE_MODULES) -> int:
    """Import ``modules``, collect once, and freeze what is alive; how many objects are frozen now.

    Once per process, before sessions start; calling it again freezes what
    has been made since, so it is not called per rerun.
    """
    for name in modules:
        importlib.import_module(name)
    _warm_plotly()
    _warm_files()
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
