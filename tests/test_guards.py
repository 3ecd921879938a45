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
