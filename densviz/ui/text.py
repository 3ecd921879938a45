"""User text shown as text: a value from a link, a file name or an error is never read as Markdown."""

from __future__ import annotations

import re

__all__ = ["plain"]

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping all of
# them also defeats Streamlit's own :directives: and bare-URL autolinks (http\:\/\/…).
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def plain(text: object) -> str:
    """``text`` escaped so that ``st.markdown``, ``st.error`` and the rest show it exactly as written.

    A link (``[x](http://…)``), an image (``![x](…)``), emphasis, HTML, LaTeX
    (``$…$``), a bare URL or a ``:material/…:`` directive in user text stays
    literal: nothing becomes clickable and nothing is fetched.
    """
    return _PUNCTUATION.sub(r"\\\1", str(text))
