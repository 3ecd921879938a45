"""Page state: the widgets' keys, presets, the query string and uploads.

Widgets are created with a key and no value; their values live in
``st.session_state`` under the config field names (one grep finds the field,
the CLI flag, the query key and the widget). Presets, the reset button and
config uploads write those keys in callbacks, which run before the widgets are
drawn. The query string mirrors the last valid settings, so a link reopens the
same network; a bad value in a link falls back to the default with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from densviz.core.config import (
    PRESETS,
    ConfigError,
    DenseNetConfig,
    InputSpec,
    parse_state,
    state_from_json,
    to_query,
)
from densviz.core.plan import make_plan
from densviz.core.settings import SETTINGS, Group, Widget, in_group
from densviz.draw.graph_select import find, is_selectable
from densviz.draw.options import GraphOptions
from densviz.ui import session
from densviz.ui.session import GRAPH_KEYS, Key

CUSTOM = "custom"
DEFAULT_PRESET = "densenet121"
PIN_PREFIX = "a_"  # its settings in the link: a_preset=…, or a_growth_rate=… and the rest
MAX_UPLOAD_BYTES = 1 << 20  # 1 MB, as the uploader states it (a config JSON is a few hundred bytes)
VIEW_KEY = Key.VIEW.value  # the link's view=
NODE_KEY = Key.NODE.value  # the link's node=: the Graph view's selection

# Widget ranges, from the settings table: every valid config can be shown except
# where a control offers less (compression below 0.01, drop_rate above 0.95).
_BLOCKS = SETTINGS["block_config"]
RANGES: dict[str, tuple[float, float]] = {
    "num_blocks": (float(_BLOCKS.count[0]), float(_BLOCKS.count[1])),
    "layers": _BLOCKS.control_range,
    **{s.name: s.control_range for s in in_group(Group.ARCHITECTURE, Group.INPUT) if s.widget is Widget.NUMBER},
    "growth_rate": SETTINGS["growth_rate"].control_range,
}


def layers_key(block: int) -> str:
    """Widget key of the layer count of dense block ``block`` (1-based)."""
    return f"layers_{block}"


def widget_values(cfg: DenseNetConfig, spec: InputSpec, preset: str) -> dict[str, Any]:
    """The session-state values that make the widgets show ``cfg`` and ``spec``."""
    values: dict[str, Any] = {
        "preset": preset,
        "growth_rate": cfg.growth_rate,
        "num_blocks": len(cfg.block_config),
        "init_auto": cfg.init_features == 2 * cfg.growth_rate,
        "num_init_features": cfg.init_features,
        "bottleneck": cfg.bottleneck,
        "bn_size": cfg.bn_size if cfg.bottleneck else 4,
        "compression": cfg.compression,
        "drop_rate": cfg.drop_rate,
        "num_classes": cfg.num_classes,
        "in_channels": cfg.in_channels,
        "stem": cfg.stem.value,
        "memory_efficient": cfg.memory_efficient,
        "height": spec.height,
        "width": spec.width,
        "batch": spec.batch,
    }
    for b, layers in enumerate(cfg.block_config, start=1):
        values[layers_key(b)] = layers
    return values


def _fits_widgets(cfg: DenseNetConfig) -> str | None:
    """A sentence if a valid config lies outside a widget's range, else ``None``."""
    low, high = RANGES["compression"]
    if not low <= cfg.compression <= high:
        return f"compression {cfg.compression:g} is below the smallest the control offers ({low:g})"
    if cfg.drop_rate > RANGES["drop_rate"][1]:
        return f"drop_rate {cfg.drop_rate:g} is above the largest the control offers ({RANGES['drop_rate'][1]:g})"
    return None


def load(session: Any, cfg: DenseNetConfig, spec: InputSpec, preset: str) -> None:
    """Write a config into the widgets' keys (call from a callback or before drawing).

    ``session`` is ``st.session_state`` (or a dict in tests).
    """
    session.update(widget_values(cfg, spec, preset))


def load_preset() -> None:
    """Callback of the preset selector: fill every control from the preset."""
    name = st.session_state.get("preset", CUSTOM)
    if name in PRESETS:
        preset = PRESETS[name]
        load(st.session_state, preset.config, preset.input, name)


def mark_custom() -> None:
    """Callback of every architecture control: the settings no longer are a preset."""
    st.session_state["preset"] = CUSTOM


def reset() -> None:
    """Callback of the reset button: back to DenseNet-121."""
    preset = PRESETS[DEFAULT_PRESET]
    load(st.session_state, preset.config, preset.input, DEFAULT_PRESET)


def load_upload() -> None:
    """Callback of the config uploader: load a JSON config, or say why not."""
    upload = st.session_state.get("config_upload")
    if upload is None:
        return
    data = upload.getvalue()
    try:
        if len(data) > MAX_UPLOAD_BYTES:
            raise ConfigError(
                "config_file",
                len(data),
                "",
                message=f"the file is {len(data):,} bytes; a config JSON is at most 1 MB ({MAX_UPLOAD_BYTES:,} bytes).",
            )
        cfg, spec = state_from_json(data)
        problem = _fits_widgets(cfg)
        if problem:
            raise ConfigError("config_file", upload.name, "", message=f"{problem}.")
    except ConfigError as err:
        session.put(Key.UPLOAD_ERROR, f"{upload.name} was not loaded: {err}")
        return
    load(st.session_state, cfg, spec, CUSTOM)
    session.put(Key.UPLOAD_NOTE, f"Loaded {upload.name}.")


@dataclass(frozen=True)
class Pinned:
    """The design pinned as A in the Compare view.

    Attributes:
        config: Its architecture.
        input: Its input.
        preset: The preset it is, or ``custom``.
    """

    config: DenseNetConfig
    input: InputSpec
    preset: str = CUSTOM

    @property
    def label(self) -> str:
        """The preset's title, or "custom design"."""
        return PRESETS[self.preset].title if self.preset in PRESETS else "custom design"


def pinned_from(cfg: DenseNetConfig, spec: InputSpec) -> Pinned:
    """Pin a design, naming the preset it is, if any."""
    preset = next((name for name, p in PRESETS.items() if (p.config, p.input) == (cfg, spec)), CUSTOM)
    return Pinned(cfg, spec, preset)


@dataclass(frozen=True)
class Initial:
    """What the first run of a session starts from.

    Attributes:
        warnings: One sentence per ignored query-string setting.
        view: The view named in the link, if any.
        pinned: Design A of the Compare view, if the link has one.
    """

    warnings: tuple[str, ...]
    view: str | None
    pinned: Pinned | None = None


def _pinned_from_query(query: Mapping[str, list[str]], warnings: list[str]) -> Pinned | None:
    params = {k.removeprefix(PIN_PREFIX): v for k, v in query.items() if k.startswith(PIN_PREFIX)}
    if not params:
        return None
    parsed = parse_state(params, lenient=True)
    warnings.extend(f"design A: {w}" for w in parsed.warnings)
    return pinned_from(parsed.config, parsed.input)


def init_from_query(query: Mapping[str, list[str]], views: list[str]) -> Initial:
    """First run of a session: fill the widgets from the link (or DenseNet-121).

    Args:
        query: Each query-string key with all its values.
        views: The view names a link may ask for.
    """
    params: dict[str, Any] = {
        k: v
        for k, v in query.items()
        if k not in (VIEW_KEY, NODE_KEY) and not k.startswith(PIN_PREFIX) and k not in _GRAPH_QUERY
    }
    warnings: list[str] = []
    pinned = _pinned_from_query(query, warnings)
    state = parse_state(params or {"preset": DEFAULT_PRESET}, lenient=True)
    warnings.extend(state.warnings)
    cfg, spec = state.config, state.input
    problem = _fits_widgets(cfg)
    if problem:
        warnings.append(f"{problem}; using {DEFAULT_PRESET} instead.")
        cfg, spec = PRESETS[DEFAULT_PRESET].config, PRESETS[DEFAULT_PRESET].input
    preset = state.preset or CUSTOM
    if preset != CUSTOM and (cfg, spec) != (PRESETS[preset].config, PRESETS[preset].input):
        preset = CUSTOM
    if preset == CUSTOM:  # a link spelling out a preset's settings names it
        preset = next((name for name, p in PRESETS.items() if (p.config, p.input) == (cfg, spec)), CUSTOM)
    if not params:
        preset = DEFAULT_PRESET
    load(st.session_state, cfg, spec, preset)
    st.session_state.update(_graph_from_query(query, len(cfg.block_config), warnings))
    if query.get(NODE_KEY):
        st.session_state[NODE_KEY] = node_from_query(query[NODE_KEY][-1], cfg, spec, warnings)
    view = None
    if VIEW_KEY in query:
        asked = query[VIEW_KEY][-1]
        if asked in views:
            view = asked
        else:
            warnings.append(f"view must be one of {', '.join(views)}; got {asked!r}. Showing the default view.")
    return Initial(tuple(warnings), view, pinned)


_GRAPH_QUERY = {s.query: s for s in in_group(Group.GRAPH)}


def node_from_query(text: str, cfg: DenseNetConfig, spec: InputSpec, warnings: list[str]) -> str | None:
    """The Graph view's selection from a link's ``node=``, or ``None`` with a warning naming what is allowed.

    A full path as the page writes it (``features.denseblock2.denselayer7``);
    the search box's shorter forms (``denselayer7``, ``block 2 layer 7``) are
    read too, when they name exactly one module.
    """
    try:
        plan = make_plan(cfg, spec)
    except ConfigError:
        return None  # the network itself was refused; its warning says why
    if is_selectable(plan, text):
        return text
    found = find(plan, text)
    if found.name is not None and found.message is None:
        return found.name
    example = f"{plan.blocks[-1].name}.denselayer1"
    warnings.append(
        f"{ConfigError(NODE_KEY, text, f'a module of this network, such as {example}, features.conv0 or classifier')} "
        "Nothing is selected."
    )
    return None


def _graph_from_query(query: Mapping[str, list[str]], blocks: int, warnings: list[str]) -> dict[str, Any]:
    """The Graph view's controls as the link sets them; a bad value: a warning and the default."""
    values: dict[str, Any] = {}
    for key, setting in _GRAPH_QUERY.items():
        if key not in query or not query[key]:
            continue
        text = query[key][-1]
        if setting.name == "block" and text.strip().lower() == "all":
            values[GRAPH_KEYS["block"]] = None
            continue
        try:
            value = setting.parse(text)
            if setting.name == "block" and value is not None and value > blocks:
                raise ConfigError(key, value, "")
        except ConfigError as err:
            problem = (  # for focus: the link's word for it, and this network's blocks
                ConfigError(key, text, f"a block number from 1 to {blocks}, or all") if setting.name == "block" else err
            )
            warnings.append(f"{problem} Using the default instead.")
            continue
        values[GRAPH_KEYS[setting.name]] = value
    return values


def _graph_query(options: GraphOptions) -> dict[str, str]:
    """The graph settings that differ from the table's defaults, as the link spells them."""
    out: dict[str, str] = {}
    for key, setting in _GRAPH_QUERY.items():
        value = getattr(options, setting.name)
        if value != setting.default:
            out[key] = "1" if value is True else setting.to_text(value)
    return out


def read_config(session: Any) -> tuple[DenseNetConfig, InputSpec]:  # st.session_state or a dict
    """The config and input the widgets describe, through the same parser as links and flags.

    Raises:
        ConfigError: if the combination is invalid (the sentence says why).
    """
    blocks = int(session["num_blocks"])
    values: dict[str, Any] = {
        name: session[name]
        for name in (*(s.name for s in in_group(Group.ARCHITECTURE)), "batch", "height", "width")
        if name not in ("block_config", "num_init_features", "bn_size")
    }
    values["block_config"] = tuple(int(session.get(layers_key(b), 12)) for b in range(1, blocks + 1))
    values["num_init_features"] = None if session["init_auto"] else session["num_init_features"]
    values["bn_size"] = session["bn_size"] if session["bottleneck"] else 0
    state = parse_state({name: SETTINGS[name].to_text(value) for name, value in values.items()})
    return state.config, state.input


def _settings_query(cfg: DenseNetConfig, spec: InputSpec, preset: str) -> dict[str, str]:
    if preset in PRESETS and (cfg, spec) == (PRESETS[preset].config, PRESETS[preset].input):
        return {"preset": preset}
    return to_query(cfg, spec)


def query_for(
    cfg: DenseNetConfig,
    spec: InputSpec,
    preset: str,
    view: str,
    pinned: Pinned | None = None,
    graph: GraphOptions | None = None,
    node: str | None = None,
) -> dict[str, str]:
    """The query string of the current settings.

    A preset name alone when it is one; the Graph view's settings where they
    differ from the defaults, and its selection (``node``) if any; design A
    prefixed ``a_``.
    """
    query = _settings_query(cfg, spec, preset)
    query[VIEW_KEY] = view
    query |= _graph_query(graph or GraphOptions())
    if node:
        query[NODE_KEY] = node
    if pinned is not None:
        query |= {PIN_PREFIX + k: v for k, v in _settings_query(pinned.config, pinned.input, pinned.preset).items()}
    return query
