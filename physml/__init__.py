"""physml: the shared core (store, predictions, analysis, reports, CLI)."""

__version__ = "0.1.0"
