"""Everything that imports streamlit: the page, its state, its cached calls and its views."""
