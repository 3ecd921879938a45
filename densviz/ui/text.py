"""User text shown as text: a value from a link, a file name or an error is never read as Markdown."""

from __future__ import annotations

import re

__all__ = ["plain"]

# The characters that open Markdown constructs which could link, fetch, hide or restyle:
# links and images ([…](…), ![…](…)), Streamlit's :colour[…] directives, math ($…$), HTML,
# emphasis and code. Backslash-escaping them (CommonMark) shows them as they are.
_MARKUP = re.compile(r"([\\\[\]$<>*`~|])")
# Bare URLs become links (GFM autolinks), :material/name: an icon: break the patterns.
_AUTOLINK = re.compile(r"(?<=[A-Za-z]):(?=//)|(?<=www)\.|(?<![\\\w]):(?=[a-z_-]+/)", re.IGNORECASE)


def plain(text: object) -> str:
    """``text`` escaped so that ``st.markdown``, ``st.error`` and the rest show it exactly as written.

    A link (``[x](http://…)``), an image (``![x](…)``), emphasis, HTML, LaTeX
    (``$…$``), a bare URL or a ``:material/…:`` directive in user text stays
    literal: nothing becomes clickable and nothing is fetched. Other text
    (parentheses, colons, underscores inside words) is left as it is.
    """
    escaped = _MARKUP.sub(r"\\\1", str(text))
    return _AUTOLINK.sub(lambda m: "\\" + m.group(0), escaped)
