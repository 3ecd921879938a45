"""The page with its Growth view drawn by :mod:`densviz.ui.growth`, for the tests and ``benchmarks/bench_browser.py``.

The same page as ``app.py`` (``densviz.ui.page.main``), its first view pointed at
:func:`densviz.ui.growth.growth_view`; once the page's own table of views
points there, this changes nothing.
"""

# Guarded as app.py is: worker processes import the main file as ``__mp_main__``.
if __name__ == "__main__":
    from densviz.ui import page
    from densviz.ui.growth import growth_view

    page.VIEWS["Growth"] = growth_view
    page.main()
