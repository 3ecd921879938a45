"""``densviz app``: serve the web app from the installed package, with the settings of ``make run``.

    densviz app                      # http://127.0.0.1:8501, this machine only
    densviz app --port 8600
    DENSVIZ_ADDRESS=0.0.0.0 densviz app   # every interface (the Docker image does this)

The address and port are checked before Streamlit starts, so a bad one is a
sentence: exit 2 for a value that can never work, exit 1 when the machine
refuses it now (a port in use, a port below 1024 without the right to it).
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import re
import socket

from densviz.core.errors import ConfigError, SurroundingsError, show_value

__all__ = ["ADDRESS_VARIABLE", "check_address", "check_port", "command", "register"]

ADDRESS_VARIABLE = "DENSVIZ_ADDRESS"
"""The environment variable that moves the default address (``0.0.0.0``: every interface)."""

DEFAULT_ADDRESS = "127.0.0.1"  # the same as densviz.ui.serve's (cli does not import the page to read it)
DEFAULT_PORT = 8501
_HOSTNAME = re.compile(r"(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")
_ADDRESS_ALLOWED = "an IP address of this machine (127.0.0.1, ::1, 0.0.0.0 for every interface) or a host name"


def check_address(text: str, source: str = "--address") -> str:
    """The address to listen on, as given; a sentence naming ``source`` if it cannot be one.

    Raises:
        ConfigError: for a value that is neither an IP address nor a host name.
    """
    value = text.strip()
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not _HOSTNAME.fullmatch(value) or value.replace(".", "").isdigit():
            raise ConfigError(source, text, _ADDRESS_ALLOWED) from None
    return value


def check_port(text: str) -> int:
    """The port, from ``--port``'s text.

    Raises:
        ConfigError: unless it is a whole number from 1 to 65535 in ASCII digits.
    """
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 65535:
        raise ConfigError("--port", text, "a whole number from 1 to 65535")
    return int(value)


def _check_can_listen(address: str, port: int) -> None:
    """Bind the address and port once and let go, so that a refusal is a sentence, not Streamlit's log line.

    Raises:
        ConfigError: the address resolves to nothing, or is not one of this machine's.
        SurroundingsError: the port is taken or needs rights this user has not.
    """
    try:
        infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError):
        raise ConfigError(
            "--address", address, _ADDRESS_ALLOWED, message=f"--address {show_value(address)} names no address here."
        ) from None
    family, _, _, _, sockaddr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Streamlit binds
        try:
            sock.bind(sockaddr)
        except OSError as err:
            where = f"{address} port {port}"
            if err.errno == errno.EADDRINUSE:
                raise SurroundingsError(f"{where} is in use by another program; pick another with --port.") from None
            if err.errno == errno.EACCES:
                raise SurroundingsError(
                    f"{where} needs rights this user does not have (ports below 1024); pick one from 1024 up with --port."
                ) from None
            if err.errno == errno.EADDRNOTAVAIL:
                raise ConfigError(
                    "--address",
                    address,
                    _ADDRESS_ALLOWED,
                    message=f"--address {show_value(address)} is not an address of this machine; "
                    "use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface).",
                ) from None
            raise SurroundingsError(f"cannot listen on {where}: {err.strerror or err}.") from None


def command(args: argparse.Namespace) -> int:
    """Run ``densviz app``; return its exit status (0 after Ctrl-C or SIGTERM)."""
    if args.address is None:
        from_env = os.environ.get(ADDRESS_VARIABLE, "").strip()
        address = check_address(from_env, ADDRESS_VARIABLE) if from_env else DEFAULT_ADDRESS
    else:
        address = check_address(args.address)
    port = check_port(args.port)
    _check_can_listen(address, port)

    from densviz.ui.serve import serve  # imports streamlit: only when serving

    serve(address, port)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``app`` to the command's subparsers."""
    p = sub.add_parser(
        "app",
        help="serve the web app (the settings of `make run`)",
        description="Serve the web app from the installed package, with the settings of `make run`.",
    )
    p.add_argument(
        "--address",
        default=None,
        help=f"address to listen on (default: ${ADDRESS_VARIABLE}, else {DEFAULT_ADDRESS}: this machine only; "
        "0.0.0.0 serves every interface)",
    )
    p.add_argument("--port", default=str(DEFAULT_PORT), help=f"port to listen on (default {DEFAULT_PORT})")
    p.set_defaults(run=command)
