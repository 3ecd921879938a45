"""Guards that hold: each case here was reproduced against the earlier code (issue 18)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from densviz.core.config import ConfigError, DenseNetConfig, parse_state

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def start(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# --- links that crashed the page on every reload ------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"stem": "cifar", "block_config": ",".join(["1"] * 14)},
        {"block_config": ",".join(["1"] * 13)},
        {"block_config": ",".join(["256"] * 16)},
    ],
)
def test_a_lenient_link_always_ends_in_a_valid_network(query: dict[str, str]) -> None:
    state = parse_state(query, lenient=True)
    assert state.warnings and "largest input allowed is 4,096" in state.warnings[0]
    DenseNetConfig(**{**state.config.to_dict(), "block_config": tuple(state.config.block_config)})
    assert max(state.input.hw) <= 4096
    with pytest.raises(ConfigError, match="use fewer blocks"):
        parse_state(query)


def test_such_links_open_the_page_with_a_warning() -> None:
    at = start({"stem": "cifar", "block_config": ",".join(["1"] * 14)})
    assert any("largest input allowed" in w.value for w in at.warning)
    at = start({"view": "Compare", "a_block_config": ",".join(["1"] * 16)})
    assert any("design A" in w.value for w in at.warning)


# --- user text is shown as text ---------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("growth_rate", "[Session expired - click to log in](http://evil.example/login)"),
        ("num_classes", "![x](http://evil.example/pixel.png)"),
        ("view", "[x](http://evil.example/)"),
        ("[click](http://evil.example/)", "1"),
        ("stem", ":red[**alarm**] $x^2$ <img src=x>"),
    ],
)
def test_link_text_cannot_become_a_link_an_image_or_markup(key: str, value: str) -> None:
    from densviz.core.errors import show_value
    from densviz.ui.text import plain

    at = start({key: value})
    bodies = " ".join(w.value for w in at.warning)
    assert bodies, "the bad value was not reported"
    assert (
        not re.search(r"(?<!\\)\]\(", bodies)
        and "http://" not in bodies
        and "![" not in bodies
        and ":red[" not in bodies
    )
    user = value if key in ("growth_rate", "num_classes", "view", "stem") else key
    assert plain(show_value(user)) in bodies  # the user's text is all there, every markup character escaped
    assert plain("a [b](c) http://x www.y :material/z:") == "a \\[b\\](c) http\\://x www\\.y \\:material/z:"


# --- training: the MAC cap bounds what is trained, and the step's memory is checked ------------


def test_a_huge_stem_cannot_walk_around_the_training_mac_cap() -> None:
    from densviz.reuse.variant import TRAIN_MACS_BUDGET, training_variant

    cfg = parse_state(
        {
            "growth_rate": "8",
            "num_init_features": "4096",
            "compression": "1",
            "bn_size": "0",
            "block_config": "1,1,1,1,1,1,1",
            "stem": "cifar",
            "input_size": "64",
        }
    ).config
    variant = training_variant(cfg)
    assert variant.macs <= TRAIN_MACS_BUDGET  # was 94 G MACs: k ≤ 8 never stepped down, k₀ = 4096 survived
    assert any("k₀ =" in change for change in variant.changes)


def test_training_steps_over_the_memory_budget_are_refused_before_any_work() -> None:
    from densviz.reuse import TrainOptions, check_training_memory, train, training_variant

    cfg = parse_state({"growth_rate": "2", "bn_size": "0", "block_config": "256", "stem": "cifar"}).config
    variant = training_variant(cfg)
    check_training_memory(variant, 8)  # a small batch fits
    with pytest.raises(ConfigError, match=r"One training step .* over the memory budget"):
        check_training_memory(variant, 1437)
    with pytest.raises(ConfigError, match="over the memory budget"):
        train(variant, TrainOptions(batch_size=1437, epochs=1))


def test_the_cli_refuses_such_a_training_run_with_one_sentence(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from densviz.cli import main

    args = ["reuse", "--growth-rate", "2", "--bn-size", "0", "--block-config", "256", "--stem", "cifar"]
    assert main([*args, "--batch-size", "1437", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "over the memory budget" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()  # refused before any work: not even the folder
