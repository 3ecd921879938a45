"""A page that draws only the Export view's model downloads, for tests/browser/test_export_model_download.py.

``streamlit run tests/browser/export_model_app.py`` with ``?preset=NAME``.
"""

import streamlit as st

from densviz.core.config import PRESETS
from densviz.core.plan import make_plan
from densviz.ui.export_model import model_downloads
from densviz.ui.session import Network

preset = PRESETS.get(st.query_params.get("preset", "tiny"), PRESETS["tiny"])
model_downloads(Network(preset.config, preset.input, make_plan(preset.config, preset.input)))
st.button("Rerun")
