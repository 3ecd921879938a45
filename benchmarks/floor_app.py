"""Reference pages for ``bench_browser.py``: what Streamlit itself costs, with nothing of densviz in them.

Served the way ``densviz app`` serves the page (its settings and hooks), so the
only difference from the real page is the page's content:

* ``?chart=none``: a title and one headline number (Streamlit's own floor);
* ``?chart=plotly``: the same and a 121-bar plotly chart (what plotly.js adds);
* ``?chart=vega``: the same bars as Streamlit's built-in Vega-Lite chart;
* ``?chart=svg``: the same and those 121 bars as an SVG image drawn here
  (what a chart drawn on the server would cost in the browser);
* ``?chart=svg-inline``: the same SVG in the page's own HTML, through Markdown
  (no image to fetch; hover titles work; Markdown parses the HTML in JavaScript);
* ``?chart=svg-component``: the same SVG put in by a components-v2 component's
  five lines of JavaScript, as the Growth view does (the browser's own parser).
"""

from __future__ import annotations

import streamlit as st

BARS = 121  # DenseNet-121's rows: the default view's channel-growth chart draws one bar per row

st.set_page_config(page_title="densviz: reference page", layout="wide")
st.title("DenseNet feature-map growth")
st.metric("Parameters", "7.98 M")
chart = st.query_params.get("chart", "none")
values = [64 + 32 * (i % 32) for i in range(BARS)]
if chart == "plotly":
    import plotly.graph_objects as go

    st.plotly_chart(go.Figure(go.Bar(x=list(range(BARS)), y=values)), width="stretch")
elif chart == "vega":
    st.vega_lite_chart(
        {
            "data": {"values": [{"layer": i, "channels": v} for i, v in enumerate(values)]},
            "mark": "bar",
            "encoding": {
                "x": {"field": "layer", "type": "ordinal"},
                "y": {"field": "channels", "type": "quantitative"},
            },
        },
        width="stretch",
    )
elif chart in ("svg", "svg-inline", "svg-component"):
    width, height, top = 1100, 450, max(values)
    bars = "".join(
        f'<rect x="{40 + i * 8.6:.1f}" y="{420 - 380 * v / top:.1f}" width="7.6" height="{380 * v / top:.1f}" fill="#4E79A7"/>'
        for i, v in enumerate(values)
    )
    if chart == "svg":
        st.image(
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}">{bars}</svg>', width="stretch"
        )
    else:
        svg = f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" style="width:100%">{bars}</svg>'
        if chart == "svg-inline":
            st.markdown(f"<div>{svg}</div>", unsafe_allow_html=True)
        else:
            js = "export default function({data, parentElement}) { parentElement.querySelector('div').innerHTML = data; }"
            st.components.v2.component("floor_svg", html="<div></div>", js=js)(data=svg)
