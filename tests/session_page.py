"""A page that holds an upload and a media file per session, for the session reaper's test.

It installs the runtime's guards itself, as the real page does on every run.
"""

import numpy as np
import streamlit as st

from densviz.ui.server_hooks import install_runtime_guards

install_runtime_guards()
st.file_uploader("Weights", type=["bin"], key="w")
noise = np.random.default_rng().integers(0, 256, size=(256, 256, 3), dtype=np.uint8)  # a new media file each run
st.image(noise, output_format="PNG")
