r"""deploy/nginx.conf filled in for replicas that run without compose: on one machine, or in the tests.

    densviz app --port 8501 &  densviz app --port 8502 &
    python deploy/nginx_conf.py --replica 127.0.0.1:8501 --replica 127.0.0.1:8502 \
        --listen 127.0.0.1:8080 --folder /tmp/densviz-proxy
    nginx -p /tmp/densviz-proxy -c nginx.conf -g 'daemon off; pid nginx.pid;'

Only the lines that name places change: the upstream's ``server`` lines (one per
replica, each with the shipped line's parameters: max_fails, fail_timeout), the
``listen`` address, the two log files and nginx's temporary folders (all in
``--folder``). Every other line is the shipped file's, so what the tests run is
what compose runs. Standard library only.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent / "nginx.conf"
UPSTREAM = "densviz"
_TEMP_FOLDERS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
_ADDRESS = re.compile(r"(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})")


def _check_address(text: str, what: str) -> str:
    match = _ADDRESS.fullmatch(text)
    if match is None or not 1 <= int(match.group(1)) <= 65535:
        raise ValueError(f"{what} {text!r} is not HOST:PORT (such as 127.0.0.1:8501) with a port from 1 to 65535")
    return text


def _one(pattern: str, text: str, what: str, flags: int = re.MULTILINE) -> re.Match[str]:
    matches = list(re.finditer(pattern, text, flags))
    if len(matches) != 1:
        raise ValueError(f"{SHIPPED.name} should have one {what}; found {len(matches)}")
    return matches[0]


def render(text: str, replicas: Sequence[str], listen: str, folder: Path) -> str:
    """The configuration ``text`` (deploy/nginx.conf) for these replica addresses, this listen address and folder.

    Args:
        text: The shipped configuration.
        replicas: ``HOST:PORT`` of each replica.
        listen: Where the proxy listens: ``PORT`` or ``HOST:PORT``.
        folder: Where the logs (``access.log``, ``error.log``) and nginx's
            temporary folders go; absolute.

    Raises:
        ValueError: an address is malformed, or the text lacks (or repeats) a
            line that is replaced.
    """
    if not replicas:
        raise ValueError("at least one replica is needed")
    for address in replicas:
        _check_address(address, "replica")
    if not listen.isdigit():
        _check_address(listen, "listen address")
    elif not 1 <= int(listen) <= 65535:
        raise ValueError(f"listen port {listen} is not from 1 to 65535")
    folder = folder.resolve()

    block = _one(rf"^\s*upstream\s+{UPSTREAM}\s*\{{[^}}]*\}}", text, f"upstream {UPSTREAM} block")
    body = block.group(0)
    server_line = r"^([ \t]*)server\s+\S+?((?:\s+[^;\s]+)*)\s*;[ \t]*\n"
    first = re.search(server_line, body, re.MULTILINE)
    if first is None:
        raise ValueError(f"{SHIPPED.name}: the upstream {UPSTREAM} block has no server line")
    indent, params = first.group(1), first.group(2)  # the shipped parameters (max_fails, fail_timeout) for each
    lines = "".join(f"{indent}server {address}{params};\n" for address in replicas)
    body = body[: first.start()] + lines + re.sub(server_line, "", body[first.start() :], flags=re.MULTILINE)
    text = text[: block.start()] + body + text[block.end() :]

    listen_line = _one(r"^([ \t]*)listen\s+[^;]+;", text, "listen line")
    text = text[: listen_line.start()] + f"{listen_line.group(1)}listen {listen};" + text[listen_line.end() :]
    error_log = _one(r"^error_log\s+\S+(\s+\w+)?;", text, "error_log line")
    text = (
        text[: error_log.start()]
        + f"error_log {folder / 'error.log'}{error_log.group(1) or ''};"
        + text[error_log.end() :]
    )
    access_log = _one(r"^([ \t]*)access_log\s+\S+(\s+\w+)?;", text, "access_log line")
    text = (
        text[: access_log.start()]
        + f"{access_log.group(1)}access_log {folder / 'access.log'}{access_log.group(2) or ''};"
        + text[access_log.end() :]
    )
    http = _one(r"^http\s*\{[ \t]*\n", text, "http block")
    temp = "".join(f"    {name}_temp_path {folder / (name + '_temp')};\n" for name in _TEMP_FOLDERS)
    return text[: http.end()] + temp + text[http.end() :]


def main(argv: Sequence[str] | None = None) -> int:
    """Write the filled-in configuration to ``FOLDER/nginx.conf`` (or stdout with ``--stdout``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replica", action="append", required=True, help="HOST:PORT of a replica (repeat)")
    parser.add_argument("--listen", default="127.0.0.1:8080", help="PORT or HOST:PORT (default 127.0.0.1:8080)")
    parser.add_argument("--folder", type=Path, required=True, help="for nginx.conf, the logs and temporary files")
    parser.add_argument("--stdout", action="store_true", help="print the configuration instead of writing it")
    args = parser.parse_args(argv)
    try:
        text = render(SHIPPED.read_text(), args.replica, args.listen, args.folder)
    except ValueError as err:
        print(f"nginx_conf: error: {err}", file=sys.stderr)
        return 2
    if args.stdout:
        sys.stdout.write(text)
        return 0
    args.folder.mkdir(parents=True, exist_ok=True)
    (args.folder / "nginx.conf").write_text(text)
    print(args.folder.resolve() / "nginx.conf")
    return 0


if __name__ == "__main__":
    sys.exit(main())
