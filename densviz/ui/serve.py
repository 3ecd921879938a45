"""Serve the page from the installed package: what ``densviz app`` runs.

Streamlit's own server, started in this process through ``st.App`` (its
public way to run a script with ASGI middleware), with the settings of
``.streamlit/config.toml`` and ``make run`` given in code, so that they hold
from any working folder, and with :mod:`densviz.ui.server_hooks` around it:
security headers on every response, the upload gate, and Streamlit's own
files gzipped when the page is served to other machines. Streamlit's files
are answered from memory after their first request
(:mod:`densviz.ui.static_memory`), the server's connections send without
Nagle's delay (:mod:`densviz.ui.sockets`), and the page's modules are imported
and settled before the first session (:mod:`densviz.ui.heap`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

__all__ = ["APP_SCRIPT", "DEFAULT_ADDRESS", "DEFAULT_PORT", "STREAMLIT_OPTIONS", "serve", "serves_other_machines"]

APP_SCRIPT: Final = Path(__file__).resolve().parent / "webapp" / "streamlit_app.py"
"""The script Streamlit runs: shipped inside the package."""

DEFAULT_ADDRESS: Final = "127.0.0.1"
"""This machine only: a tool for one person's machine listens on loopback unless asked (``DENSVIZ_ADDRESS``)."""

DEFAULT_PORT: Final = 8501

STREAMLIT_OPTIONS: Final[dict[str, Any]] = {
    "server.headless": True,
    # Serving, not developing: no file watcher, no rerun on save.
    "server.fileWatcherType": "none",
    "server.runOnSave": False,
    # The largest upload is a weights file (DenseNet-264 in float32 is 127 MiB); each
    # uploader's own lower limit is enforced by densviz.ui.uploads.
    "server.maxUploadSize": 256,
    "server.enableXsrfProtection": True,
    "server.enableCORS": True,
    # No full garbage collection after every rerun (a key press's new number waited for it).
    "runner.postScriptGC": False,
    "browser.gatherUsageStats": False,
    "client.toolbarMode": "minimal",
    # Users never see a traceback or an exception's text.
    "client.showErrorDetails": "none",
    "theme.primaryColor": "#4E79A7",
}
"""The settings of ``.streamlit/config.toml`` (a test keeps the two equal), less the address and port."""


@asynccontextmanager
async def _lifespan(_app: Any) -> AsyncIterator[None]:
    """After the runtime starts, before the first request: no Nagle delay, the upload guard and session reaper, the settled heap."""
    from densviz.ui.heap import settle_heap
    from densviz.ui.server_hooks import install_runtime_guards
    from densviz.ui.sockets import no_delay_on_listeners

    no_delay_on_listeners()  # bound already, accepting nothing yet: every connection sends at once
    install_runtime_guards()
    settle_heap()  # the page's imports done now, and kept out of every later full collection
    yield


def _from_environment() -> dict[str, Any]:
    """Streamlit settings given as ``STREAMLIT_*`` variables, read as ``streamlit run`` reads them.

    ``streamlit run`` takes them through its command line (click); ``st.App``
    does not, so they are read here, with click's conversions. They override
    :data:`STREAMLIT_OPTIONS` as they overrode the config file; the address and
    port come from ``densviz app``'s own flags. Secrets (``server.cookieSecret``)
    Streamlit reads from the environment itself.

    Raises:
        ConfigError: for a value the setting cannot take, naming the variable.
    """
    import click
    from streamlit import config

    from densviz.core.errors import ConfigError

    out: dict[str, Any] = {}
    for name, option in config.get_config_options().items():
        raw = os.environ.get(option.env_var)
        if raw is None or option.sensitive:
            continue
        kind = click.types.convert_type(option.type)
        try:
            out[name] = (
                [kind.convert(v, None, None) for v in raw.split()] if option.multiple else kind.convert(raw, None, None)
            )
        except click.BadParameter:
            raise ConfigError(option.env_var, raw, f"of type {kind.name} (it sets Streamlit's {name})") from None
    return out


def serves_other_machines(address: str) -> bool:
    """Whether a server on ``address`` answers other machines (not loopback only): then its files cross a network."""
    if address.lower() == "localhost":
        return False
    try:
        return not ipaddress.ip_address(address).is_loopback
    except ValueError:  # a host name: whatever it names, it is reached from elsewhere
        return True


def serve(
    address: str = DEFAULT_ADDRESS,
    port: int = DEFAULT_PORT,
    script: Path = APP_SCRIPT,
    *,
    compress_static: bool | None = None,
) -> None:
    """Serve the page until interrupted (Ctrl-C or SIGTERM).

    Args:
        address: The address to listen on (checked by the caller).
        port: The port (checked by the caller).
        script: The Streamlit script: the page (tests serve smaller ones with the same hooks).
        compress_static: Send Streamlit's own files gzipped to browsers that take it
            (:class:`~densviz.ui.server_hooks.StaticGzip`). By default only when the server
            answers other machines: a first visit's 3.1 MiB become 1.3 MiB, its first chart
            came 0.46 s sooner on a 20 Mbit/s link and 2.9 s sooner on 5 Mbit/s; on loopback
            there is nothing to gain and it measured 0.06 s later (``benchmarks/bench_browser.py --gzip-ab``).
    """
    if compress_static is None:
        compress_static = serves_other_machines(address)
    # One torch thread per request: a server's cores are shared by its users. Set before
    # torch is imported (the page imports it); a value the user set is kept.
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    import streamlit as st
    from starlette.middleware import Middleware

    from densviz.ui.server_hooks import SecurityHeaders, StaticGzip, UploadGate
    from densviz.ui.static_memory import StaticMemory

    options = {**STREAMLIT_OPTIONS, **_from_environment(), "server.address": address, "server.port": port}
    # Streamlit puts the folder of sys.argv[0] first on sys.path: let it be the script's own.
    sys.argv = [str(script)]
    middleware = [Middleware(SecurityHeaders), Middleware(UploadGate)]  # the first wraps the next
    if compress_static:
        middleware.append(Middleware(StaticGzip))  # it compresses what comes from memory, once per file
    middleware.append(Middleware(StaticMemory))  # innermost: it keeps Streamlit's own responses
    app = st.App(str(script), middleware=middleware, lifespan=_lifespan)
    # SIGTERM (docker stop, a process manager) ends the server as Ctrl-C does. Uvicorn catches both, shuts
    # down, then raises the signal again under the handler it found: by default SIGTERM would then kill the
    # process before exit handlers run, and the worker processes of the checks and drawings would be left.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    # Ctrl-C: uvicorn has shut the server down and asyncio passes the interrupt on; it ends here, not in a traceback.
    with contextlib.suppress(KeyboardInterrupt):
        app.run(config=options)
