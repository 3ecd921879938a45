"""A small client of Streamlit's own protocol (its protobuf messages over the WebSocket), for server tests.

It does what the browser does, without a browser: take the XSRF cookie, open
``/_stcore/stream``, ask for a script run (with widget values), ask for upload
addresses, and PUT or DELETE files there, as Streamlit's frontend does
(multipart form, ``X-Xsrftoken`` header).
"""

from __future__ import annotations

import http.client
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.Common_pb2 import FileURLs, FileURLsRequest, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.sync.client import connect


@dataclass
class Run:
    """What one script run sent: its messages, the texts it wrote, and the uploaders' widget ids by label."""

    messages: list[ForwardMsg]

    def elements(self) -> list[tuple[str, Any]]:
        """(kind, proto) of each element drawn, in the order drawn."""
        out: list[tuple[str, Any]] = []
        for msg in self.messages:
            if msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                kind = element.WhichOneof("type")
                if kind is not None:
                    out.append((kind, getattr(element, kind)))
        return out

    def texts(self) -> list[str]:
        """Markdown bodies and titles of the elements drawn."""
        return [element.body for kind, element in self.elements() if kind in ("markdown", "heading")]

    def finished_cleanly(self) -> bool:
        """The run ended on its own and drew no exception."""
        kinds = [kind for kind, _ in self.elements()]
        last = self.messages[-1]
        return "exception" not in kinds and last.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY

    def uploaders(self) -> dict[str, str]:
        """Widget id of each file uploader, by its label."""
        return {element.label: element.id for kind, element in self.elements() if kind == "file_uploader"}


class Session:
    """One browser session's worth of protocol against a running server."""

    def __init__(self, base_url: str, timeout_s: float = 60.0, resume: str | None = None):
        """Connect as a new tab, or (``resume``: a session id) as that tab coming back."""
        self.base = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.http = requests.Session()
        assert self.http.get(f"{self.base}/_stcore/health", timeout=10).text == "ok"
        self.xsrf = self.http.cookies.get("_streamlit_xsrf") or ""
        ws_url = "ws" + self.base.removeprefix("http") + "/_stcore/stream"
        self.ws = connect(
            ws_url,
            subprotocols=["streamlit", self.xsrf, *([resume] if resume else [])],  # type: ignore[list-item]
            additional_headers={"Cookie": f"_streamlit_xsrf={self.xsrf}"},
            max_size=None,
            open_timeout=timeout_s,
            legacy=True,  # a connection held open across calls, closed by close()
        )
        self.session_id = resume or ""

    def _receive(self) -> ForwardMsg:
        msg = ForwardMsg()
        msg.ParseFromString(self.ws.recv(timeout=self.timeout_s))  # type: ignore[arg-type]
        if msg.WhichOneof("type") == "new_session" and msg.new_session.initialize.session_id:
            self.session_id = msg.new_session.initialize.session_id
        return msg

    def _send(self, back: BackMsg) -> None:
        self.ws.send(back.SerializeToString())

    def rerun(self, query: str = "", widgets: list[WidgetState] | None = None) -> Run:
        """Run the script (with these widget values) and return what it sent, up to its end."""
        state = ClientState(query_string=query)
        state.widget_states.widgets.extend(widgets or [])
        self._send(BackMsg(rerun_script=state))
        messages = []
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            msg = self._receive()
            messages.append(msg)
            if msg.WhichOneof("type") == "script_finished":
                return Run(messages)
        raise TimeoutError("the script run did not finish")

    def file_urls(self, names: list[str]) -> list[FileURLs]:
        """Ask the server for upload addresses, as the uploader does before a PUT."""
        request_id = uuid.uuid4().hex
        self._send(BackMsg(file_urls_request=FileURLsRequest(request_id=request_id, file_names=names)))
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            msg = self._receive()
            if msg.WhichOneof("type") == "file_urls_response" and msg.file_urls_response.response_id == request_id:
                return list(msg.file_urls_response.file_urls)
        raise TimeoutError("no upload addresses came")

    def put(self, path: str, name: str, data: bytes) -> requests.Response:
        """Upload a file to an address (a path such as ``/_stcore/upload_file/<session>/<file id>``)."""
        return self.http.put(
            f"{self.base}{path}",
            files={"file": (name, data, "application/octet-stream")},
            headers={"X-Xsrftoken": self.xsrf},
            timeout=self.timeout_s,
        )

    def delete(self, path: str) -> int:
        """Remove an uploaded file, as the uploader's remove button does."""
        return self.http.delete(
            f"{self.base}{path}", headers={"X-Xsrftoken": self.xsrf}, timeout=self.timeout_s
        ).status_code

    def put_declared(self, path: str, name: str, size: int, send_bytes: int) -> tuple[int, str, int]:
        """Announce a ``size``-byte multipart upload but send at most ``send_bytes`` of it before reading the answer.

        A server that refuses from the headers answers at once; one that reads
        the body answers after it. Returns (status, body, bytes sent).
        """
        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        total = len(head) + size + len(tail)
        parts = urlsplit(self.base)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=self.timeout_s)
        conn.putrequest("PUT", path)
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Content-Length", str(total))
        conn.putheader("X-Xsrftoken", self.xsrf)
        conn.putheader("Cookie", f"_streamlit_xsrf={self.xsrf}")
        conn.endheaders()
        sent = 0
        chunk = b"\0" * (1 << 20)
        try:
            conn.send(head)
            while sent < min(size, send_bytes):
                piece = chunk[: min(len(chunk), size - sent, send_bytes - sent)]
                conn.send(piece)
                sent += len(piece)
            if sent == size:
                conn.send(tail)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed without reading the rest
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
        conn.close()
        return response.status, body, sent

    def close(self) -> None:
        """Close the WebSocket (the server ends the session) and the HTTP session."""
        self.ws.close()
        self.http.close()


def uploaded(widget_id: str, urls: FileURLs, name: str, size: int) -> WidgetState:
    """The uploader's value after a file went to ``urls``: what the browser sends with the next run."""
    state = WidgetState(id=widget_id)
    state.file_uploader_state_value.uploaded_file_info.append(
        UploadedFileInfo(file_id=urls.file_id, name=name, size=size, file_urls=urls)
    )
    return state


# What the browser sends for a widget: one builder a kind, for every client of the protocol.


def slider(element_id: str, value: float) -> WidgetState:
    """A slider's value."""
    state = WidgetState(id=element_id)
    state.double_array_value.data.append(value)
    return state


def choice(element_id: str, option: str) -> WidgetState:
    """A single choice's value (a segmented control's, a radio's), the option as it reads."""
    state = WidgetState(id=element_id)
    state.string_array_value.data.append(option)
    return state


def choice_many(element_id: str, options: list[str]) -> WidgetState:
    """A multi-select's value (the pills' options as they read)."""
    state = WidgetState(id=element_id)
    state.string_array_value.data.extend(options)
    return state


def trigger(element_id: str) -> WidgetState:
    """A button's press: sent with the one run it starts, never kept."""
    return WidgetState(id=element_id, trigger_value=True)
