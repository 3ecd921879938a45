"""The TikZ figures: their structure against channel counts worked out by hand, and pdflatex compiling them.

Expected channels (paper, Table 1; k = 32, θ = 0.5 for DenseNet-121):
block b reads k₀ and writes k₀ + 32·L; a transition keeps ⌊m/2⌋.
  DenseNet-121: stem 64 @ 56×56; blocks 64→256 @56, 128→512 @28,
  256→1024 @14, 512→1024 @7; transitions 128 @28, 256 @14, 512 @7.
  tiny (k = 8, blocks 2,2,2, k₀ = 16, CIFAR stem, θ = 0.5): stem 16 @ 32×32;
  blocks 16→32 @32, 16→32 @16, 16→32 @8; transitions 16 @16, 16 @8.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from densviz.cli import main
from densviz.core.config import PRESETS
from densviz.core.plan import make_plan
from densviz.draw.tex import block_tex, overview_tex

PDFLATEX = shutil.which("pdflatex")
needs_pdflatex = pytest.mark.skipif(
    PDFLATEX is None, reason="pdflatex is not installed (Debian: apt-get install texlive-latex-base texlive-pictures)"
)

EXPECTED = {
    "densenet121": {
        "stem": ("64", r"$56\times56$"),
        "blocks": [(64, 256, 56, 6), (128, 512, 28, 12), (256, 1024, 14, 24), (512, 1024, 7, 16)],
        "transitions": [(128, 28), (256, 14), (512, 7)],
        "classifier": (1024, 1000),
    },
    "tiny": {
        "stem": ("16", r"$32\times32$"),
        "blocks": [(16, 32, 32, 2), (16, 32, 16, 2), (16, 32, 8, 2)],
        "transitions": [(16, 16), (16, 8)],
        "classifier": (32, 10),
    },
}


def plan_of(name: str):  # type: ignore[no-untyped-def]
    return make_plan(PRESETS[name].config, PRESETS[name].input)


def node_text(tex: str, name: str) -> str:
    """The text of the TikZ node called ``name``."""
    match = re.search(r"\(" + re.escape(name) + r"\) at \([^)]*\) \{(.*)\};$", tex, re.MULTILINE)
    assert match, f"no node ({name})"
    return match.group(1)


@pytest.mark.parametrize("name", ["tiny", "densenet121"])
def test_overview_has_one_stack_per_block_with_the_right_channels(name: str) -> None:
    want = EXPECTED[name]
    tex = overview_tex(plan_of(name))
    blocks = re.findall(r"^  % block(\d+): (\d+) channels, (\d+)x(\d+)$", tex, re.MULTILINE)
    assert [(int(b), int(c), int(h)) for b, c, h, _ in blocks] == [
        (i, out, hw) for i, (_, out, hw, _) in enumerate(want["blocks"], start=1)
    ]
    assert node_text(tex, "stem-size") == "\\\\".join(want["stem"])
    for i, (c_in, c_out, hw, layers) in enumerate(want["blocks"], start=1):
        assert node_text(tex, f"block{i}-size") == f"{c_in}$\\,\\to\\,${c_out}\\\\$\\times$".replace(
            "$\\times$", f"${hw}\\times{hw}$"
        )
        assert node_text(tex, f"block{i}-name") == f"dense block {i}\\\\{layers} layers"
        # a stack: one dividing line per layer (after k₀ and after each layer but the last)
        rules = re.findall(rf"\\draw\[dvblock{i}!95!black,line width=0\.15pt\]", tex)
        assert len(rules) == layers
    for i, (c, hw) in enumerate(want["transitions"], start=1):
        assert node_text(tex, f"transition{i}-size") == f"{c}\\\\${hw}\\times{hw}$"
    assert "transition" + str(len(want["blocks"])) + "-size" not in tex  # none after the last block
    c_in, classes = want["classifier"]
    assert node_text(tex, "pool").endswith(f"[2pt]{c_in}")
    assert re.search(rf"\(classifier\) at \(\[xshift=0\.7cm\]pool\.east\) \{{linear\\\\\[2pt\]{classes}\}}", tex)


def test_the_figures_use_the_block_colours_of_every_other_view() -> None:
    tex = overview_tex(plan_of("densenet121"))
    # Tableau 10's first four (densviz/draw/palette.py), as the graph and the charts draw the blocks
    for i, colour in enumerate(("4E79A7", "F28E2B", "59A14F", "E15759"), start=1):
        assert f"\\definecolor{{dvblock{i}}}{{HTML}}{{{colour}}}" in tex
        assert f"\\fill[dvblock{i}!55]" in tex
    block = block_tex(plan_of("densenet121"), 2)
    assert "\\fill[dvblock2!100]" in block  # x₀ in the block's own colour


def test_a_short_block_is_drawn_whole_with_every_connection() -> None:
    tex = block_tex(plan_of("densenet121"), 2)  # k₀ = 128, k = 32, 12 layers
    for layer in range(1, 13):
        assert node_text(tex, f"block2-in{layer}") == str(128 + 32 * (layer - 1))  # layer 7 reads 320
        assert f"(h{layer})" in tex
    assert node_text(tex, "block2-out") == "512"
    assert "(h13)" not in tex and "elided" not in tex
    # between column ℓ and ℓ+1, one band for x₀ and one for each of x₁ … x_{ℓ−1}: Σ_{ℓ=1..12} ℓ = 78 bands
    bands = re.findall(r"\\fill\[dvblock2!\d+\] \([\d.]+,[\d.]+\) rectangle", tex)
    columns = re.findall(r"^  % column (\d+): (\d+) channels$", tex, re.MULTILINE)
    assert len(columns) == 13
    segments = sum(layer for layer, _ in ((int(a), b) for a, b in columns))  # column ℓ holds ℓ segments
    assert len(bands) == segments + 78
    assert "transition 2\\\\256 ch, $14\\times14$" in tex


def test_a_long_block_elides_its_middle_and_says_so() -> None:
    tex = block_tex(plan_of("densenet121"), 3)  # k₀ = 256, k = 32, 24 layers
    shown = [1, 2, 3, 4, 22, 23, 24]
    for layer in shown:
        assert node_text(tex, f"block3-in{layer}") == str(256 + 32 * (layer - 1))
    assert node_text(tex, "block3-out") == "1024"
    assert sorted(int(n) for n in re.findall(r"\(h(\d+)\)", tex) if True) == sorted(shown * 2)  # node + arrow each
    assert "layers\\\\5--21" in tex
    assert "Layers 5--21 are elided." in tex


def test_the_last_block_leads_to_the_head() -> None:
    tex = block_tex(plan_of("tiny"), 3)
    assert node_text(tex, "block3-out") == "32"
    assert "final norm" in tex


def test_a_block_the_plan_does_not_have_is_refused() -> None:
    with pytest.raises(ValueError, match="block must be 1 to 3; got 4"):
        block_tex(plan_of("tiny"), 4)


def test_cli_writes_the_overview_and_the_chosen_block(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--preset", "densenet121", "--formats", "tex", "--block", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out.split()
    assert out == [str(tmp_path / "densenet121-overview.tex"), str(tmp_path / "densenet121-block2.tex")]
    assert (tmp_path / "densenet121-block2.tex").read_text() == block_tex(plan_of("densenet121"), 2)
    assert main(["export", "--preset", "densenet121", "--formats", "tex", "--block", "5", "--out", str(tmp_path)]) == 2
    assert "block" in capsys.readouterr().err


def _compile(tex: str, folder: Path, stem: str) -> Path:
    (folder / f"{stem}.tex").write_text(tex)
    # uncompressed objects, so that the page's /MediaBox can be read from the file without a PDF library
    run = subprocess.run(
        [
            str(PDFLATEX),
            "-interaction=nonstopmode",
            "-halt-on-error",
            f"\\pdfcompresslevel=0\\pdfobjcompresslevel=0\\input{{{stem}.tex}}",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert "Overfull" not in run.stdout and "undefined" not in run.stdout.lower(), run.stdout[-2000:]
    return folder / f"{stem}.pdf"


def _page_size_cm(pdf: Path) -> tuple[float, float]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf.read_bytes())
    assert len(boxes) == 1, "one page"
    width, height = (float(v) / 72 * 2.54 for v in boxes[0])
    return width, height


@needs_pdflatex
def test_pdflatex_compiles_the_tiny_figures_to_cropped_pages(tmp_path: Path) -> None:
    plan = plan_of("tiny")
    for stem, tex in (("overview", overview_tex(plan)), ("block", block_tex(plan, 2))):
        width, height = _page_size_cm(_compile(tex, tmp_path, stem))
        assert (width, height) != pytest.approx((21.59, 27.94), abs=0.5)  # not a letter page: cropped
        assert (width, height) != pytest.approx((21.0, 29.7), abs=0.5)  # nor A4
        assert 5 < width < 30 and 3 < height < 15


@pytest.mark.slow
@needs_pdflatex
@pytest.mark.parametrize("name", ["densenet121", "densenet264", "densenet_bc190_k40"])
def test_pdflatex_compiles_big_networks_at_paper_width(tmp_path: Path, name: str) -> None:
    plan = plan_of(name)
    width, _ = _page_size_cm(_compile(overview_tex(plan), tmp_path, "overview"))
    assert width < 24  # a full-width figure at 80 % or more
    for block in range(1, len(plan.blocks) + 1):
        width, height = _page_size_cm(_compile(block_tex(plan, block), tmp_path, f"block{block}"))
        assert width < 24 and height < 12
