"""The three-phase map from the two single-region VAEs: ferromagnet, superantiferromagnet, paramagnet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from physml.analysis.common import Predictions
from physml.analysis.j1j2.boundaries import boundary_from_eps, eps_plateaus, eps_threshold
from physml.analysis.j1j2.grid import Grid, chain_curves, grid_average

REGIONS = ("low_J2", "high_J2")
PHASE_NAMES = ("ferromagnet", "superantiferromagnet", "paramagnet")
PHASE_OF_REGION = {"low_J2": "ferromagnet", "high_J2": "superantiferromagnet"}


def guess_region(predictions: Predictions) -> str:
    """Which ordered region a run was trained on: the end of the J2 axis it reconstructs best."""
    test = predictions["test"]
    g = grid_average(test["T"], test["J2"], test["eps"])
    return "low_J2" if g.mean[0, 0] <= g.mean[-1, 0] else "high_J2"


def three_phase_map(
    eps_fm: np.ndarray,
    eps_saf: np.ndarray,
    thr_fm: float,
    thr_saf: float,
    plateaus_fm: tuple[float, float],
    plateaus_saf: tuple[float, float],
) -> np.ndarray:
    """0 ferromagnet, 1 superantiferromagnet, 2 paramagnet (by exclusion), per grid point.

    A point belongs to an ordered phase when that region's VAE reconstructs it (ε below its
    threshold); if both do, the one with the smaller normalised error (ε − in)/(out − in).
    """
    fm = eps_fm < thr_fm
    saf = eps_saf < thr_saf
    nf = (eps_fm - plateaus_fm[0]) / max(plateaus_fm[1] - plateaus_fm[0], 1e-12)
    ns = (eps_saf - plateaus_saf[0]) / max(plateaus_saf[1] - plateaus_saf[0], 1e-12)
    phase = np.full(eps_fm.shape, 2, dtype=np.int64)
    phase[fm & ~saf] = 0
    phase[saf & ~fm] = 1
    both = fm & saf
    phase[both & (nf <= ns)] = 0
    phase[both & (nf > ns)] = 1
    return phase


@dataclass
class RegionResult:
    """Everything derived from one run's test stream."""

    region: str
    grid: Grid
    eps_in: float
    eps_out: float
    threshold: float
    boundary: list[dict[str, float]]
    train_region: Mapping[str, float] | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def analyse_region(
    predictions: Predictions,
    region: str,
    train_region: Mapping[str, float] | None = None,
    threshold: float | None = None,
    dT: float | None = None,
) -> RegionResult:
    """ε grid, plateaus, threshold and the ε boundary of one run."""
    test = predictions["test"]
    grid = grid_average(test["T"], test["J2"], test["eps"])
    if train_region is None:  # not known (e.g. a report on a bare predictions.zarr)
        j = 0 if region == "low_J2" else -1
        eps_in = float(np.nanmean(grid.mean[j, : max(1, grid.T.size // 20)]))
        eps_out = float(np.nanmean(grid.mean[:, -1]))
    else:
        eps_in, eps_out = eps_plateaus(grid, train_region)
    thr = eps_threshold(eps_in, eps_out) if threshold is None else float(threshold)
    chains = chain_curves(test["index"], test["T"], test["J2"], test["eps"])
    rows = boundary_from_eps(grid, chains, thr, dT)
    return RegionResult(region, grid, eps_in, eps_out, thr, rows, train_region)


@dataclass
class PhaseMap:
    """The combined map of two single-region runs on one (J2, T) grid."""

    fm: RegionResult
    saf: RegionResult
    phase: np.ndarray  # (n_J2, n_T): 0 ferromagnet, 1 superantiferromagnet, 2 paramagnet

    def fractions(self) -> dict[str, float]:
        return {name: float((self.phase == k).mean()) for k, name in enumerate(PHASE_NAMES)}

    def boundaries(self) -> list[dict[str, float]]:
        return [
            {
                "J2": a["J2"],
                "T_c_ferromagnet": a["T_c_eps"],
                "T_c_ferromagnet_err": a["T_c_eps_err"],
                "T_c_superantiferromagnet": b["T_c_eps"],
                "T_c_superantiferromagnet_err": b["T_c_eps_err"],
            }
            for a, b in zip(self.fm.boundary, self.saf.boundary, strict=True)
        ]


def combine_regions(low: RegionResult, high: RegionResult) -> PhaseMap:
    """Three-phase map of a low-J2 (ferromagnet) and a high-J2 (superantiferromagnet) run."""
    same = low.grid.mean.shape == high.grid.mean.shape and np.allclose(low.grid.T, high.grid.T)
    if not (same and np.allclose(low.grid.J2, high.grid.J2)):
        raise ValueError(
            f"the two runs are on different (J2, T) grids: {low.grid.mean.shape} vs {high.grid.mean.shape}"
        )
    phase = three_phase_map(
        low.grid.mean,
        high.grid.mean,
        low.threshold,
        high.threshold,
        (low.eps_in, low.eps_out),
        (high.eps_in, high.eps_out),
    )
    return PhaseMap(low, high, phase)
