"""A page with two uploaders and the upload guard, served by the upload tests (``serve(script=…)``).

"Config" takes JSON up to 64 KiB; "Weights" takes ``.bin`` files up to 8 MiB.
A config that does not start with ``{`` is refused by the page and released
at once. The page writes what the session's uploads hold on the server.
"""

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from densviz.ui import uploads

guard = uploads.install_upload_guard()
config = st.file_uploader("Config", type=["json"], key="cfg", max_upload_size=uploads.limit("cfg", ["json"], 64 << 10))
st.file_uploader("Weights", type=["bin"], key="w", max_upload_size=uploads.limit("w", ["bin"], 8 << 20))
if config is not None and not config.getvalue().startswith(b"{"):
    uploads.release(config)
    st.markdown("refused and released")
held = uploads.held("cfg")
st.markdown(f"config now: {'none' if held is None else held.name}")
ctx = get_script_run_ctx()
st.markdown(f"held: {guard.held_bytes(ctx.session_id) if guard and ctx else 'no guard'}")
