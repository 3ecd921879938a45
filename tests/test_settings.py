"""Every setting's range, default and help come from the settings table, and only from there.

Each consumer is read back (the dataclasses' defaults, the page's controls in
AppTest, the argparse flags, the query-string parser, the fuzz script's keys)
and compared with the table, so a range or a sentence typed anywhere else fails.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from densviz.cli import build_parser
from densviz.core.config import ConfigError, DenseNetConfig, InputSpec, parse_state
from densviz.core.settings import SETTINGS, Group, Kind, Setting, Widget, in_group
from densviz.draw.options import GraphOptions

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


# --- the table itself ----------------------------------------------------------


def test_the_table_is_complete_and_consistent() -> None:
    assert [s.name for s in in_group(Group.ARCHITECTURE)] == [f.name for f in fields(DenseNetConfig)]
    for s in SETTINGS.values():
        assert s.meaning and s.label, s.name
        if s.kind in (Kind.INT, Kind.FLOAT, Kind.INT_LIST):
            assert s.low is not None and s.high is not None and s.low <= s.high, s.name
            low, high = s.control_range if s.widget is not Widget.NONE else (s.low, s.high)
            assert s.low <= low <= high <= s.high, f"{s.name}: the control offers more than the table allows"
        if s.default is not None and s.kind not in (Kind.TEXT, Kind.SIZE):
            assert s.check(s.default) == s.default, f"{s.name}: its default is not allowed"
        if s.page_default is not None:
            assert s.check(s.page_default) is not None
        if s.kind is not Kind.TEXT and s.default is not None:
            assert s.parse(s.to_text(s.default)) == s.default, f"{s.name}: text round trip"


@pytest.mark.parametrize("name", [s.name for s in SETTINGS.values() if s.kind is Kind.INT])
def test_integer_bounds_are_enforced_where_the_table_says(name: str) -> None:
    s = SETTINGS[name]
    assert s.low is not None and s.high is not None
    low, high = int(s.low), int(s.high)
    assert s.parse(str(low)) == low and s.parse(str(high)) == high
    for outside in (low - 1, high + 1):
        with pytest.raises(ConfigError) as info:
            s.parse(str(outside))
        assert str(info.value) == f"{name} must be an integer from {low:,} to {high:,}; got {outside}."


# --- the dataclasses -------------------------------------------------------------


def test_dataclass_defaults_are_the_tables() -> None:
    from densviz.reuse import TrainOptions
    from densviz.run import RunOptions

    cfg = DenseNetConfig()
    for f in fields(DenseNetConfig):
        table = SETTINGS[f.name].default
        if table is None:  # num_init_features: automatic, 2k
            assert f.name == "num_init_features" and cfg.init_features == 2 * cfg.growth_rate
        else:
            assert getattr(cfg, f.name) == table, f.name
    assert InputSpec().to_dict() == {n: SETTINGS[n].default for n in ("batch", "height", "width")}
    graph = GraphOptions()
    assert {s.name: getattr(graph, s.name) for s in in_group(Group.GRAPH)} == {
        s.name: s.default for s in in_group(Group.GRAPH)
    }
    run = RunOptions()
    assert (run.device, run.precision, run.channels_last, run.runs, run.warmup, run.threads) == tuple(
        SETTINGS[n].default for n in ("device", "dtype", "channels_last", "runs", "warmup", "threads")
    )
    train = TrainOptions()
    assert {s.name: getattr(train, s.name) for s in in_group(Group.TRAINING)} == {
        s.name: s.default for s in in_group(Group.TRAINING)
    }


# --- the query string ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["growth_rate", "bn_size", "num_classes", "batch", "num_init_features"])
def test_links_are_parsed_with_the_tables_range(name: str) -> None:
    s = SETTINGS[name]
    high = int(s.high or 0)
    with pytest.raises(ConfigError) as info:
        parse_state({s.query: str(high + 1)})
    assert str(info.value) == f"{name} must be {s.allowed}; got {high + 1}."
    lenient = parse_state({s.query: str(high + 1)}, lenient=True)
    assert lenient.warnings and s.allowed in lenient.warnings[0]


def test_float_and_choice_settings_in_links_say_what_the_table_allows() -> None:
    for name, bad in (("compression", "0"), ("drop_rate", "1"), ("stem", "vgg"), ("in_channels", "2")):
        with pytest.raises(ConfigError) as info:
            parse_state({SETTINGS[name].query: bad})
        assert SETTINGS[name].allowed in str(info.value), name
    assert SETTINGS["compression"].allowed == "a number θ with 0 < θ ≤ 1"
    assert SETTINGS["in_channels"].allowed == "3 (RGB) or 1 (grey)"


def test_link_keys_are_the_tables() -> None:
    from densviz.core.config import STATE_KEYS

    linked = {s.query for s in in_group(Group.ARCHITECTURE, Group.INPUT) if s.query and s.kind is not Kind.SIZE}
    assert set(STATE_KEYS) == linked


# --- the command line -------------------------------------------------------------


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _flag_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {opt: a for a in parser._actions for opt in a.option_strings}


def _check_flag(action: argparse.Action, s: Setting, prefix: str = "") -> None:
    assert action.help is not None and action.help.startswith(prefix + s.help), (s.name, action.help)
    if s.kind is Kind.BOOL:
        assert action.nargs == 0, s.name
    else:
        assert action.metavar == s.metavar, (s.name, action.metavar)
        assert action.default is None  # absent: the table's default applies, through read_settings


@pytest.mark.parametrize(
    ("command", "groups"),
    [
        ("summary", (Group.START, Group.ARCHITECTURE, Group.INPUT)),
        ("export", (Group.START, Group.ARCHITECTURE, Group.INPUT, Group.GRAPH)),
        ("run", (Group.START, Group.ARCHITECTURE, Group.INPUT, Group.FORWARD)),
        ("reuse", (Group.START, Group.ARCHITECTURE, Group.INPUT, Group.TRAINING)),
    ],
)
def test_every_flag_is_the_tables(command: str, groups: tuple[Group, ...]) -> None:
    actions = _flag_actions(_subcommands()[command])
    for s in in_group(*groups):
        if not s.flag:
            assert not any(s.name == a.dest for a in actions.values()), s.name
            continue
        assert s.flag in actions, f"{command} lacks {s.flag}"
        _check_flag(actions[s.flag], s)


def test_compares_two_sides_take_the_same_flags() -> None:
    actions = _flag_actions(_subcommands()["compare"])
    for s in in_group(Group.START, Group.ARCHITECTURE, Group.INPUT):
        if not s.flag:
            continue
        for side in ("a", "b"):
            flag = f"--{side}" if s.name == "preset" else f"--{side}-{s.flag.removeprefix('--')}"
            _check_flag(actions[flag], s, prefix=f"design {side.upper()}: ")


# --- the page's controls ---------------------------------------------------------


def _number_like(at: Any, key: str) -> Any:
    for kind in ("number_input", "slider"):
        for w in at.get(kind):
            if w.key == key:
                return w
    raise AssertionError(f"no control with key {key}")


def _check_control(w: Any, s: Setting, label: str | None = None) -> None:
    low, high = s.control_range
    assert (float(w.min), float(w.max)) == (float(low), float(high)), s.name
    assert w.help == s.help, s.name
    assert w.label == (label or s.label), s.name


def test_sidebar_controls_are_the_tables() -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.toggle(key="init_auto").set_value(False).run()  # show the k₀ box too
    for name in ("growth_rate", "bn_size", "compression", "drop_rate", "num_classes", "height", "width", "batch"):
        _check_control(_number_like(at, name), SETTINGS[name])
    _check_control(_number_like(at, "num_init_features"), SETTINGS["num_init_features"])
    blocks = SETTINGS["block_config"]
    _check_control(_number_like(at, "layers_2"), blocks, label=f"{blocks.label} 2")
    assert (_number_like(at, "num_blocks").min, _number_like(at, "num_blocks").max) == blocks.count
    segmented = {w.key: w for w in at.get("button_group")}
    for name in ("stem", "in_channels"):
        assert segmented[name].options == [label for _v, label in SETTINGS[name].choices]
        assert segmented[name].help == SETTINGS[name].help
    toggles = {w.key: w for w in at.sidebar.toggle}
    assert toggles["memory_efficient"].help == SETTINGS["memory_efficient"].help


def test_view_controls_are_the_tables() -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["preset"] = "tiny"
    at.query_params["view"] = "Graph"
    at.run()
    _check_control(_number_like(at, "graph_max_full"), SETTINGS["max_full_layers"])
    detail = next(w for w in at.get("button_group") if w.key == "graph_detail")
    assert detail.options == [label for _v, label in SETTINGS["detail"].choices]
    at.segmented_control(key="view").set_value("Feature reuse").run()
    for key, name in (("reuse_epochs", "epochs"), ("reuse_seconds", "max_seconds"), ("reuse_seed", "seed")):
        _check_control(_number_like(at, key), SETTINGS[name])
    assert _number_like(at, "reuse_seconds").value == SETTINGS["max_seconds"].page_default


# --- nothing typed twice -------------------------------------------------------------


def test_no_range_sentence_or_help_is_written_outside_the_table() -> None:
    home = {ROOT / "densviz/core/settings.py", ROOT / "densviz/core/setting.py"}
    texts = {p: p.read_text() for p in (ROOT / "densviz").rglob("*.py") if p not in home}
    sentences = [s.meaning for s in SETTINGS.values()] + [s.label for s in SETTINGS.values() if len(s.label) > 10]
    # (a sentence built from what this device, this network or PRESETS offers is not the table's range)
    typed_by_hand = re.compile(
        r'ConfigError\(\s*"(' + "|".join(SETTINGS) + r')",[^)]*(?<!f)"(an integer|a number|one of)[^"]*"(?!\s*\+)'
    )
    for path, text in texts.items():
        assert not typed_by_hand.search(text), f"{path}: a setting's 'allowed' sentence typed by hand"
        for sentence in sentences:
            assert f'"{sentence}"' not in text, f"{path} repeats the table's text {sentence!r}"


def test_the_fuzz_script_takes_its_keys_from_the_table() -> None:
    text = (ROOT / "tests" / "fuzz.py").read_text()
    assert "in_group(" in text
    for s in in_group(Group.ARCHITECTURE):
        assert f'"{s.name}"' not in text, f"tests/fuzz.py lists {s.name} by hand"
