"""One browser session's worth of Streamlit's WebSocket protocol, in asyncio, for the load test (``ws_load.py``).

What a browser does: take the XSRF cookie (``GET /_stcore/health``), open
``/_stcore/stream`` with the subprotocols ``streamlit`` and the token, send
``BackMsg.rerun_script`` (a ``ClientState`` with the query string and the
widgets' values) and read ``ForwardMsg``\\ s up to ``script_finished``. Widget
ids come from the deltas of the runs, found by label (or key) as a user finds a
control; a download button's file is fetched at the address it carries.

The messages of a run, and the widget values a client sends, are
``tests/st_client.py``'s (the tests' synchronous client of the same protocol).
"""

from __future__ import annotations

import asyncio
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for the tests' client
from tests import st_client

FINISHED = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}


@dataclass
class Run(st_client.Run):
    """The messages of one script run, up to its end, and how long it took."""

    elapsed_s: float  # from the BackMsg sent to script_finished
    drawn_s: float  # to the page drawn: the message before the check's mark when the run waited for the check

    def metric(self, label: str) -> str | None:
        return next((e.body for k, e in self.elements() if k == "metric" and e.label == label), None)

    def problems(self) -> list[str]:
        """Exceptions and error boxes the page drew."""
        said = []
        for kind, element in self.elements():
            if kind == "exception":
                said.append(f"exception {element.type}: {element.message[:120]}")
            elif kind == "alert" and element.format == element.ERROR:
                said.append(f"error box: {element.body[:160]}")
        return said


class ProtocolError(Exception):
    """The server did not answer as a browser would expect."""


class Client:
    """One browser session's worth of protocol: a WebSocket, the widget values set so far, the widget ids seen."""

    def __init__(self, base: str, timeout_s: float):
        self.base = base.rstrip("/")
        self.timeout_s = timeout_s
        self.ws: ClientConnection | None = None
        self.xsrf = ""
        self.session_id = ""
        self.values: dict[str, WidgetState] = {}  # what the user set: sent with every rerun, as the browser does
        self.ids: dict[tuple[str, str], Any] = {}  # (kind, label or key) -> the element proto, from the latest runs

    async def open(self) -> None:
        def cookie() -> str:
            with urllib.request.urlopen(f"{self.base}/_stcore/health", timeout=self.timeout_s) as answer:
                for header in answer.headers.get_all("Set-Cookie") or []:
                    name, _, rest = header.partition("=")
                    if name.strip() == "_streamlit_xsrf":
                        return rest.split(";")[0]
            return ""

        self.xsrf = await asyncio.to_thread(cookie)
        self.ws = await connect(
            "ws" + self.base.removeprefix("http") + "/_stcore/stream",
            subprotocols=["streamlit", self.xsrf],  # type: ignore[list-item]
            additional_headers={"Cookie": f"_streamlit_xsrf={self.xsrf}"},
            max_size=None,
            ping_interval=None,  # the server pings; a late pong of a loaded server must not end the session here
            open_timeout=self.timeout_s,
        )

    async def receive(self, timeout_s: float | None = None) -> ForwardMsg:
        assert self.ws is not None
        data = await asyncio.wait_for(self.ws.recv(), timeout_s or self.timeout_s)
        msg = ForwardMsg()
        msg.ParseFromString(data)  # type: ignore[arg-type]
        if msg.WhichOneof("type") == "new_session" and msg.new_session.initialize.session_id:
            self.session_id = msg.new_session.initialize.session_id
        return msg

    async def send(self, back: BackMsg) -> None:
        assert self.ws is not None
        await self.ws.send(back.SerializeToString())

    def _learn(self, run: Run) -> None:
        for kind, element in run.elements():
            element_id = getattr(element, "id", "")
            if not element_id:
                continue
            label = getattr(element, "label", "")
            self.ids[(kind, label)] = element
            self.ids[(kind, element_id.rsplit("-", 1)[-1])] = element  # by its key, where it has one

    async def rerun(
        self, query: str = "", triggers: list[WidgetState] | None = None, until: Callable[[Run], bool] | None = None
    ) -> Run:
        """Ask for a script run with the values set so far (and these triggers); read to its end.

        A run the page ends early to rerun itself is followed to the run after
        it; ``until`` may ask to follow more runs (a training that ends).
        """
        state = ClientState(query_string=query)
        state.widget_states.widgets.extend([*self.values.values(), *(triggers or [])])
        start = time.perf_counter()
        await self.send(BackMsg(rerun_script=state))
        messages: list[ForwardMsg] = []
        arrived: list[float] = []
        while True:
            msg = await self.receive()
            messages.append(msg)
            arrived.append(time.perf_counter() - start)
            if msg.WhichOneof("type") == "script_finished":
                if msg.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    raise ProtocolError("the script did not compile")
                # The page is drawn, then waits for the check against PyTorch of a design it has not
                # checked yet and puts the mark in last: "drawn" is the message before that mark.
                last = len(messages) - 2
                if last >= 1 and _is_check_mark(messages[last]):
                    last -= 1
                    while last >= 1 and _is_block(messages[last]):  # the container the mark is drawn in
                        last -= 1
                run = Run(messages, arrived[-1], arrived[max(last, 0)])
                if msg.script_finished in FINISHED and (until is None or until(run)):
                    self._learn(run)
                    return run

    def set(self, state: WidgetState) -> None:
        self.values[state.id] = state

    def find(self, kind: str, name: str) -> Any:
        try:
            return self.ids[(kind, name)]
        except KeyError:
            raise ProtocolError(f"no {kind} {name!r} on the page") from None

    async def download(self, element: Any) -> bytes:
        """What the download button's click fetches: the file at the address the button carries."""
        url = element.url
        if element.deferred_file_id or not url:  # made on request: Streamlit may drop it before the GET
            raise ProtocolError(
                f"the download {element.label!r} is not a plain file (deferred: {element.deferred_file_id!r})"
            )

        def get() -> bytes:
            with urllib.request.urlopen(f"{self.base}{url}", timeout=self.timeout_s) as response:
                return bytes(response.read())

        return await asyncio.to_thread(get)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


def _is_check_mark(msg: ForwardMsg) -> bool:
    """Whether a message draws the mark of the check against PyTorch (page.py's badge: done, failed or still going)."""
    if msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
        return False
    element = msg.delta.new_element
    kind = element.WhichOneof("type")
    body = getattr(element, kind).body if kind in ("markdown", "alert") else ""
    return "PyTorch model" in body or "the check could not run" in body


def _is_block(msg: ForwardMsg) -> bool:
    return msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") != "new_element"
