"""A closed tab's session ends when the reconnect window does, and the server lets go of what it held.

Streamlit keeps a disconnected session for ``server.disconnectedSessionTTL``
seconds (120 by default), so that a tab that lost its connection for a moment
comes back to its state. After that the session should end. In Streamlit 1.67
it does not: it leaves the store (a ``TTLCache``) only when a later disconnect
happens to evict it, and it is never shut down, so its session state stays in
memory until then and its uploaded files and media files (the images
``st.image`` serves) for the life of the server.

:func:`install_session_reaper` wraps the runtime's ``disconnect_session``:
each disconnect schedules, on the server's event loop, a look at that session
just before the reconnect window ends (while Streamlit still has it). One
that has not come back is closed with ``Runtime.close_session``, which shuts
it down as the server does its own: uploads, media references, session
caches, its script thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from streamlit import config
from streamlit.runtime import Runtime

__all__ = ["install_session_reaper", "reap_delay_s"]

_LOCK = threading.Lock()


def reap_delay_s() -> float:
    """Seconds after a disconnect when a session that has not come back is closed: just inside Streamlit's window."""
    ttl = float(config.get_option("server.disconnectedSessionTTL"))
    return max(0.0, ttl - min(5.0, 0.1 * ttl))


def install_session_reaper() -> bool:
    """Close sessions whose tab has gone once the reconnect window ends (once per server; later calls do nothing).

    Returns:
        Whether a Streamlit server runs in this process (an AppTest or a bare
        script has none, and nothing to reap).
    """
    if not Runtime.exists():
        return False
    runtime = Runtime.instance()
    with _LOCK:
        if not getattr(runtime, "_densviz_reaper", False):
            _wrap(runtime, reap_delay_s())
            runtime._densviz_reaper = True  # type: ignore[attr-defined]
    return True


def _wrap(runtime: Runtime, delay_s: float) -> None:
    disconnect = runtime.disconnect_session
    gone_since: dict[str, float] = {}  # session -> when it last disconnected (touched on the event loop only)

    def reap(session_id: str) -> None:
        since = gone_since.get(session_id)
        if since is None or time.monotonic() - since < delay_s - 0.5:
            return  # it came back and left again since: a later call looks at it
        del gone_since[session_id]
        if not runtime.is_active_session(session_id):
            runtime.close_session(session_id)

    def disconnecting(session_id: str, *, client: Any = None) -> None:
        disconnect(session_id, client=client)
        if runtime.is_active_session(session_id):
            return  # only another client of this session left
        try:
            loop = asyncio.get_running_loop()  # Streamlit calls this on its event loop
        except RuntimeError:
            return
        gone_since[session_id] = time.monotonic()
        loop.call_later(delay_s, reap, session_id)

    runtime.disconnect_session = disconnecting  # type: ignore[method-assign]
