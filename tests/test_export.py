"""Exported files: each one valid, and holding the plan's numbers."""

import csv
import io
import json
import re
import shutil
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

import densviz.export.files as export_files
from densviz.cli import main
from densviz.core.config import PRESETS, ConfigError, load_json
from densviz.core.plan import make_plan
from densviz.draw.charts import ChartKind
from densviz.draw.render import dot_available
from densviz.export import ChartImageUnavailableError, ExportFormat, chart_image, export, parse_formats

has_chromium = shutil.which("chromium") is not None or shutil.which("google-chrome") is not None
needs_tools = pytest.mark.skipif(not (dot_available() and has_chromium), reason="needs Graphviz's dot and Chromium")


def tiny_plan():  # type: ignore[no-untyped-def]
    return make_plan(PRESETS["tiny"].config, PRESETS["tiny"].input)


def test_parse_formats() -> None:
    assert parse_formats("svg, PNG,svg") == (ExportFormat.SVG, ExportFormat.PNG)
    with pytest.raises(ConfigError, match="formats must be a comma-separated list of svg, png"):
        parse_formats("svg,gif")
    with pytest.raises(ConfigError):
        parse_formats(" , ")


def test_tables_and_config_without_any_tool(tmp_path: Path) -> None:
    plan = tiny_plan()
    result = export(plan, tmp_path, ["csv", "json"])
    names = sorted(p.name for p in result.files)
    assert names == ["blocks.csv", "config.json", "layers.csv", "plan.json"]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "layers.csv").read_text())))
    assert [r["layer"] for r in rows] == [r.name for r in plan.layers]
    assert sum(int(r["params"]) for r in rows) == 20_266
    assert rows[1]["inputs"] == "features.conv0"
    assert load_json(tmp_path / "config.json") == (plan.config, plan.input)
    assert json.loads((tmp_path / "plan.json").read_text()) == json.loads(json.dumps(plan.to_dict()))
    blocks = list(csv.DictReader(io.StringIO((tmp_path / "blocks.csv").read_text())))
    assert [int(b["C out"]) for b in blocks] == [32, 32, 32]


def test_charts_fall_back_to_html_without_a_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_browser(_jobs: object) -> list[bytes]:
        raise ChartImageUnavailableError(
            "Chart images need a Chromium browser, and none is installed (apt-get install chromium)."
        )

    monkeypatch.setattr(export_files, "chart_images", no_browser)
    result = export(tiny_plan(), tmp_path, ["png"], charts=None)
    chart_files = sorted(p.name for p in result.files if p.name.startswith("chart-"))
    assert chart_files == sorted(
        f"chart-{k}.html" for k in ("channels", "volume", "cost", "connectivity", "volume3d", "memory")
    )
    assert any("apt-get install chromium" in n for n in result.notes)


def test_chart_html_works_offline(tmp_path: Path) -> None:
    export(tiny_plan(), tmp_path, ["html"])
    page = (tmp_path / "chart-channels.html").read_text()
    assert '<script src="http' not in page  # nothing fetched
    assert "Plotly.newPlot" in page and len(page) > 1_000_000  # plotly.js itself is inside


@needs_tools
def test_every_format_is_valid(tmp_path: Path) -> None:
    charts = [ChartKind.CHANNELS, ChartKind.VOLUME_3D, ChartKind.MEMORY]  # one of each kind of figure
    result = export(tiny_plan(), tmp_path, ["svg", "png", "pdf", "dot", "html", "csv", "json"], charts=charts)
    files = {p.name: p for p in result.files}
    for name in ("graph-dense.svg", "chart-channels.svg"):
        ET.fromstring(files[name].read_bytes())  # parses as XML
    svg = files["graph-dense.svg"].read_text()
    assert all(node in svg for node in ("features.conv0", "features.denseblock3.denselayer2", "classifier"))
    for name in ("graph-dense.png", "chart-channels.png", "chart-volume3d.png"):
        assert files[name].read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), name
    for name in ("graph-dense.pdf", "chart-memory.pdf"):
        assert files[name].read_bytes().startswith(b"%PDF-"), name
    assert files["graph-dense.dot"].read_text().startswith("digraph densenet {")
    assert "<svg" in files["graph-dense.html"].read_text()
    assert "chart-volume3d.svg" not in files  # a WebGL scene is exported as PNG only, with a note
    assert any("3-D volume chart" in n for n in result.notes)


@needs_tools
def test_zip_holds_what_was_asked(tmp_path: Path) -> None:
    result = export(tiny_plan(), tmp_path, ["zip"], charts=[], name="tiny")
    assert [p.name for p in result.files] == ["tiny.zip"]
    with zipfile.ZipFile(tmp_path / "tiny.zip") as zf:
        names = set(zf.namelist())
        stored = [i.filename for i in zf.infolist() if i.compress_type != zipfile.ZIP_DEFLATED]
        svg = zf.getinfo("tiny/graph-dense.svg")
    assert stored == []  # every member deflated: text files shrink several times
    assert svg.compress_size < svg.file_size / 2
    assert {
        "tiny/graph-dense.svg",
        "tiny/graph-dense.png",
        "tiny/graph-dense.pdf",
        "tiny/graph-dense.dot",
        "tiny/layers.csv",
        "tiny/config.json",
    } <= names
    both = export(tiny_plan(), tmp_path / "b", ["csv", "zip"], name="tiny")
    assert sorted(p.name for p in both.files) == ["blocks.csv", "layers.csv", "tiny.zip"]
    with zipfile.ZipFile(tmp_path / "b" / "tiny.zip") as zf:
        assert sorted(zf.namelist()) == ["tiny/blocks.csv", "tiny/layers.csv"]


@pytest.mark.skipif(not has_chromium, reason="needs Chromium")
def test_concurrent_chart_images_are_not_mixed_up() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from densviz.draw.charts import channel_growth_figure

    figs = [
        channel_growth_figure(make_plan(PRESETS[n].config, PRESETS[n].input))
        for n in ("tiny", "densenet121", "densenet_bc100_k12")
    ]
    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(lambda f: chart_image(f, "svg"), figs * 2))
    # each figure's subtitle names its own k: every image came back to its caller
    for fig, image in zip(figs * 2, together, strict=True):
        k = fig.layout.title.text.split("adds k = ")[1].split(";")[0]
        assert f"adds k = {k};".encode() in image


def test_cli_export_bad_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for args, fragment in (
        (["--formats", "gif"], "formats must be"),
        (["--detail", "full"], "detail must be one of dense, chain, overview"),
        (["--block", "9"], "block must be a block number from 1 to 3"),
        (["--block", "two"], "block must be an integer from 1 to 16; got 'two'"),
        (["--direction", "up"], "direction must be TB"),
    ):
        code = main(["export", "--preset", "tiny", "--out", str(tmp_path), *args])
        err = capsys.readouterr().err
        assert code == 2, args
        assert fragment in err and len(err.strip().splitlines()) == 1, err


def test_cli_export_writes_and_lists_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["export", "--preset", "tiny", "--out", str(tmp_path), "--formats", "csv,json"])
    out = capsys.readouterr().out.split()
    assert code == 0
    assert sorted(Path(p).name for p in out) == ["blocks.csv", "config.json", "layers.csv", "plan.json"]


def test_cli_export_passes_the_graph_flags(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = ["export", "--preset", "tiny", "--out", str(tmp_path), "--formats", "dot"]
    code = main([*args, "--detail", "chain", "--block", "2", "--direction", "LR", "--show-cost"])
    assert code == 0
    assert [Path(p).name for p in capsys.readouterr().out.split()] == ["graph-chain-block2.dot"]
    dot = (tmp_path / "graph-chain-block2.dot").read_text()
    assert "rankdir=LR" in dot and re.search(r"params · [^<]*MACs</FONT>", dot)  # the costs are in the labels
    assert main([*args, "--max-full-layers", "-1"]) == 2
    assert "max_full_layers must be an integer from 1 to 24; got -1." in capsys.readouterr().err


def _pdf_title(data: bytes) -> str:
    """The title a reader shows: the Info dictionary the last trailer names."""
    import re

    info = re.findall(rb"/Info\s+(\d+)\s+0\s+R", data)[-1]
    obj = re.search(rb"\n" + info + rb" 0 obj\s*<<(.*?)>>", data, re.S)
    assert obj is not None
    title = re.search(rb"/Title\s*(<[0-9A-Fa-f]+>|\((?:[^)\\]|\\.)*\))", obj.group(1))
    assert title is not None
    raw = title.group(1)
    if raw.startswith(b"<"):
        return bytes.fromhex(raw[1:-1].decode()).decode("utf-16")
    return raw[1:-1].decode("latin-1")


@needs_tools
def test_chart_pdfs_carry_the_charts_title() -> None:
    from densviz.draw.charts import make_chart

    fig = make_chart(tiny_plan(), ChartKind.CHANNELS)
    try:
        pdf = chart_image(fig, "pdf")
    except ChartImageUnavailableError:  # pragma: no cover (needs_tools says there is one)
        pytest.fail("chromium is installed but no chart image was made")
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    assert _pdf_title(pdf) == "Channel growth"  # not Chromium's page title "Kaleido-fier"


def test_retitling_appends_an_update_and_keeps_every_original_byte() -> None:
    from densviz.export.images import retitle_pdf

    original = (
        b"%PDF-1.4\n1 0 obj\n<</Title (Kaleido-fier)>>\nendobj\n2 0 obj\n<</Type /Catalog>>\nendobj\n"
        b"xref\n0 3\n0000000000 65535 f \n0000000009 00000 n \n0000000050 00000 n \n"
        b"trailer\n<</Size 3\n/Root 2 0 R\n/Info 1 0 R>>\nstartxref\n84\n%%EOF\n"
    )
    out = retitle_pdf(original, "Wachstum θ")
    assert out.startswith(original)  # an incremental update: nothing before it moves
    assert _pdf_title(out) == "Wachstum θ"
    assert b"/Prev 84" in out and b"/Size 4" in out
    assert retitle_pdf(b"not a pdf", "x") == b"not a pdf"


# --- ONNX and TeX (issue 13) --------------------------------------------------------------


def test_parse_formats_knows_onnx_and_tex() -> None:
    assert parse_formats("onnx,TEX,csv") == (ExportFormat.ONNX, ExportFormat.TEX, ExportFormat.CSV)
    assert ExportFormat.ONNX not in export_files.DEFAULT_FORMATS  # seconds of work: only when named
    with pytest.raises(ConfigError, match="onnx, tex, zip"):
        parse_formats("onnx,pptx")


def test_tex_files_go_into_the_zip(tmp_path: Path) -> None:
    result = export(tiny_plan(), tmp_path, ["tex", "zip"], name="tiny")
    assert [p.name for p in result.files] == ["tiny.zip", "tiny-overview.tex", "tiny-block1.tex"]
    with zipfile.ZipFile(tmp_path / "tiny.zip") as zf:
        assert sorted(zf.namelist()) == ["tiny/tiny-block1.tex", "tiny/tiny-overview.tex"]
        assert zf.read("tiny/tiny-overview.tex") == (tmp_path / "tiny-overview.tex").read_bytes()


def test_an_onnx_export_over_the_budget_writes_nothing(tmp_path: Path) -> None:
    plan = make_plan(PRESETS["densenet121"].config, PRESETS["densenet121"].input)
    with pytest.raises(ConfigError, match="over the memory budget"):
        export(plan, tmp_path / "out", ["csv", "onnx"], budget_bytes=16 << 20)
    assert not (tmp_path / "out").exists()  # refused before the folder was made
