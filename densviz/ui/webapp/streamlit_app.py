"""The page, as ``densviz app`` serves it from the installed package (``streamlit run app.py`` runs the same).

Thin on purpose: the page lives in :mod:`densviz.ui.page`.
"""

from densviz.ui.page import main

main()
