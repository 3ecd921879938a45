"""The page, as ``densviz app`` serves it from the installed package (``streamlit run app.py`` runs the same).

Thin on purpose: the page lives in :mod:`densviz.ui.page`.
"""

# Streamlit runs this file as ``__main__``. Worker processes (jobs, the check against PyTorch) are
# started by ``forkserver``, which imports the parent's main file in each new process as
# ``__mp_main__``: the guard keeps them from importing the page and drawing it there.
if __name__ == "__main__":
    from densviz.ui.page import main

    main()
