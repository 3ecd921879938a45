"""What the Forward pass view's tests share: pressing Run, and reading the results, captions and CAM headline."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest


def ran(at: AppTest) -> AppTest:
    at.button(key="forward_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def forward_metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric[5:]}  # the first five are the headline's


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def shown(at: AppTest) -> str:
    return next(c for c in captions(at) if c.startswith("Shown: "))


def cam_headline(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith(("**Grad-CAM**", "**Gradient × activation**")))


def headline_parts(at: AppTest) -> tuple[str, float]:
    """The CAM row's headline without its probability, and the probability in percent."""
    said = cam_headline(at)
    match = re.fullmatch(r"(.*) \((\d+\.\d)%\)", said)
    assert match, said
    return match.group(1), float(match.group(2))
