"""The background check against PyTorch: shared, bounded, and fair between sessions."""

from __future__ import annotations

import threading

import pytest

import densviz.ui.cached as cached
from densviz.core.config import PRESETS, InputSpec


def test_requests_are_shared_and_a_session_drops_only_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    ran: list[int] = []

    def slow(cfg: object, hw: tuple[int, int]) -> cached.VerifyOutcome:
        gate.wait(10)
        ran.append(hw[0])
        return cached.VerifyOutcome(True, 1, (), 0.0)

    monkeypatch.setattr(cached, "_verify", slow)
    service = cached.VerifyService(max_entries=4)
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


def test_graph_downloads_follow_the_graph_views_settings() -> None:
    from densviz.draw.options import GraphOptions
    from densviz.export import ExportFormat

    cfg, spec = PRESETS["tiny"].config, PRESETS["tiny"].input

    def page(show_cost: bool) -> str:
        options = GraphOptions(show_cost=show_cost)
        files = cached.export_files(cfg, spec, ExportFormat.HTML, options, graph=True, charts=())
        return files["graph-dense.html"].decode()

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
