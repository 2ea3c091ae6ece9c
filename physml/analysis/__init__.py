"""Analysis of runs: per-run analyses (one per system) and cross-run studies for `physml report`.

A per-run analysis is a callable ``analysis(AnalysisInputs) -> AnalysisResult`` whose
class the system spec names and whose parameters come from ``system.analysis``;
``train.py`` runs it after testing, ``physml report`` reruns it on saved predictions,
and the run store writes its figures and tables.
"""

from physml.analysis.common import AnalysisInputs, AnalysisResult

__all__ = ["AnalysisInputs", "AnalysisResult"]
