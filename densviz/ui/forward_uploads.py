"""The Forward pass view's uploaders hold what the user last chose, also when the browser refuses a file.

Streamlit's single-file uploader checks a file's size and type in the browser.
A refused file is listed with its reason ("File must be 20.0MB or smaller."),
but the file uploaded before it stays loaded (Streamlit 1.67's uploader
replaces the earlier file only when the new one is accepted) and the server is
never told: a Run after the refusal ran on the earlier file and reported that
file's problems. The state must follow what the user last did, so a small
script in the page does what the user meant by choosing a new file: when an
uploader of this view lists a refused file, it removes every file chosen
before it (pressing its remove button, as the user could), and the server
hears that the uploader is empty. The refusal's reason stays next to the
uploader.

The uploader lists its files oldest first; only the files older than the
newest refused one are removed, so a file accepted after a refusal stays. The
script is installed once per browser tab and watches the uploaders whose keys
it was given (their containers carry the ``st-key-<key>`` class).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import streamlit as st

__all__ = ["follow_refusals"]

_SCRIPT = """<script>
(function () {
  const seen = window.densvizFollowRefusals || (window.densvizFollowRefusals = {keys: new Set(), observer: null});
  __KEYS__.forEach((key) => seen.keys.add(key));
  if (seen.observer) { return; }
  const sweep = () => {
    for (const key of seen.keys) {
      for (const box of document.querySelectorAll(`.st-key-${key} [data-testid="stFileUploader"]`)) {
        const chips = [...box.querySelectorAll('[data-testid="stFileChip"]')];
        const refused = chips.map((chip) => chip.querySelector('[data-testid="stFileChipIconError"]') !== null);
        const newest = refused.lastIndexOf(true);
        for (let i = 0; i < newest; i++) {
          if (!refused[i]) {  // chosen before the refused file: the user has replaced it
            chips[i].querySelector('[data-testid="stFileChipDeleteBtn"] button')?.click();
          }
        }
      }
    }
  };
  let queued = false;
  seen.observer = new MutationObserver(() => {
    if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; sweep(); }); }
  });
  seen.observer.observe(document.body, {childList: true, subtree: true});
  sweep();
})();
</script>"""


def follow_refusals(keys: Sequence[str]) -> None:
    """Install (once per tab) the script that empties these uploaders when the browser refuses a newer file.

    Args:
        keys: The uploaders' widget keys (letters, digits and underscores).
    """
    if not all(k.replace("_", "").isalnum() for k in keys):
        raise ValueError(f"uploader keys must be letters, digits and underscores; got {list(keys)}")
    st.html(_SCRIPT.replace("__KEYS__", json.dumps(list(keys))), unsafe_allow_javascript=True, width="content")
