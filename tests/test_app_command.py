"""``densviz app``: the page served from the installed package, with the settings of ``make run``.

Real servers on free loopback ports: started from a folder that is not the
repository (so nothing is read from its ``app.py`` or ``.streamlit/``), and
from a ``pip install --target`` copy of the package.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import requests

from densviz.cli import main
from tests.app_server import ROOT, densviz_app, running, serve_script
from tests.browser.server import free_port
from tests.st_client import Session

ARTIFACTS = ROOT / "artifacts"


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--port", "0"], "--port must be a whole number from 1 to 65535; got '0'"),
        (["--port", "65536"], "--port must be a whole number from 1 to 65535"),
        (["--port", "80a"], "--port must be a whole number from 1 to 65535; got '80a'"),
        (["--port", "٨٠٨٠"], "--port must be a whole number"),  # Arabic-Indic digits: ASCII only
        (["--address", "local host"], "--address must be an IP address of this machine"),
        (["--address", "300.1.1.1"], "--address must be an IP address"),
        (["--address", "unix:///tmp/s"], "--address must be an IP address"),
        (["--address", "192.0.2.1"], "--address '192.0.2.1' is not an address of this machine"),  # TEST-NET-1
        (["--address", "no-such-host.invalid"], "names no address here"),
    ],
)
def test_a_bad_address_or_port_is_a_sentence_and_exit_2(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["app", *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and err.count("\n") == 1


def test_a_bad_address_variable_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DENSVIZ_ADDRESS", "every interface")
    assert main(["app"]) == 2
    assert "DENSVIZ_ADDRESS must be an IP address" in capsys.readouterr().err


def test_a_port_in_use_is_a_sentence_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["app", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"127.0.0.1 port {port} is in use by another program" in err and "Traceback" not in err


def test_a_bad_streamlit_variable_is_a_sentence_and_exit_2() -> None:
    """STREAMLIT_* variables set Streamlit's settings as under ``streamlit run``; a bad one is named."""
    env = {**os.environ, "STREAMLIT_SERVER_MAX_UPLOAD_SIZE": "lots"}
    port = str(free_port())
    done = subprocess.run(
        [sys.executable, "-m", "densviz", "app", "--port", port], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert (
        "STREAMLIT_SERVER_MAX_UPLOAD_SIZE must be of type integer (it sets Streamlit's server.maxUploadSize); got 'lots'"
        in done.stderr
    )
    assert "Traceback" not in done.stderr


def test_streamlit_variables_reach_the_server(tmp_path: Path) -> None:
    script = tmp_path / "ttl.py"
    script.write_text("import streamlit as st\nst.markdown(str(st.get_option('server.disconnectedSessionTTL')))\n")
    env: dict[str, str | None] = {"STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": "7"}
    with running(serve_script(script), cwd=tmp_path, env=env) as (url, _proc):
        session = Session(url)
        texts = session.rerun().texts()
        session.close()
    assert texts == ["7"]


def test_the_settings_are_those_of_the_config_file() -> None:
    """``densviz app`` carries .streamlit/config.toml's settings in code; the two must not drift apart."""
    from densviz.ui.serve import DEFAULT_PORT, STREAMLIT_OPTIONS

    table = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    flat = {f"{section}.{name}": value for section, names in table.items() for name, value in names.items()}
    assert flat.pop("server.port") == DEFAULT_PORT == 8501
    assert flat == STREAMLIT_OPTIONS


def _serves_the_page(url: str) -> None:
    """Health, the HTML shell, and a script run of the real page (its title and metrics)."""
    assert requests.get(f"{url}/_stcore/health", timeout=10).text == "ok"
    shell = requests.get(url, timeout=10)
    assert shell.status_code == 200 and '<div id="root">' in shell.text
    session = Session(url)
    run = session.rerun("preset=tiny")
    session.close()
    assert run.finished_cleanly()
    assert "DenseNet feature-map growth" in run.texts()


def test_densviz_app_serves_the_page_from_another_folder(tmp_path: Path) -> None:
    log = ARTIFACTS / "server-app-command.log"
    ARTIFACTS.mkdir(exist_ok=True)
    env: dict[str, str | None] = {"DENSVIZ_ADDRESS": None}  # unset: the default, this machine only
    with running(densviz_app(), cwd=tmp_path, env=env, log=log) as (url, _proc):
        _serves_the_page(url)
    printed = log.read_text()
    assert f"URL: {url}" in printed  # one URL: loopback only, no "Network URL"
    assert "Network URL" not in printed


def test_a_served_script_runs_with_one_torch_thread(tmp_path: Path) -> None:
    """``make run``'s OMP_NUM_THREADS=1, set by the server itself when the user has not set it."""
    script = tmp_path / "threads.py"
    script.write_text(
        "import os\nimport streamlit as st\nimport torch\n"
        "st.markdown(f\"omp={os.environ.get('OMP_NUM_THREADS')} torch={torch.get_num_threads()}\")\n"
    )
    env: dict[str, str | None] = {"OMP_NUM_THREADS": None}
    with running(serve_script(script), cwd=tmp_path, env=env) as (url, _proc):
        session = Session(url)
        texts = session.rerun().texts()
        session.close()
    assert texts == ["omp=1 torch=1"]


@pytest.mark.slow  # builds and installs the package, then serves from it (10-20 s)
def test_an_installed_copy_serves_the_page(tmp_path: Path) -> None:
    """``pip install .`` (here into a folder) ships the app script and its static files, and ``densviz app`` serves them."""
    source = tmp_path / "source"  # a copy: the build writes build/ next to pyproject.toml
    shutil.copytree(ROOT / "densviz", source / "densviz", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet"]
    subprocess.run(
        [*pip, "--target", str(target), str(source)],
        check=True,
        capture_output=True,
    )
    package = target / "densviz"
    assert (package / "ui" / "webapp" / "streamlit_app.py").is_file()
    assert (package / "ui" / "static" / "favicon.png").is_file()
    assert (package / "core" / "published.json").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", "import densviz.ui.serve as s; print(s.APP_SCRIPT)"],
        cwd=elsewhere,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(target)  # the copy, not the repository
    with running(densviz_app(), cwd=elsewhere, env=env, log=ARTIFACTS / "server-app-installed.log") as (url, _):
        _serves_the_page(url)
