"""Chart images with no usable Chromium: every wait bounded, the browser ended, HTML in place with a note.

The fake browsers are shell scripts named by ``BROWSER_PATH``: one that exits
at once, one that sleeps and never answers. Each writes its own pid and its
parent's (choreographer's wrapper) to a file, so that the tests can see that
nothing they started is left running. The deadline is set to a few seconds by
``DENSVIZ_CHART_DEADLINE_S``; nothing here asserts how long anything took.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import plotly.graph_objects as go
import pytest

import densviz.export.images as images
from densviz.export import ChartImageUnavailableError, chart_images

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = "4"
has_chromium = shutil.which("chromium") is not None or shutil.which("google-chrome") is not None

EXITS = "#!/bin/sh\necho $$ $PPID >> {pids}\nexit 1\n"
SLEEPS = "#!/bin/sh\necho $$ $PPID >> {pids}\nexec sleep 600\n"


def fake_browser(tmp_path: Path, body: str, name: str) -> tuple[Path, Path]:
    """A fake "chromium" script and the file its pids go to."""
    pids = tmp_path / f"{name}.pids"
    script = tmp_path / name
    script.write_text(body.format(pids=pids))
    script.chmod(0o755)
    return script, pids


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not run)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def started_pids(pids: Path) -> list[int]:
    return [int(p) for p in pids.read_text().split()] if pids.exists() else []


def children_of(pid: int) -> list[int]:
    """The running children of ``pid``, from /proc (psutil is not needed)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.append(int(stat.parent.name))
    return found


def gone(pids: list[int]) -> bool:
    """Whether none of ``pids`` runs, allowing a moment for the kernel to reap them."""
    for _ in range(50):
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


def export_with(browser: Path | str, out: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BROWSER_PATH": str(browser), images.DEADLINE_ENV: DEADLINE}
    return subprocess.run(
        [sys.executable, "-m", "densviz", "export", "--preset", "tiny", "--formats", "png,csv", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,  # a guard against the hang this file is about, not a measure
    )


def check_fell_back_to_html(result: subprocess.CompletedProcess[str], out: Path, fragment: str) -> None:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Error:" not in result.stderr.replace("densviz: note:", "")
    notes = [line for line in result.stderr.splitlines() if line.startswith("densviz: note: ")]
    assert any(fragment in line and line.endswith("the charts are exported as HTML instead.") for line in notes), notes
    written = {p.name for p in out.iterdir()}
    assert {"layers.csv", "blocks.csv", "chart-channels.html", "chart-memory.html"} <= written
    assert not [n for n in written if n.startswith("chart-") and n.endswith(".png")]


# --- the command line, in a process of its own ------------------------------------------------------------------


def test_export_with_a_browser_that_exits_writes_html_with_a_note(tmp_path: Path) -> None:
    browser, pids = fake_browser(tmp_path, EXITS, "chromium")
    out = tmp_path / "out"
    result = export_with(browser, out)
    check_fell_back_to_html(result, out, f"The Chromium at {browser} failed to start (the browser seemed to close")
    assert started_pids(pids) and gone(started_pids(pids))  # the fake and choreographer's wrapper


@pytest.mark.slow
def test_export_with_a_browser_that_hangs_ends_it_and_writes_html_with_a_note(tmp_path: Path) -> None:
    browser, pids = fake_browser(tmp_path, SLEEPS, "chromium")
    out = tmp_path / "out"
    result = export_with(browser, out)
    check_fell_back_to_html(
        result, out, f"The Chromium at {browser} did not start within {DEADLINE} s, so it was stopped"
    )
    assert started_pids(pids) and gone(started_pids(pids))  # the sleeping "browser" was killed, not orphaned


def test_export_with_no_browser_at_browser_path(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = export_with("/nonexistent/chromium", out)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert (
        "densviz: note: Chart images need a Chromium browser, and none was found at "
        "BROWSER_PATH=/nonexistent/chromium (apt-get install chromium); the charts are exported as HTML, "
        "which needs nothing."
    ) in result.stderr
    assert (out / "layers.csv").exists() and (out / "chart-channels.html").exists()


# --- in this process: the shared browser, its lock, its cooldown --------------------------------------------------


@pytest.fixture
def deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(images.DEADLINE_ENV, DEADLINE)


def a_chart() -> go.Figure:
    return go.Figure(go.Bar(x=[1, 2], y=[3, 4]))


@pytest.mark.slow
@pytest.mark.usefixtures("deadline")
def test_a_hung_browser_is_killed_and_not_started_again_for_a_while(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser, pids = fake_browser(tmp_path, SLEEPS, "hangs")
    monkeypatch.setenv("BROWSER_PATH", str(browser))
    before = set(children_of(os.getpid()))
    with pytest.raises(ChartImageUnavailableError, match=r"did not start within 4 s, so it was stopped; the charts"):
        chart_images([(a_chart(), "png")])
    assert started_pids(pids) and gone(started_pids(pids))
    assert set(children_of(os.getpid())) <= before  # nothing it started is left
    with pytest.raises(
        ChartImageUnavailableError, match=r"\(That was \d+ s ago; it is tried again 5 minutes after\.\)"
    ):
        chart_images([(a_chart(), "svg")])  # at once: the same sentence, no second wait
    assert len(started_pids(pids)) == 2  # one start only: the fake and its wrapper


@pytest.mark.usefixtures("deadline")
def test_a_browser_that_exits_raises_a_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    browser, pids = fake_browser(tmp_path, EXITS, "exits")
    monkeypatch.setenv("BROWSER_PATH", str(browser))
    with pytest.raises(ChartImageUnavailableError) as caught:
        chart_images([(a_chart(), "png")])
    assert str(caught.value) == (
        f"The Chromium at {browser} failed to start (the browser seemed to close immediately after starting); "
        "the charts are exported as HTML instead."
    )
    assert gone(started_pids(pids))


def test_the_deadline_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(images.DEADLINE_ENV, "2.5")
    assert images.deadline() == 2.5
    for bad in ("", "soon", "-1", "0", "nan", "inf"):
        monkeypatch.setenv(images.DEADLINE_ENV, bad)
        assert images.deadline() == images.DEADLINE_S


@pytest.mark.slow
@pytest.mark.skipif(not has_chromium, reason="needs Chromium")
@pytest.mark.usefixtures("deadline")
def test_a_working_browser_after_a_failed_one_makes_images_and_closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser, _pids = fake_browser(tmp_path, EXITS, "broken")
    monkeypatch.setenv("BROWSER_PATH", str(browser))
    with pytest.raises(ChartImageUnavailableError):
        chart_images([(a_chart(), "png")])
    monkeypatch.delenv("BROWSER_PATH")
    monkeypatch.setenv(images.DEADLINE_ENV, "60")  # a real Chromium starts in a few seconds on a busy machine
    svg, png = chart_images([(a_chart(), "svg"), (a_chart(), "png")])
    assert svg.lstrip().startswith(b"<svg") and png.startswith(b"\x89PNG")
    assert images._browser is not None
    wrapper = images._browser.kaleido.subprocess.pid
    images.stop_browser()
    assert images._browser is None and gone([wrapper])


@pytest.mark.slow
@pytest.mark.skipif(not has_chromium, reason="needs Chromium")
def test_a_process_that_used_the_browser_exits_and_leaves_no_browser(tmp_path: Path) -> None:
    code = (
        "import plotly.graph_objects as go, os\n"
        "from densviz.export import chart_images\n"
        "import densviz.export.images as images\n"
        "chart_images([(go.Figure(go.Bar(y=[1])), 'png')])\n"
        "print(images._browser.kaleido.subprocess.pid, flush=True)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert gone([int(result.stdout.split()[0])])  # exit closed it (atexit, bounded)


def test_the_export_view_says_why_there_are_no_chart_images(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=60)
    at.query_params["preset"] = "tiny"
    at.query_params["view"] = "Export"
    at.run()
    assert not at.exception
    assert any("none was found at BROWSER_PATH=/nonexistent/chromium" in c.value for c in at.caption)
    assert at.button_group(key="export_chart_formats").options == ["HTML"]  # no PNG to ask for and not get
