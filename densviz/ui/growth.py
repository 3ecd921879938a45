"""The Growth view, the page's first screen: channel growth, spatial size and volume, drawn on the server as SVG.

Why SVG from the server and not plotly here: the first screen is what every
new session waits for, and a plotly chart makes the browser fetch and run
plotly.js (4.5 MiB; evaluating it alone takes 0.75–1.2 s of the page's main
thread), which put the first chart at about 3 s. The SVG is drawn once per
design and input (:func:`charts_html`, cached). The "Interactive chart"
switch brings the plotly charts back (zoom, pan, hover) for whoever asks;
plotly.js is loaded then, not before.

How the SVG gets into the page: a components-v2 component of five lines of
JavaScript sets it as the ``innerHTML`` of its shadow root (the browser's own
parser, a few ms; our styles stay inside). Measured in Chromium, the other
ways were worse: ``st.html``'s sanitiser keeps HTML only and drops the SVG;
``st.markdown(unsafe_allow_html=True)`` parses raw HTML in JavaScript
(rehype-raw: 130–320 ms of the main thread for these 140 KB, the first chart
0.3–0.6 s later); ``st.image`` shows an ``<img>``, whose SVG cannot give a bar
its hover title.

The server does not know the screen's width, so each chart is sent at two
sizes (:data:`densviz.draw.charts.svg_growth.VARIANTS`) and a container query
shows the one that fits the column: the phone's below :data:`NARROW_BELOW_PX`.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from densviz.core.config import DenseNetConfig, InputSpec
from densviz.draw.charts import ChartKind
from densviz.draw.charts.svg_growth import NARROW, growth_charts_html
from densviz.ui import cached
from densviz.ui.session import Network
from densviz.ui.views import PLOTLY_CONFIG

__all__ = ["INTERACTIVE_KEY", "NARROW_BELOW_PX", "charts_html", "growth_view"]

INTERACTIVE_KEY = "growth_interactive"
"""The session key of the "Interactive chart" switch (off: the SVG charts)."""
NARROW_BELOW_PX = 600
"""A column narrower than this shows the phone's drawings: the wide ones' 11-px ticks would be under 8 px."""
_NARROW_MAX_PX = round(NARROW.width * 1.4)  # a tablet's column: the phone's drawing, not blown up past 1.4×


# The drawings live in the component's shadow root: this style reaches nothing else of the page.
_CSS = (
    ".dvz-growth{container-type:inline-size}"
    ".dvz-growth svg{display:block;width:100%;height:auto;margin:0 0 1.5rem}"
    ".dvz-growth .dvz-narrow{display:none}"
    f".dvz-growth .dvz-narrow svg{{max-width:{_NARROW_MAX_PX}px}}"
    f"@container (max-width:{NARROW_BELOW_PX - 0.02}px){{"
    ".dvz-growth .dvz-wide{display:none}.dvz-growth .dvz-narrow{display:block}}"
)
# Puts the drawings in place, by the browser's own HTML parser; again only when they changed (a rerun for
# something else sends the same ones). The hover titles need no script: browsers show an SVG <title>.
_JS = """
export default function({data, parentElement}) {
  const root = parentElement.querySelector('.dvz-growth');
  if (!root || root.dataset.key === data.key) { return; }
  root.innerHTML = data.html;  // our own drawings of our own plan: no text a user typed
  root.dataset.key = data.key;
}
"""
_COMPONENT = st.components.v2.component(
    "densviz_growth_charts", html='<div class="dvz-growth"></div>', css=_CSS, js=_JS
)


def charts_html(cfg: DenseNetConfig, spec: InputSpec) -> str:
    """The view's two charts, each at every size, as HTML (about 140 KB for DenseNet-121).

    Drawn on a worker process and kept per design and input
    (:class:`densviz.ui.cached.DrawService`, 32 drawings): a rerun that
    changes neither costs a dictionary look-up; a new design costs four
    matplotlib drawings (about 0.15 s of CPU) on the worker, while this
    session waits without holding the server's interpreter lock.
    """
    return cached.draw_service().draw(growth_charts_html, cfg, spec)


def growth_view(net: Network) -> None:
    """Channel growth, spatial size and volume (charts 1 and 2): SVG, or plotly's when the switch is on."""
    interactive = st.toggle(
        "Interactive chart",
        key=INTERACTIVE_KEY,
        help="Zoom, pan and hover in plotly. Loads plotly's 4.5 MiB script the first time, so it is off at first.",
    )
    if interactive:
        for kind in (ChartKind.CHANNELS, ChartKind.VOLUME):
            st.plotly_chart(cached.chart_for(net.config, net.input, kind), width="stretch", config=PLOTLY_CONFIG)
    else:
        html = charts_html(net.config, net.input)
        key = hashlib.blake2b(html.encode(), digest_size=12).hexdigest()
        _COMPONENT(key="growth_charts", data={"html": html, "key": key})
