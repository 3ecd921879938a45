"""The page's session state: every key it keeps besides the controls', with its type.

Controls keep their values under the setting's name (``growth_rate`` …, see
:mod:`densviz.core.settings`). Everything else the page remembers between
reruns is named in :class:`Key` and read and written through the typed
functions here, so no view reaches into another view's keys and no value is
a tuple read by position.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import streamlit as st

from densviz.core.config import DenseNetConfig, InputSpec
from densviz.core.plan import ArchitecturePlan
from densviz.draw.options import GraphOptions

__all__ = [
    "GRAPH_KEYS",
    "Design",
    "Key",
    "Network",
    "Shown",
    "TrainedWeights",
    "get",
    "graph_options",
    "last_valid",
    "pop",
    "put",
    "trained_weights",
]


class Key(StrEnum):
    """Session keys that are not a control's value."""

    INITIALISED = "_initialised"
    """The first run of the session has read the link."""
    WARNINGS = "_warnings"
    """list[str]: sentences about the link, shown once."""
    UPLOAD_ERROR = "_upload_error"
    """str: why the uploaded config was not loaded, shown once."""
    UPLOAD_NOTE = "_upload_note"
    """str: which config was loaded, shown once."""
    LAST_VALID = "_last_valid"
    """Design: the last settings that made a valid network."""
    SHOWN = "_shown"
    """Shown: the network the headline numbers show, and the one before it."""
    SESSION_ID = "_session_id"
    """str: this session's id for the background check against PyTorch."""
    VIEW = "view"
    """str: the view selector's value (also the link's ``view``)."""
    PINNED = "compare_a"
    """state.Pinned: design A of the Compare view."""
    TRAINED_WEIGHTS = "trained_weights"
    """TrainedWeights: handed from the Feature reuse view to the Forward pass view."""
    FORWARD_SOURCE = "forward_source"
    """str: the Forward pass view's input (a photograph, an upload, random or the digits)."""
    NODE = "node"
    """str: the module path selected in the Graph view (also the link's ``node``), e.g. ``features.denseblock2.denselayer7``."""
    FEATURE_LAYER = "forward_layer"
    """str: the module the Forward pass view's feature-map explorer shows (its selectbox's key)."""


@dataclass(frozen=True)
class Design:
    """A configuration and its input, as the controls gave them.

    Attributes:
        config: The architecture.
        input: The input.
    """

    config: DenseNetConfig
    input: InputSpec


@dataclass(frozen=True)
class Network:
    """What every view draws.

    Attributes:
        config: The architecture.
        input: The input.
        plan: Its plan.
    """

    config: DenseNetConfig
    input: InputSpec
    plan: ArchitecturePlan


@dataclass(frozen=True)
class Shown:
    """The network whose numbers are on screen, and the previous one (for the headline's changes).

    Attributes:
        design: The design shown.
        plan: Its plan.
        previous: The plan shown before it, if any.
    """

    design: Design
    plan: ArchitecturePlan
    previous: ArchitecturePlan | None


@dataclass(frozen=True)
class TrainedWeights:
    """Weights trained in the Feature reuse view, for the Forward pass view.

    Attributes:
        config: The architecture they belong to.
        name: The file name they would have.
        label: How the Forward pass view names them.
        data: The safetensors bytes.
    """

    config: DenseNetConfig
    name: str
    label: str
    data: bytes


GRAPH_KEYS: dict[str, str] = {
    "detail": "graph_detail",
    "block": "graph_block",
    "direction": "graph_direction",
    "show_cost": "graph_cost",
    "max_full_layers": "graph_max_full",
}
"""Each graph setting's control key in the Graph view (the link's keys are the settings table's)."""


def graph_options() -> GraphOptions:
    """The Graph view's settings as the session holds them (the table's defaults where it never showed)."""
    given = {name: st.session_state[key] for name, key in GRAPH_KEYS.items() if st.session_state.get(key) is not None}
    return GraphOptions(**given)


def get(key: Key, default: Any = None) -> Any:
    """The value under ``key``."""
    return st.session_state.get(key.value, default)


def put(key: Key, value: Any) -> None:
    """Set ``key``."""
    st.session_state[key.value] = value


def pop(key: Key, default: Any = None) -> Any:
    """Remove ``key`` and return its value."""
    return st.session_state.pop(key.value, default)


def last_valid() -> Design | None:
    """The last settings that made a valid network."""
    value = get(Key.LAST_VALID)
    return value if isinstance(value, Design) else None


def trained_weights() -> TrainedWeights | None:
    """Weights handed over by the Feature reuse view, if any."""
    value = get(Key.TRAINED_WEIGHTS)
    return value if isinstance(value, TrainedWeights) else None
