"""The densviz command: tables, JSON, and one sentence for every bad flag."""

import json
import re
import subprocess
import sys

import pytest

from densviz.cli import main
from tests.golden import check_golden


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own exits
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_presets_lists_every_preset(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "presets")
    assert code == 0
    assert "densenet121" in out and "7.98 M" in out and "2.83 GMACs" in out
    assert "densenet_bc190_k40" in out and "25.6M" in out


def test_summary_table_in_human_units(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "summary", "--preset", "densenet121")
    assert code == 0
    assert "features.denseblock3.denselayer24" in out
    assert "7.98 M" in out and "2.83 GMACs" in out and "30.4 MiB" in out


def test_summary_json_has_the_documented_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "summary", "--json")  # no preset: DenseNet-121's defaults
    assert code == 0
    data = json.loads(out)
    assert data["totals"]["params"] == 7_978_856
    assert data["totals"]["macs"] == 2_834_161_664
    assert data["totals"]["flops"] == 2 * 2_834_161_664
    assert {"config", "input", "totals", "blocks", "layers"} <= set(data)
    first = data["layers"][0]
    assert first["name"] == "features.conv0" and first["out_hw"] == [112, 112]


def test_flags_override_the_preset(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "summary", "--preset", "densenet_bc100_k12", "--growth-rate", "24", "--input-size", "64x48", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["config"]["growth_rate"] == 24 and data["config"]["block_config"] == [16, 16, 16]
    assert data["input"] == {"batch": 1, "height": 64, "width": 48}


def test_verify_passes_and_prints_the_comparison(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", "--preset", "tiny")
    assert code == 0
    assert "features.denseblock2.denselayer1" in out
    assert "verified: all" in out


def test_torchinfo_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "summary", "--preset", "tiny", "--torchinfo")
    assert code == 0
    assert "Total params: 20,266" in out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--growth-rate", "0"], "growth_rate must be an integer from 1 to 128; got 0."),
        (["--growth-rate", "-3"], "got -3"),
        (["--growth-rate", "1000000000"], "got 1000000000"),
        (["--growth-rate", "abc"], "got 'abc'"),
        (["--block-config", ""], "block_config must be"),
        (["--block-config", "6,,12"], "got '6,,12'"),
        (["--block-config", "0"], "got 0"),
        (["--compression", "0"], "compression must be a number θ with 0 < θ ≤ 1"),
        (["--compression", "1.5"], "got 1.5"),
        (["--input-size", "16"], "must be at least 29 pixels"),
        (["--batch", "4096"], "over the memory budget of 4.00 GiB"),
        (["--budget", "1MiB"], "over the memory budget of 1.00 MiB"),
        (["--budget", "lots"], "--budget"),
        (["--stem", "vgg"], "stem must be one of imagenet, cifar"),
        (["--preset", "resnet"], "preset must be one of"),
        (["--nonsense"], "unrecognized arguments: --nonsense"),
    ],
)
def test_bad_flags_exit_with_one_sentence(capsys: pytest.CaptureFixture[str], args: list[str], fragment: str) -> None:
    code, out, err = run(capsys, "summary", *args)
    assert code == 2
    assert out == ""
    assert fragment in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_console_script_runs_without_traceback() -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "densviz", "summary", "--preset", "tiny"], capture_output=True, text=True, timeout=120
    )
    assert ok.returncode == 0 and "20.3 k" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "densviz", "verify", "--compression", "2"], capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == "densviz: error: compression must be a number θ with 0 < θ ≤ 1; got 2.0."


def test_summary_matches_its_golden_file(capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest) -> None:
    code, out, err = run(capsys, "summary", "--preset", "densenet121")
    assert code == 0 and err == ""
    check_golden(request, "summary_densenet121.txt", out)


def test_every_command_is_listed_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    listed = [line.split()[0] for line in out.splitlines() if re.match(r"    \w", line)]
    assert listed == [
        "presets",
        "summary",
        "verify",
        "export",
        "compare",
        "explore",
        "run",
        "profile",
        "reuse",
        "cam",
        "app",
    ]
