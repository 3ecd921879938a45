"""``densviz app`` settles its heap before the first session: a full collection then walks only what sessions made."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import gc, json
from densviz.ui.heap import settle_heap
frozen = settle_heap()
import densviz.ui.page  # already imported by settle_heap: nothing new
walked = len(gc.get_objects())
print(json.dumps({"frozen": frozen, "walked": walked, "modules": "plotly.graph_objects" in __import__("sys").modules}))
"""


def test_after_settling_a_full_collection_walks_a_small_part_of_the_heap() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["modules"], "the page's imports (plotly among them) should be done by settle_heap"
    assert out["frozen"] > 50_000, out  # Streamlit, plotly, the page's modules: over a hundred thousand objects
    assert out["walked"] < out["frozen"] / 10, out


WALK = """
import json, sys
from densviz.ui.heap import settle_heap
settle_heap()
before = set(sys.modules)
from streamlit.testing.v1 import AppTest
from tests.helpers import VIEWS
at = AppTest.from_file("app.py", default_timeout=120)
at.run()
for view in VIEWS:
    at.session_state["view"] = view
    at.run()
    assert not at.exception, (view, at.exception)
new = sorted(m for m in set(sys.modules) - before if not m.startswith("streamlit.testing"))
print(json.dumps(new))
"""


def test_settling_imports_what_every_view_imports() -> None:
    """A view that imports a heavy library when first shown would add it to the heap after the freeze."""
    done = subprocess.run(
        [sys.executable, "-c", WALK], capture_output=True, text=True, timeout=600, check=True, cwd=ROOT
    )
    new = json.loads(done.stdout.strip().splitlines()[-1])
    packages = sorted({m.rsplit(".", 1)[0] for m in new})
    assert len(new) < 40, f"{len(new)} modules imported by the views after settle_heap, from {packages}"
