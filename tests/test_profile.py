"""Where the time goes: per-row profile, the roofline's roofs, ``densviz profile`` and its charts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from densviz.cli import profile as cli_profile
from densviz.cli.flags import Parser
from densviz.core.config import PRESETS, ConfigError, InputSpec
from densviz.core.plan import Role, make_plan
from densviz.run import bandwidth, peak, random_input
from densviz.run.profile import ProfileOptions, ProfileResult, profile_forward, row_steps

TINY = PRESETS["tiny"].config


pytestmark = pytest.mark.usefixtures("quick_roofs")  # tests/conftest.py: a small bandwidth copy, a one-kernel peak


def tiny_profile(runs: int = 3, trace: bool = False, batch: int = 2) -> ProfileResult:
    from densviz.run import build_for_run

    model, plan = build_for_run(TINY, InputSpec.square(32, batch=batch))
    x = random_input(plan.input, TINY.in_channels)
    return profile_forward(model, plan, x, ProfileOptions(device="cpu", runs=runs, warmup=1, threads=1, trace=trace))


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    parser = Parser(prog="densviz")
    cli_profile.register(parser.add_subparsers(dest="command", required=True, parser_class=Parser))
    args = parser.parse_args(argv)
    code = int(args.run(args))
    return code, capsys.readouterr().out


def test_a_dense_layer_is_split_into_its_five_steps_ending_at_its_own_module() -> None:
    plan = make_plan(TINY, InputSpec.square(32))
    layer = plan.with_role(Role.DENSE_LAYER)[0]
    steps = row_steps(plan, layer)
    assert [s for s, _ in steps] == ["concat", "norm1+relu1", "conv1", "norm2+relu2", "conv2"]
    assert steps[0][1] == (f"{layer.name}.norm1", "pre") and steps[-1][1] == (layer.name, "post")


def test_bytes_moved_of_a_dense_layer_count_each_step_from_the_plan() -> None:
    plan = make_plan(TINY, InputSpec.square(32, batch=2))
    layer = plan.with_role(Role.DENSE_LAYER)[1]  # 24 channels in, bottleneck 4·8 = 32, 8 out, 32×32
    px = 2 * 32 * 32
    c, mid, k = 24, 32, 8
    acts = 4 * c + c + mid + 2 * mid + mid + k  # concat, norm1+relu1, conv1, norm2+relu2, conv2
    expected = acts * px * 4 + 4 * layer.params
    assert bandwidth.row_bytes(plan, layer, 4) == expected
    assert bandwidth.row_bytes(plan, layer, 2) == acts * px * 2 + 4 * layer.params


def test_every_plan_row_has_a_time_and_the_steps_add_up_to_it() -> None:
    result = tiny_profile()
    plan = make_plan(TINY, InputSpec.square(32, batch=2))
    assert [r.name for r in result.rows] == [r.name for r in plan.layers]
    assert all(r.time_ms > 0 for r in result.rows)
    assert sum(r.share for r in result.rows) == pytest.approx(1.0)
    for r in result.rows:
        if r.steps:
            assert sum(t for _, t in r.steps) == pytest.approx(r.time_ms, rel=0.5)  # medians of parts
    data = result.to_dict()
    assert {"rows", "total_ms", "end_to_end_ms", "peak_gflops", "peak_source", "bandwidth_gbs"} <= set(data)
    assert {"name", "role", "time_ms", "share", "gflops", "bytes_moved", "intensity"} <= set(data["rows"][0])
    assert "copy" in result.bandwidth_source and "GEMM" in result.peak_source


def test_no_point_lies_above_the_roof() -> None:
    result = tiny_profile()
    drawn = [r for r in result.rows if r.macs > 0]
    assert drawn
    for r in drawn:
        assert r.gflops <= result.roof(r.intensity) * (1 + 1e-9), r.name


def test_a_roof_that_a_layer_beats_is_raised_to_it_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peak, "KERNELS", (lambda _d, _p: peak.KernelRate("fake GEMM", 1e-6),))
    monkeypatch.setattr(
        bandwidth, "_measure", lambda _d, threads, nbytes=None: bandwidth.Bandwidth(1e-6, "fake copy", threads)
    )
    result = tiny_profile()
    assert result.peak_gflops > 1 and "raised" in result.peak_source
    assert result.bandwidth_gbs > 1e-6 and "raised" in result.bandwidth_source
    for r in result.rows:
        if r.macs > 0:
            assert r.gflops <= result.roof(r.intensity) * (1 + 1e-9), r.name


def user_ranges(trace: dict[str, Any]) -> list[str]:
    return [e["name"] for e in trace["traceEvents"] if e.get("cat") == "user_annotation"]


def test_cli_json_and_a_chrome_trace_with_one_range_per_plan_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "sub" / "trace.json"
    argv = ["profile", "--preset", "tiny", "--batch", "2", "--device", "cpu", "--runs", "2", "--threads", "1"]
    code, out = run_cli([*argv, "--json", "--trace", str(trace)], capsys)
    assert code == 0
    data = json.loads(out)
    plan = make_plan(TINY, InputSpec.square(32, batch=2))
    assert [r["name"] for r in data["rows"]] == [r.name for r in plan.layers]
    ranges = user_ranges(json.loads(trace.read_bytes()))
    for row in plan.layers:
        assert ranges.count(row.name) == 1, row.name
    assert f"{plan.with_role(Role.DENSE_LAYER)[0].name}:conv2" in ranges


def test_cli_text_gives_the_table_the_sum_and_how_the_roofs_were_measured(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run_cli(["profile", "--preset", "tiny", "--batch", "1", "--runs", "1", "--device", "cpu"], capsys)
    assert code == 0
    assert "features.denseblock1.denselayer1" in out and "GFLOP/s" in out
    for line in ("rows' sum", "end to end", "sum / e2e", "peak ", "bandwidth "):
        assert line in out


def test_cli_refuses_a_trace_path_that_is_a_folder_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match="folder"):
        run_cli(["profile", "--preset", "tiny", "--trace", str(tmp_path)], capsys)


@pytest.mark.slow
def test_densenet121_batch_8_rows_add_up_to_the_end_to_end_latency(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(["profile", "--preset", "densenet121", "--batch", "8", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert len(data["rows"]) == len(make_plan(PRESETS["densenet121"].config).layers)
    assert all(r["time_ms"] > 0 for r in data["rows"])
    # the sum against the end-to-end latency is a ratio of two timings: benchmarks/bench_profile.py prints it
    assert (
        data["total_ms"] > 0
        and data["end_to_end_ms"] > 0
        and data["ratio"] == pytest.approx(data["total_ms"] / data["end_to_end_ms"], rel=1e-3)
    )


def test_the_charts_draw_the_roofs_and_every_point_under_them() -> None:
    from densviz.draw.charts.roofline import roofline_figure, time_share_figure

    data = tiny_profile().to_dict()
    fig = roofline_figure(data)
    roof, *points = fig.data
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert max(roof.y) == pytest.approx(data["peak_gflops"])
    for trace in points:
        for x, y in zip(trace.x, trace.y, strict=True):
            assert y <= min(data["peak_gflops"], data["bandwidth_gbs"] * x) * (1 + 1e-9)
    shares = time_share_figure(data)
    assert [t.name for t in shares.data] == ["time share", "MACs share"]
    assert sum(shares.data[0].y) == pytest.approx(1.0) and sum(shares.data[1].y) == pytest.approx(1.0)


def test_profile_says_why_the_rows_and_the_end_to_end_time_disagree() -> None:
    from densviz.cli.profile import spread_warning

    assert spread_warning(1.026, 2, 0.7, 2) is None  # within 10%: nothing to say
    assert spread_warning(0.95, 1, 9.0, 2) is None
    busy_threads = spread_warning(1.63, 2, 11.5, 2)
    assert busy_threads is not None
    assert "1.63×" in busy_threads and "load average 11.5 on 2 cores" in busy_threads
    assert "--threads 1" in busy_threads  # the remedy, since two waiting threads are the cause
    one_thread = spread_warning(0.62, 1, 8.0, 2)
    assert one_thread is not None and "0.62×" in one_thread and "--threads 1" not in one_thread
