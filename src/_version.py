"""The single source of normgraph's version (read by pyproject.toml and ``normgraph --version``)."""

__version__ = "0.1.0"
