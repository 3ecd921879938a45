"""densviz in the browser: ``make run``, or ``streamlit run app.py``.

Thin on purpose: the page lives in :mod:`densviz.ui`.
"""

from densviz.ui.page import main

main()
