"""The background check against PyTorch: shared, bounded, and fair between sessions."""

from __future__ import annotations

import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import densviz.ui.cached as cached
from densviz.core.config import PRESETS, InputSpec
from densviz.nn.check import VerifyOutcome, check_plan


def test_requests_are_shared_and_a_session_drops_only_its_own() -> None:
    gate = threading.Event()
    ran: list[int] = []

    def slow(cfg: object, hw: tuple[int, int]) -> VerifyOutcome:
        gate.wait(10)
        ran.append(hw[0])
        return VerifyOutcome(True, 1, (), 0.0)

    service = cached.VerifyService(max_entries=4, check=slow, pool=lambda: ThreadPoolExecutor(max_workers=1))
    cfg = PRESETS["tiny"].config
    first = service.request(cfg, InputSpec.square(32), "alice")  # starts at once, waits on the gate
    a_old = service.request(cfg, InputSpec.square(40), "alice")
    bob = service.request(cfg, InputSpec.square(48), "bob")
    a_new = service.request(cfg, InputSpec.square(56), "alice")  # alice moved on: her 40 is dropped
    assert a_old.cancelled() and not bob.cancelled() and not first.cancelled()
    assert service.request(cfg, InputSpec.square(48, batch=9), "carol") is bob  # same shapes: shared
    gate.set()
    assert a_new.result(10).ok and bob.result(10).ok and first.result(10).ok
    assert ran == [32, 48, 56]
    again = service.request(cfg, InputSpec.square(40), "alice")  # a dropped check is asked for anew
    assert again.result(10).ok and ran[-1] == 40


def _dies_on_13(cfg: object, hw: tuple[int, int]) -> VerifyOutcome:
    """A check whose worker process ends abruptly on a 13×13 input (as one killed for memory would)."""
    if hw == (13, 13):
        os._exit(3)
    return check_plan(cfg, hw)  # type: ignore[arg-type]


def test_the_check_runs_in_another_process_and_a_dead_worker_is_replaced() -> None:
    service = cached.VerifyService(max_entries=8, check=_dies_on_13)
    try:
        tiny = PRESETS["tiny"]
        first = service.request(tiny.config, tiny.input, "alice").result(120)
        assert first.ok and first.checks > 0
        assert first.pid not in (0, os.getpid())  # not the server's process: building models holds no lock of ours
        dead = service.request(tiny.config, InputSpec.square(13), "bob")
        outcome = None
        try:
            dead.result(120)
        except Exception:  # the broken pool's error: the page turns it into a sentence
            outcome = cached.outcome_of(dead)
        assert outcome is not None and not outcome.ok and outcome.error is not None
        assert "worker process ended" in outcome.error
        again = service.request(tiny.config, InputSpec.square(40), "alice").result(120)  # a new worker takes over
        assert again.ok and again.pid not in (0, os.getpid(), first.pid)
    finally:
        service.close()


def test_graph_downloads_follow_the_graph_views_settings() -> None:
    from densviz.draw.options import GraphOptions
    from densviz.export import ExportFormat

    cfg, spec = PRESETS["tiny"].config, PRESETS["tiny"].input

    def page(show_cost: bool) -> str:  # what the Export view's files job asks of the exporter
        from densviz.core.plan import make_plan
        from densviz.export import export

        options = GraphOptions(show_cost=show_cost)
        with tempfile.TemporaryDirectory() as tmp:
            result = export(
                make_plan(cfg, spec), tmp, [ExportFormat.HTML], graph_options=options, graph=True, charts=[]
            )
            return next(Path(p) for p in result.files if Path(p).name == "graph-dense.html").read_text()

    plain, costed = page(False), page(True)
    conv0 = ">432 params"  # a label on the node (its tooltip has it always); 3×3 conv, 3 → 16: 3·16·9 weights
    assert conv0 in costed and conv0 not in plain  # the Graph view's "params & MACs" toggle reaches the file


def test_the_compare_views_spelling_draws_the_same_graph() -> None:
    from densviz.draw.graph import DEFAULT_MAX_FULL_LAYERS, Detail
    from densviz.draw.options import GraphOptions

    cfg, spec = PRESETS["tiny"].config, PRESETS["tiny"].input
    old = cached.drawing_for(cfg, spec, Detail.OVERVIEW, None, "TB", True, DEFAULT_MAX_FULL_LAYERS)
    new = cached.drawing_for(cfg, spec, GraphOptions(Detail.OVERVIEW, show_cost=True))
    assert old.dot == new.dot and old.graph.detail is Detail.OVERVIEW


def _dies_unless_in(pid: int) -> str:
    """Drawn anywhere but in process ``pid``, it ends its process abruptly (as a worker killed for memory)."""
    if os.getpid() != pid:
        os._exit(3)
    return "drawn here"


def _pid(_tag: int) -> int:
    """The process that ran it (``_tag`` makes a new drawing of it)."""
    return os.getpid()


def test_drawings_are_made_on_a_worker_kept_and_made_here_when_the_worker_dies() -> None:
    service = cached.DrawService(max_entries=4)
    try:
        worker = service.draw(_pid, 1)
        assert worker != os.getpid()  # not the server's process: its interpreter lock stays free
        assert service.draw(_pid, 1) == worker  # kept: asked again, not drawn again
        assert service.draw(_dies_unless_in, os.getpid()) == "drawn here"  # the worker died: drawn in this process
        assert service.draw(_pid, 2) not in (worker, os.getpid())  # a new worker took over
    finally:
        service.close()


def test_the_growth_charts_come_from_the_drawing_worker() -> None:
    from densviz.draw.charts.svg_growth import growth_charts_html

    tiny = PRESETS["tiny"]
    html = cached.DrawService().draw(growth_charts_html, tiny.config, tiny.input)
    assert html == growth_charts_html(tiny.config, tiny.input)  # the same drawing as one made here
    assert html.count("<svg") == 4  # two charts, each at a laptop's and a phone's size
