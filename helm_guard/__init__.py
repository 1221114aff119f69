"""helm-guard: no shop's Worker may bind another shop's data."""

__version__ = "0.1.0"
