"""The Compare and Feature reuse views, driven by Streamlit's AppTest."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from densviz.core.config import PRESETS, to_query
from densviz.core.plan import make_plan
from densviz.core.units import format_bytes, format_count, format_macs
from densviz.reuse import training_variant
from tests.test_app import start

TINY = PRESETS["tiny"]


def _button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label.startswith(label))


def _numbers(at: AppTest) -> dict[str, dict[str, str]]:
    table = at.dataframe[0].value
    return {row[""]: row for _, row in table.iterrows()}


def test_compare_pins_a_then_follows_the_controls_as_b() -> None:
    at = start({"preset": "tiny", "view": "Compare"})
    assert not at.dataframe  # nothing to compare before a pin
    _button(at, "Pin this network as A").click().run()
    at.slider(key="growth_rate").set_value(16).run()
    assert not at.exception
    a = make_plan(TINY.config, TINY.input)
    b = make_plan(
        TINY.config.replace(growth_rate=16, num_init_features=None), TINY.input
    )  # tiny has k₀ = 2k: it follows
    numbers = _numbers(at)
    assert numbers["Parameters"]["A"] == format_count(a.totals.params)
    assert numbers["Parameters"]["B"] == format_count(b.totals.params)
    assert numbers["Parameters"]["B − A"] == "+" + format_count(b.totals.params - a.totals.params)
    assert numbers["MACs per image"]["B / A"] == f"{b.totals.macs / a.totals.macs:.2f}×"
    assert numbers["Training memory, memory-efficient"]["B"] == format_bytes(b.memory.training_efficient_bytes)
    blocks = at.dataframe[1].value
    assert list(blocks["channels out A/B"]) == [
        f"{x.out_channels} / {y.out_channels}" for x, y in zip(a.blocks, b.blocks, strict=True)
    ]
    assert blocks["MACs B − A"].iloc[0] == "+" + format_macs(b.blocks[0].macs - a.blocks[0].macs)
    # the pair is in the link: A as a preset name, B spelled out
    query = dict(at.query_params.items())
    assert query["a_preset"] == "tiny" and query["growth_rate"] == "16" and query["view"] == "Compare"


def test_a_link_with_a_pair_reopens_both_and_swap_exchanges_them() -> None:
    bc = PRESETS["densenet_bc100_k12"]
    at = start({"preset": "densenet40_k12", "view": "Compare", "a_preset": "densenet_bc100_k12"})
    assert at.session_state["compare_a"].config == bc.config
    numbers = _numbers(at)
    assert numbers["Depth L"]["A"] == "100" and numbers["Depth L"]["B"] == "40"
    _button(at, "Swap A and B").click().run()
    assert at.session_state["preset"] == "densenet_bc100_k12"
    assert at.session_state["compare_a"].preset == "densenet40_k12"
    assert _numbers(at)["Depth L"]["A"] == "40"
    _button(at, "Unpin A").click().run()
    assert "a_preset" not in dict(at.query_params.items()) and not at.dataframe


def test_a_custom_a_in_the_link_with_a_bad_value_warns_and_names_design_a() -> None:
    custom = {f"a_{k}": v for k, v in to_query(TINY.config.replace(growth_rate=12), TINY.input).items()}
    at = start({"preset": "tiny", "view": "Compare", **custom, "a_compression": "7"})
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("From the link: design A: compression") for w in warnings), warnings
    assert at.session_state["compare_a"].config.growth_rate == 12
    assert _numbers(at)["Parameters"]["A"] == format_count(
        make_plan(TINY.config.replace(growth_rate=12), TINY.input).totals.params
    )


def test_pinning_a_preset_from_the_list() -> None:
    at = start({"preset": "tiny", "view": "Compare"})
    at.selectbox(key="compare_pick").set_value("densenet121").run()
    assert _numbers(at)["Parameters"]["A"] == "7.98 M"


def _train(at: AppTest, timeout_s: float = 120) -> None:
    _button(at, "Train").click().run()
    deadline = time.monotonic() + timeout_s
    while "reuse_result" not in at.session_state and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "reuse_result" in at.session_state, [e.value for e in at.error]


def test_training_in_the_page_shows_accuracy_heat_maps_and_feeds_the_forward_view() -> None:
    at = start({"preset": "tiny", "view": "Feature reuse"})
    assert any("one grey input channel" in i.value for i in at.info)  # says what it changes
    _train(at)
    result = at.session_state["reuse_result"]["result"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Held-out accuracy"] == f"{result.test_accuracy:.1%}" and result.test_accuracy >= 0.9
    assert metrics["Epochs"] == "3 of 3"
    readings = at.dataframe[0].value
    assert list(readings["the paper's reading"]) == [r.title for r in at.session_state["reuse_result"]["readings"]]
    assert readings["the paper's reading"].iloc[0] == "Layers use many inputs"
    # hand the trained network to the forward-pass view, run it on held-out digits
    _button(at, "Classify digits").click().run()
    variant = training_variant(TINY.config)
    assert at.session_state["view"] == "Forward pass" and at.session_state["forward_source"] == "digits"
    assert at.session_state["growth_rate"] == variant.config.growth_rate and at.session_state["height"] == 8
    assert at.session_state["in_channels"] == 1
    _button(at, "Run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    said = next(c.value for c in at.caption if c.value.startswith("The first digit is"))
    assert said == "The first digit is a **7**; the network says 7."  # sklearn's held-out digit 0 is a 7
    # back on the reuse view, the result is still there for this (now current) network
    at.session_state["view"] = "Feature reuse"
    at.run()
    assert "Held-out accuracy" in {m.label for m in at.metric}


def test_a_stopped_run_keeps_what_it_learned_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    # The page waits for the job while it trains; Stop (clicked in the real browser test) stops the
    # job. Here a thread stops it after its first progress record, as the click's callback would.
    import threading

    from densviz.ui import reuse as page_reuse

    start_run = page_reuse._start

    def start_then_stop(variant, options):  # type: ignore[no-untyped-def]
        tj = start_run(variant, options)

        def stop_after_first_step() -> None:
            while not tj.job.history() and not tj.job.done():
                time.sleep(0.05)
            tj.job.stop()

        threading.Thread(target=stop_after_first_step, daemon=True).start()
        return tj

    monkeypatch.setattr(page_reuse, "_start", start_then_stop)
    # tiny's steps take milliseconds: the Stop is seen between two steps however loaded the machine
    # (a step still running 0.7 s after Stop would be ended there, keeping nothing)
    at = start({"preset": "tiny", "view": "Feature reuse"})
    at.number_input(key="reuse_epochs").set_value(50).run()
    _train(at)
    result = at.session_state["reuse_result"]["result"]
    epochs = len(result.log.epochs)
    assert result.stopped_by == "user" and 1 <= epochs < 50 and result.log.epochs[-1].step < 50 * 23
    assert {m.label: m.value for m in at.metric}["Epochs"] == f"{epochs} of 50"
    assert any(c.value == "Training ended early: stopped by you." for c in at.caption)


@pytest.mark.parametrize("field", ["reuse_epochs", "reuse_seconds"])
def test_training_controls_are_bounded(field: str) -> None:
    at = start({"preset": "tiny", "view": "Feature reuse"})
    widget = at.number_input(key=field)
    assert widget.min >= 1 and widget.max <= 600


def test_a_network_the_digits_cannot_feed_gets_a_sentence_not_a_traceback() -> None:
    from densviz.core.config import DenseNetConfig, InputSpec, Stem

    cfg = DenseNetConfig(growth_rate=4, block_config=(1,) * 8, stem=Stem.CIFAR, num_classes=10)
    at = start({**to_query(cfg, InputSpec.square(128)), "view": "Feature reuse"})
    assert [e.value for e in at.error] == [
        "Training on the 8×8 digits takes at most 7 dense blocks: these 8 would need the digits upsampled "
        "to 128×128 (at most 64×64)."
    ]
    assert not [b for b in at.button if b.label == "Train"]
