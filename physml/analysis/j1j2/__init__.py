"""J1-J2 VAE analysis (review §5, Figs. 5 and 6): ε maps, phase boundaries, the phase diagram.

* :mod:`~physml.analysis.j1j2.grid` — test outputs on the (J2, T) grid and per cooled chain;
* :mod:`~physml.analysis.j1j2.boundaries` — T_c(J2) from ε and from the χ peak;
* :mod:`~physml.analysis.j1j2.phase_map` — one run's region result, the three-phase map;
* :mod:`~physml.analysis.j1j2.figures` — the figures;
* :mod:`~physml.analysis.j1j2.analysis` — the per-run analysis (``system.analysis``);
* :mod:`~physml.analysis.j1j2.studies` — `physml report` studies over several runs.
"""

from physml.analysis.j1j2.analysis import J1J2Analysis

__all__ = ["J1J2Analysis"]
