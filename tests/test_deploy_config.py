"""deploy/: the nginx configuration run by Debian's nginx in front of two stand-in replicas, and the compose file.

The stand-ins are small HTTP servers that answer with their own name and the
headers they received (and tunnel a WebSocket upgrade), so that the proxy's
routing is seen directly and fast: a browser's first answer sets the affinity
cookie, every later request with it (page, static files, uploads, media, the
WebSocket) reaches one replica, new browsers spread over both, a stopped
replica's browsers are served by the other without an error, the upload
limit is the app's, the security headers are sent once. The real app behind
the same proxy, with Chromium, is tests/test_deploy_proxy.py (slow).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import socket
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.browser.server import free_port
from tests.nginx_proxy import DEPLOY, NGINX, ROOT, Proxy, nginx_conf, proxy

CONF = (DEPLOY / "nginx.conf").read_text()
COOKIE = "densviz_affinity"
needs_nginx = pytest.mark.skipif(
    not Path(NGINX).exists(), reason="Debian's nginx is not installed (make setup installs it as root)"
)


def directives(text: str) -> list[tuple[str, list[str], list[str]]]:
    """Every ``name args;`` of an nginx file, with the blocks it sits in (comments dropped; quotes kept whole)."""
    tokens = re.findall(r'"[^"]*"|\'[^\']*\'|[{};]|[^\s{};"\']+', re.sub(r"#[^\n]*", "", text))
    out: list[tuple[str, list[str], list[str]]] = []
    stack: list[str] = []
    words: list[str] = []
    for token in tokens:
        if token == "{":
            stack.append(" ".join(words))
            words = []
        elif token == "}":
            stack.pop()
        elif token == ";":
            out.append((words[0], words[1:], list(stack)))
            words = []
        else:
            words.append(token.strip("\"'"))
    assert not stack, "unbalanced braces"
    return out


def find(name: str, inside: str | None = None) -> list[list[str]]:
    """The arguments of each ``name`` directive (in a block whose header is ``inside``, if given)."""
    return [args for n, args, blocks in directives(CONF) if n == name and (inside is None or inside in blocks)]


# ---- the configuration as written -------------------------------------------------------


def test_upload_limit_is_the_apps():
    mib = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    assert find("client_max_body_size") == [[f"{mib}m"]]  # both count MiB of the whole request body


def test_websocket_route_upgrades_and_lives_long():
    assert ["Upgrade", "$http_upgrade"] in find("proxy_set_header")
    assert ["Connection", "$connection_upgrade"] in find("proxy_set_header")
    assert find("proxy_http_version") == [["1.1"]]
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    for name in ("proxy_read_timeout", "proxy_send_timeout"):
        (value,) = find(name, "location /_stcore/stream")
        assert int(value[0][:-1]) * seconds[value[0][-1]] >= 3600, f"{name} {value[0]}: a quiet tab would be cut"
    # A location with its own proxy_set_header would drop the server's (nginx does not merge them).
    assert all(blocks[-1].startswith("server") for n, _, blocks in directives(CONF) if n == "proxy_set_header")


def test_affinity_and_passive_health():
    assert find("hash", "upstream densviz") == [["$densviz_affinity", "consistent"]]
    (server,) = find("server", "upstream densviz")
    params = dict(p.split("=") for p in server[1:])
    assert int(params["max_fails"]) >= 1 and params["fail_timeout"].endswith("s")
    assert all(args == ["http://densviz"] for args in find("proxy_pass"))


def test_security_headers_are_set_for_every_answer():
    added = {args[0]: args[1:] for args in find("add_header")}
    assert added["X-Frame-Options"] == ["SAMEORIGIN", "always"]
    assert added["X-Content-Type-Options"] == ["nosniff", "always"]
    assert added["Referrer-Policy"] == ["same-origin", "always"]
    # add_header in a location would silently drop the server's.
    assert all(blocks[-1].startswith("server") for n, _, blocks in directives(CONF) if n == "add_header")


def test_render_changes_only_the_places(tmp_path):
    text = nginx_conf().render(CONF, ["127.0.0.1:1111", "127.0.0.1:2222"], "127.0.0.1:3333", tmp_path)
    removed = set(CONF.splitlines()) - set(text.splitlines())
    assert {line.strip() for line in removed} == {
        "server app:8501 max_fails=3 fail_timeout=10s;",
        "listen 8080;",
        "error_log /var/log/nginx/error.log warn;",
        "access_log /var/log/nginx/access.log densviz;",
    }
    assert "server 127.0.0.1:2222 max_fails=3 fail_timeout=10s;" in text
    assert "listen 127.0.0.1:3333;" in text
    assert f"access_log {tmp_path.resolve() / 'access.log'} densviz;" in text


@pytest.mark.parametrize(
    ("replicas", "listen", "said"),
    [
        ([], "8080", "at least one replica"),
        (["app"], "8080", "'app' is not HOST:PORT"),
        (["127.0.0.1:70000"], "8080", "port from 1 to 65535"),
        (["127.0.0.1:8501"], "0", "listen port 0 is not from 1 to 65535"),
    ],
)
def test_render_refuses_bad_addresses(tmp_path, replicas, listen, said):
    with pytest.raises(ValueError, match=re.escape(said)):
        nginx_conf().render(CONF, replicas, listen, tmp_path)


def test_render_refuses_a_file_without_the_lines_it_replaces(tmp_path):
    with pytest.raises(ValueError, match="one listen line; found 0"):
        nginx_conf().render(CONF.replace("listen 8080;", ""), ["127.0.0.1:1"], "8080", tmp_path)


@needs_nginx
def test_nginx_accepts_the_rendered_file(tmp_path):
    import subprocess

    tmp_path.chmod(0o755)
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_conf().render(CONF, ["127.0.0.1:1111"], "127.0.0.1:3333", tmp_path))
    done = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(conf), "-g", f"pid {tmp_path / 'nginx.pid'};"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "warn" not in done.stderr.replace("error_log", ""), done.stderr  # no directive nginx merely tolerates


# ---- the compose file ------------------------------------------------------------------


def test_compose_runs_replicas_of_the_repos_image_behind_the_proxy():
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"app", "proxy"}
    app, proxy_service = services["app"], services["proxy"]

    context = (DEPLOY / app["build"]["context"]).resolve()
    dockerfile = context / app["build"].get("dockerfile", "Dockerfile")
    assert dockerfile == ROOT / "Dockerfile"
    exposed = re.findall(r"^EXPOSE\s+(\d+)", dockerfile.read_text(), re.MULTILINE)
    assert re.search(r"^HEALTHCHECK ", dockerfile.read_text(), re.MULTILINE), "depends_on waits for healthy replicas"
    assert app["deploy"]["replicas"] >= 2
    assert "ports" not in app, "replicas are reached through the proxy only"
    # The upstream names the service and the port the image serves.
    (server,) = find("server", "upstream densviz")
    assert server[0] == f"app:{exposed[0]}"

    (mount,) = [v for v in proxy_service["volumes"] if "nginx.conf" in v]
    source, target, mode = mount.split(":")
    assert (DEPLOY / source).resolve() == DEPLOY / "nginx.conf"
    assert (target, mode) == ("/etc/nginx/nginx.conf", "ro")
    (listen,) = find("listen")
    (published,) = proxy_service["ports"]
    assert str(published).rsplit(":", 1)[1] == listen[0]
    assert proxy_service["depends_on"]["app"]["condition"] == "service_healthy"
    assert proxy_service["image"].startswith("nginx:")


def test_compose_lines_without_a_yaml_parser():
    """The same essentials read as lines, for a machine without PyYAML (it comes with ray here)."""
    lines = [line.split("#")[0].rstrip() for line in (DEPLOY / "compose.yaml").read_text().splitlines()]
    services = lines.index("services:")
    names = [line.strip(" :") for line in lines[services + 1 :] if re.fullmatch(r"  [a-z]+:", line)]
    assert names == ["app", "proxy"]
    text = "\n".join(lines)
    assert re.search(r"^ {6}context: \.\.$", text, re.MULTILINE)
    assert re.search(r"^ {6}dockerfile: Dockerfile$", text, re.MULTILINE)
    assert re.search(r"^ {6}- \./nginx\.conf:/etc/nginx/nginx\.conf:ro$", text, re.MULTILINE)
    assert "\t" not in text, "YAML indents with spaces"


# ---- Debian's nginx with this file, in front of two stand-ins ---------------------------


class _StandIn(BaseHTTPRequestHandler):
    """Answers every request with the replica's name and what it received; tunnels a WebSocket upgrade."""

    server: _Replica

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int = 200) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps(
            {
                "replica": self.server.name,
                "path": self.path,
                "host": self.headers.get("Host"),
                "forwarded_for": self.headers.get("X-Forwarded-For"),
                "forwarded_proto": self.headers.get("X-Forwarded-Proto"),
                "cookie": self.headers.get("Cookie"),
                "bytes": length,
            }
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Frame-Options", "DENY")  # the app's own: the proxy's must replace it, not add to it
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self._tunnel()
        else:
            self._answer(404 if self.path.startswith("/missing") else 200)

    def do_PUT(self) -> None:
        self.server.seen.append(self.path)
        self._answer()

    def _tunnel(self) -> None:
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        self.wfile.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        self.wfile.flush()
        while data := self.connection.recv(4096):  # after the upgrade nginx passes bytes as they are
            self.connection.sendall(self.server.name.encode() + b":" + data)
        self.close_connection = True


class _Replica(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name: str):
        super().__init__(("127.0.0.1", free_port()), _StandIn)
        self.name = name
        self.seen: list[str] = []
        self.address = f"127.0.0.1:{self.server_address[1]}"
        self.thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()  # new connections are refused from here on


@contextmanager
def two_replicas() -> Iterator[tuple[Proxy, dict[str, _Replica]]]:
    replicas = {name: _Replica(name) for name in ("a", "b")}
    try:
        with proxy([r.address for r in replicas.values()]) as running:
            yield running, replicas
    finally:
        for r in replicas.values():
            if r.thread.is_alive():
                r.stop()


def request(
    running: Proxy,
    path: str = "/",
    cookie: str | None = None,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage, dict[str, Any]]:
    """One request through the proxy: status, headers, the stand-in's JSON (empty if another answered)."""
    conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
    sent = dict(headers or {})
    if cookie is not None:
        sent["Cookie"] = f"{COOKIE}={cookie}"
    body = b"x" * 10 if method == "PUT" else None
    conn.request(method, path, body=body, headers=sent)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    try:
        answer = json.loads(data)
    except ValueError:
        answer = {}
    return response.status, response.headers, answer


def new_cookie(headers: http.client.HTTPMessage) -> str:
    """The affinity cookie a response sets; its attributes checked."""
    (set_cookie,) = [v for v in headers.get_all("Set-Cookie") or [] if v.startswith(COOKIE + "=")]
    value, *attributes = [part.strip() for part in set_cookie.split(";")]
    assert set(attributes) == {"Path=/", "HttpOnly", "SameSite=Lax"}  # no Secure over plain http
    token = value.split("=", 1)[1]
    assert re.fullmatch(r"[0-9a-f]{32}", token), token
    return token


def websocket_through(running: Proxy, cookie: str) -> tuple[str, bytes]:
    """Upgrade /_stcore/stream through the proxy with this cookie; (status line, what an echo came back as)."""
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
        key = base64.b64encode(b"0123456789abcdef").decode()
        sock.sendall(
            (
                f"GET /_stcore/stream HTTP/1.1\r\nHost: 127.0.0.1:{running.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Cookie: {COOKIE}={cookie}\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        head, _, rest = head.partition(b"\r\n\r\n")
        expected = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        assert b"Sec-WebSocket-Accept: " + expected in head
        sock.sendall(b"hello")
        echo = rest
        while not echo.endswith(b"hello"):
            echo += sock.recv(4096)
        return head.split(b"\r\n")[0].decode(), echo


@needs_nginx
def test_a_browser_stays_on_one_replica_and_browsers_spread():
    with two_replicas() as (running, replicas):
        status, headers, first = request(running, "/?preset=densenet121")
        assert status == 200
        cookie = new_cookie(headers)
        home = first["replica"]
        # Every kind of request a page makes, with the cookie: the same replica, no new cookie.
        for method, path in [
            ("GET", "/static/js/index.js"),
            ("GET", "/_stcore/health"),
            ("GET", "/_stcore/host-config"),
            ("PUT", "/_stcore/upload_file/session/file"),
            ("GET", "/media/0123.svg"),
            ("GET", "/?preset=densenet121"),
        ]:
            status, headers, answer = request(running, path, cookie, method)
            assert (status, answer["replica"], answer["path"]) == (200, home, path)
            assert not headers.get_all("Set-Cookie")
        status_line, echo = websocket_through(running, cookie)
        assert status_line == "HTTP/1.1 101 Switching Protocols"
        assert echo == f"{home}:hello".encode()

        # New browsers land on both replicas (all 40 on one: odds 2^-39) and each stays where it landed.
        landed: dict[str, str] = {}
        for _ in range(40):
            _, headers, answer = request(running)
            landed[new_cookie(headers)] = answer["replica"]
        assert set(landed.values()) == {"a", "b"}
        for token, replica in list(landed.items())[:10]:
            assert request(running, "/static/x.css", token)[2]["replica"] == replica
        assert len(replicas["a"].seen) + len(replicas["b"].seen) == 1 + 6 + 1 + 40 + 10


@needs_nginx
def test_a_cookie_that_is_not_ours_is_replaced():
    with two_replicas() as (running, _):
        for bad in ("", "zzz", "0" * 31, "0" * 33, "G" * 32, "0" * 31 + ";"):
            status, headers, _ = request(running, "/", headers={"Cookie": f"{COOKIE}={bad}"})
            assert status == 200
            new_cookie(headers)


@needs_nginx
def test_the_replica_sees_the_browsers_host_and_address():
    with two_replicas() as (running, _):
        _, _, answer = request(running)
        # Streamlit accepts a WebSocket only when its Origin names this Host, port included.
        assert answer["host"] == f"127.0.0.1:{running.port}"
        assert answer["forwarded_for"] == "127.0.0.1"
        assert answer["forwarded_proto"] == "http"


@needs_nginx
def test_security_headers_once_on_every_answer():
    with two_replicas() as (running, _):
        for path in ("/", "/missing"):
            status, headers, _ = request(running, path)
            assert status == (200 if path == "/" else 404)
            assert headers.get_all("X-Frame-Options") == ["SAMEORIGIN"]
            assert headers.get_all("X-Content-Type-Options") == ["nosniff"]
            assert headers.get_all("Referrer-Policy") == ["same-origin"]
            assert "Server" not in headers or headers["Server"] == "nginx"  # no version


@needs_nginx
def test_an_upload_over_the_apps_limit_is_refused_at_the_proxy():
    mib = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    with two_replicas() as (running, replicas):
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
        conn.putrequest("PUT", "/_stcore/upload_file/session/file")
        conn.putheader("Content-Length", str(mib * 1024 * 1024 + 1))  # announced, never sent
        conn.endheaders()
        assert conn.getresponse().status == 413
        conn.close()
        assert replicas["a"].seen == replicas["b"].seen == []
        status, _, answer = request(running, "/_stcore/upload_file/session/file", method="PUT")
        assert (status, answer["bytes"]) == (200, 10)


@needs_nginx
def test_a_stopped_replicas_browsers_are_served_by_the_other():
    with two_replicas() as (running, replicas):
        landed: dict[str, str] = {}
        while set(landed.values()) != {"a", "b"}:
            _, headers, answer = request(running)
            landed[new_cookie(headers)] = answer["replica"]
        on_a = [token for token, replica in landed.items() if replica == "a"]
        replicas["a"].stop()
        for token in on_a:
            for path in ("/", "/static/js/index.js", "/_stcore/health"):
                status, _, answer = request(running, path, token)
                assert (status, answer.get("replica")) == (200, "b"), "a reload after the stop must not fail"
            _, echo = websocket_through(running, token)
            assert echo == b"b:hello"
        # The browsers of b did not move.
        for token in [t for t, r in landed.items() if r == "b"]:
            assert request(running, "/", token)[2]["replica"] == "b"
        assert "Connection refused" in running.error_log()
