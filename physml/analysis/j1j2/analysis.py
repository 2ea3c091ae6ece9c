"""The per-run J1-J2 VAE analysis (``system.analysis``): ε map, boundaries, susceptibility, latent space."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from datamodules.j1j2 import training_region
from physml.analysis.common import AnalysisInputs, AnalysisResult
from physml.analysis.j1j2.boundaries import boundary_from_susceptibility
from physml.analysis.j1j2.figures import (
    plot_boundary,
    plot_eps_curves,
    plot_eps_map,
    plot_examples,
    plot_latent,
    plot_susceptibility,
)
from physml.analysis.j1j2.grid import chain_curves
from physml.analysis.j1j2.phase_map import PHASE_OF_REGION, REGIONS, RegionResult, analyse_region
from physml.errors import require

#: what a run needs before its ε boundary means anything
MAX_EPS_IN = 0.05  # ε inside the training region: the VAE must reconstruct its own phase
MIN_CONTRAST = 0.1  # ε_out − ε_in: the ordered and the disordered phase must look different
MIN_CROSSING_SHARE = 0.5  # of the chains at a J2 with a boundary, at least half must cross


def boundary_warnings(reg: RegionResult) -> dict[str, str]:
    """Reasons this run's ε boundary cannot be trusted (empty when there are none)."""
    out = {}
    if reg.eps_in > MAX_EPS_IN:
        out["eps_in_high"] = f"ε inside the training region is {reg.eps_in:.3f} (> {MAX_EPS_IN}): the VAE does not reconstruct its own phase"
    if reg.eps_out - reg.eps_in < MIN_CONTRAST:
        out["no_plateau_contrast"] = (
            f"ε_out − ε_in = {reg.eps_out - reg.eps_in:.3f} (< {MIN_CONTRAST}): no contrast between the phases"
        )
    weak = [
        r["J2"] for r in reg.boundary
        if math.isfinite(r["T_c_eps"]) and r["n_chains"] and r["n_chains_crossing"] < MIN_CROSSING_SHARE * r["n_chains"]
    ]
    if weak:
        out["few_chains_cross"] = f"fewer than half the chains cross the threshold at J2 = {weak}"
    return out


@dataclass
class J1J2Analysis:
    """Figures, tables and metrics of one J1-J2 VAE run; the combined map is a report study."""

    region: str
    regions: Mapping[str, Mapping[str, Any]]
    L: int
    dT: float | None = None
    examples: Sequence[Sequence[float]] = ((0.1, 0.1), (0.1, 1.975), (0.1, 4.0), (0.8, 1.575), (0.8, 0.1))
    threshold: float | None = None
    n_bootstrap: int = 200
    seed: int = 0
    train_region: dict[str, float | None] = field(init=False)

    def __post_init__(self) -> None:
        require(self.region in REGIONS, "region", f"one of {list(REGIONS)}", self.region)
        require(int(self.L) >= 2, "L", "the lattice size, integers >= 2", self.L)
        self.train_region = training_region(self.region, self.regions)

    def __call__(self, inputs: AnalysisInputs) -> AnalysisResult:
        result = AnalysisResult()
        predictions = inputs.predictions
        test = predictions["test"]
        reg = analyse_region(predictions, self.region, self.train_region, self.threshold, self.dT)
        cm = chain_curves(test["index"], test["T"], test["J2"], test["magnetisation"])
        cs = chain_curves(test["index"], test["T"], test["J2"], test["stripe"])
        frozen = None
        if "frozen" in test:  # datasets of simulator version >= 1.1 label chains that ended in domains
            frozen = np.nanmax(chain_curves(test["index"], test["T"], test["J2"], test["frozen"]).values, axis=1) > 0
        chi_rows, chi_curves = boundary_from_susceptibility(
            cm, cs, int(self.L) ** 2, self.n_bootstrap, self.seed, frozen
        )
        boundary = [
            {**a, **{k: v for k, v in b.items() if k != "J2"}} for a, b in zip(reg.boundary, chi_rows, strict=True)
        ]
        result.metrics.update(
            {
                "test/eps_mean": float(np.mean(test["eps"])),
                "eps/in_region": reg.eps_in,
                "eps/out_hot": reg.eps_out,
                "eps/contrast": reg.eps_out - reg.eps_in,
                "eps/threshold": reg.threshold,
                "boundary/n_J2_with_T_c": float(sum(math.isfinite(r["T_c_eps"]) for r in reg.boundary)),
            }
        )
        for r in boundary:  # the Ising point is a known reference
            if abs(r["J2"]) < 1e-9:
                result.metrics["boundary/T_c_chi_J2_0"] = r["T_c_chi"]
                if math.isfinite(r["T_c_eps"]):
                    result.metrics["boundary/T_c_eps_J2_0"] = r["T_c_eps"]
        finite = [(r["T_c_eps"], r["T_c_chi"]) for r in boundary if math.isfinite(r["T_c_eps"])]
        if finite:
            result.metrics["boundary/mean_abs_eps_minus_chi"] = float(np.mean([abs(a - b) for a, b in finite]))
        if frozen is not None:
            result.metrics["data/frozen_chain_fraction"] = float(np.mean(frozen))
        for name, message in boundary_warnings(reg).items():  # a run that cannot support a boundary says so
            result.metrics[f"warning/{name}"] = 1.0
            result.notes.append(message)

        phase = PHASE_OF_REGION[self.region]
        result.figures["eps_map"] = plot_eps_map(reg, f"VAE trained on {phase} ({self.region})")
        result.figures["eps_curves"] = plot_eps_curves(reg)
        result.figures["boundary"] = plot_boundary(reg, boundary)
        result.figures["susceptibility"] = plot_susceptibility(reg.grid.T, chi_curves)
        if "mu" in test:
            result.figures["latent"] = plot_latent(test["mu"], test["T"], test["J2"])
        ex = predictions.get("test_examples")
        if ex is not None and "x" in ex and "recon" in ex and len(ex["x"]):
            result.figures["examples"] = plot_examples(ex, self.examples)

        grid = reg.grid
        result.tables["boundary"] = boundary
        result.tables["eps_grid"] = [
            {
                "J2": float(j2),
                "T": float(t),
                "eps_mean": float(grid.mean[j, k]),
                "eps_std": float(grid.std[j, k]),
                "n": int(grid.count[j, k]),
            }
            for j, j2 in enumerate(grid.J2)
            for k, t in enumerate(grid.T)
        ]
        return result.with_metrics_table()
