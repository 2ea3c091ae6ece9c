"""Pure functions from (predictions, labels, parameters) to tables and figures.

Each system has an analysis callable ``analyze(predictions, out_dir) -> AnalysisResult``
configured under ``system.analysis``; ``train.py`` runs it after testing and
``physml report`` reruns it from a saved ``predictions.zarr``.
"""

from physml.analysis.common import AnalysisResult

__all__ = ["AnalysisResult"]
