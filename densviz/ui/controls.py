"""Page controls drawn from the settings table: label, range, step, help and choices come from there only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from densviz.core.settings import SETTINGS, Kind, Setting, Widget

__all__ = ["control", "help_text"]


def help_text(setting: Setting) -> str:
    """The tooltip of a setting's control: its meaning and default, as ``--help`` says it."""
    return setting.help


def _labels(setting: Setting) -> Callable[[Any], str]:
    names = {value: label or str(value) for value, label in setting.choices}
    return lambda value: names.get(value, str(value))


def control(
    setting: Setting | str,
    where: Any = None,
    *,
    key: str | None = None,
    label: str | None = None,
    on_change: Callable[[], None] | None = None,
    widget: Widget | None = None,
    **extra: Any,
) -> Any:
    """Draw one setting's control and return its value.

    Args:
        setting: The table row (or its name).
        where: A container (``st.sidebar``, a column); the main page if omitted.
        key: The session-state key; the setting's name if omitted.
        label: Overrides the table's label (e.g. "Layers in block 2").
        on_change: Callback when the user changes it.
        widget: Overrides the table's widget kind (a number box for a slider).
        **extra: Passed to the streamlit widget (``disabled``, ``label_visibility``…).
    """
    s = SETTINGS[setting] if isinstance(setting, str) else setting
    where = where if where is not None else st
    key = key or s.name
    start = s.page_default if s.page_default is not None else s.default
    if key not in st.session_state and start is not None and widget is None:
        st.session_state[key] = start  # where the control starts; the user's value stays after that
    common: dict[str, Any] = {
        "key": key,
        "help": help_text(s),
        "on_change": on_change,
        **extra,
    }
    text = label or s.label
    kind = widget or s.widget
    if kind is Widget.TOGGLE:
        return where.toggle(text, **common)
    if kind in (Widget.SEGMENTED, Widget.SELECT) and s.kind is Kind.CHOICE:
        draw = where.segmented_control if kind is Widget.SEGMENTED else where.selectbox
        options = list(s.choice_values)
        required = {"required": True} if kind is Widget.SEGMENTED else {}
        return draw(text, options, format_func=_labels(s), **required, **common)
    low, high = s.control_range
    if s.kind is Kind.FLOAT:
        step = s.step or 0.05
        return where.number_input(text, float(low), float(high), step=float(step), format="%.3g", **common)
    if kind is Widget.SLIDER:
        return where.slider(text, int(low), int(high), **common)
    return where.number_input(text, int(low), int(high), step=int(s.step or 1), **common)
