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
script is installed once per browser tab and watches this view's uploaders
(their containers carry the ``st-key-<key>`` class).

Its text never changes (the keys are written into it), so that ``densviz
app``'s Content-Security-Policy can allow it by its hash
(:func:`densviz.ui.server_hooks.inline_script_hashes` reads :data:`SCRIPT`).
This module imports nothing heavy: the server reads it when it starts.
"""

from __future__ import annotations

import streamlit as st

__all__ = ["IMAGENET_FILE_KEY", "IMAGE_KEY", "SCRIPT", "UPLOADER_KEYS", "WEIGHTS_KEY", "follow_refusals"]

IMAGE_KEY = "forward_image"
"""The uploader of an input image."""
WEIGHTS_KEY = "forward_weights"
"""The uploader of any weights file."""
IMAGENET_FILE_KEY = "forward_imagenet_file"
"""The uploader of the published ImageNet file, offered when it is not in the cache."""
UPLOADER_KEYS = (IMAGE_KEY, WEIGHTS_KEY, IMAGENET_FILE_KEY)

SCRIPT = """<script>
(function () {
  if (window.densvizFollowRefusals) { return; }
  const keys = ["forward_image", "forward_weights", "forward_imagenet_file"];
  const sweep = () => {
    for (const key of keys) {
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
  window.densvizFollowRefusals = new MutationObserver(() => {
    if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; sweep(); }); }
  });
  window.densvizFollowRefusals.observe(document.body, {childList: true, subtree: true});
  sweep();
})();
</script>"""
"""The page script, whole (``<script>`` and all): the keys in it are :data:`UPLOADER_KEYS`."""


def follow_refusals() -> None:
    """Install (once per tab) the script that empties this view's uploaders when the browser refuses a newer file."""
    st.html(SCRIPT, unsafe_allow_javascript=True, width="content")
