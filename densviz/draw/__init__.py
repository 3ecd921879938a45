"""Pictures of a plan: the concatenation graph (plain data), its Graphviz rendering, plotly charts."""
