"""The script Streamlit runs when ``densviz app`` serves the page from the installed package.

A folder of its own: Streamlit puts the script's folder first on ``sys.path``,
and here that adds no module names but this one.
"""
