"""The core: settings, configurations, the analytic plan and its memory model. No torch, plotly or streamlit."""
