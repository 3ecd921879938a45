"""Guards that hold: each case here was reproduced against the earlier code (issue 18)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from densviz.core.config import ConfigError, DenseNetConfig, parse_state
from tests.helpers import start_app

APP = str(Path(__file__).resolve().parents[1] / "app.py")


start = start_app


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


# --- the command line: destinations, special files, failing helpers ---------------------------


def _one_sentence(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line.startswith("densviz: error:")]
    assert "Traceback" not in err and len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["summary", "--preset", "tiny", "--budget", "1e300T"], "larger than any machine's memory"),
        (["compare", "--a", "tiny", "--b", "tiny", "--budget", "1e300T"], "larger than any machine's memory"),
        (["summary", "--preset", "tiny", "--budget", "100000T"], "more than this machine's memory"),
        (["export", "--preset", "tiny", "--formats", "csv", "--out", "/dev/full"], "is not a folder"),
        (["export", "--preset", "tiny", "--formats", "csv", "--out", ""], "--out is empty"),
        (["export", "--preset", "tiny", "--formats", "csv", "--out", "/proc/self/x"], "Cannot write into the folder"),
        (["export", "--preset", "tiny", "--formats", "csv", "--out", "/tmp/" + "a" * 300], "over 255"),
        (["run", "--preset", "tiny", "--image", "/dev/zero"], "is not a regular file"),
        (["run", "--preset", "tiny", "--weights", "/dev/urandom"], "is not a regular file"),
        (["run", "--preset", "tiny", "--growth-rate", "٣"], "growth_rate must be an integer"),
        (["run", "--preset", "tiny", "--growth-rate", "１２"], "growth_rate must be an integer"),
    ],
)
def test_bad_destinations_and_inputs_get_one_sentence_and_exit_2(
    flags: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from densviz.cli import main

    assert main(flags) == 2
    assert fragment in _one_sentence(capsys)


def test_special_and_huge_input_files_are_refused_before_a_byte_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    from densviz.cli import main

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # reading it would block for ever
    assert main(["run", "--preset", "tiny", "--image", str(fifo)]) == 2
    assert "is not a regular file" in _one_sentence(capsys)
    sparse = tmp_path / "huge.pth"
    with open(sparse, "wb") as f:
        f.truncate(30 << 30)  # 30 GiB of holes: was read whole (MemoryError at 5 GB)
    assert main(["run", "--preset", "tiny", "--weights", str(sparse)]) == 2
    assert "30.0 GiB; at most 256 MiB" in _one_sentence(capsys)
    existing = tmp_path / "afile"
    existing.write_text("x")
    assert main(["export", "--preset", "tiny", "--formats", "csv", "--out", str(existing)]) == 2
    assert existing.read_text() == "x"


def test_a_full_disk_leaves_no_half_written_file_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    from densviz.cli import main
    from densviz.core import files

    real_fdopen = os.fdopen

    def full_after(limit: int):  # type: ignore[no-untyped-def]
        class Full:
            def __init__(self, fd: int) -> None:
                self.f = real_fdopen(fd, "wb")

            def __enter__(self):  # type: ignore[no-untyped-def]
                return self

            def __exit__(self, *exc: object) -> None:
                self.f.close()

            def write(self, data: bytes) -> int:
                self.f.write(data[:limit])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            def flush(self) -> None: ...

            def fileno(self) -> int:
                return self.f.fileno()

        return lambda fd, mode: Full(fd)

    monkeypatch.setattr(files.os, "fdopen", full_after(1000))
    out = tmp_path / "out"
    assert main(["export", "--preset", "tiny", "--formats", "csv,json", "--out", str(out)]) == 1
    assert "No space left on device" in _one_sentence(capsys)
    assert sorted(p.name for p in out.iterdir()) == []  # no truncated layers.csv, no .part left behind


def test_a_dot_that_fails_is_a_sentence_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from densviz.cli import main

    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dot").write_text("#!/bin/sh\necho 'dot: crashed' >&2\nexit 1\n")
    (fake / "dot").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    code = main(["export", "--preset", "tiny", "--formats", "svg", "--out", str(tmp_path / "o")])
    sentence = _one_sentence(capsys)
    assert code == 1 and "dot" in sentence
    assert not list((tmp_path / "o").glob("*.svg"))


def test_config_json_is_strict_about_types_and_repeats() -> None:
    from densviz.core.config import state_from_json

    with pytest.raises(ConfigError, match=re.escape("in_channels must be 3 (RGB) or 1 (grey); got 3.0")):
        state_from_json(b'{"config": {"in_channels": 3.0}}')  # was accepted, then float parameter counts
    with pytest.raises(ConfigError, match="growth_rate is given twice"):
        state_from_json(b'{"config": {"growth_rate": 12, "growth_rate": 24}}')
