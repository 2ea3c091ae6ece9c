"""`physml report` studies of several J1-J2 runs: the combined phase map, and the boundary against L."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from datamodules.j1j2 import training_region
from physml.analysis.common import AnalysisResult
from physml.analysis.j1j2.figures import plot_phase_map
from physml.analysis.j1j2.phase_map import analyse_region, combine_regions
from physml.analysis.studies import Study, setting_label
from physml.runstore import RunRecord

#: the fields that fix a run's (J2, T) grid: a low-J2 and a high-J2 run pair only on the same grid
GRID_KEYS = ("L", "J2_values", "T_max", "T_min", "dT")


class PhaseMapStudy(Study):
    """Review Fig. 6(c): the three-phase map from a low-J2 and a high-J2 run on the same grid."""

    name = "phase_map"

    def groups(self, runs: Sequence[RunRecord]) -> list[list[RunRecord]]:
        by_setting: dict[str, dict[str, RunRecord]] = defaultdict(dict)
        for run in runs:
            if run.system == "j1j2":
                # the region may come from the experiment file (j1j2_vae_low_j2 / _high_j2), so the
                # experiment is not part of the key; the (L, J2, T) grid the map needs is
                label = setting_label(run, ignore=("seed", "system.region", "experiment"))
                grid = " ".join(f"{k}={run.setting('system.' + k)}" for k in GRID_KEYS)
                key = f"{label} {grid} seed={run.setting('seed')}"
                by_setting[key].setdefault(str(run.setting("system.region")), run)
        return [[pair["low_J2"], pair["high_J2"]] for pair in by_setting.values() if {"low_J2", "high_J2"} <= set(pair)]

    def __call__(self, runs: Sequence[RunRecord]) -> AnalysisResult:
        regions = []
        for run in runs:
            region = str(run.setting("system.region"))
            bounds = training_region(region, run.setting("system.regions"))
            threshold = run.setting("system.analysis.threshold")
            regions.append(analyse_region(run.predictions(), region, bounds, threshold))
        low, high = sorted(regions, key=lambda r: r.region != "low_J2")
        phase_map = combine_regions(low, high)
        result = AnalysisResult(tables={"phase_boundaries": phase_map.boundaries()})
        result.metrics.update({f"phase_map/fraction_{k}": v for k, v in phase_map.fractions().items()})
        result.figures["phase_map"] = plot_phase_map(phase_map)
        return result


def chain_spread(rows: Iterable[dict[str, float]]) -> float:
    """Mean over J2 of the standard deviation of single-chain crossing temperatures."""
    spreads = [
        r["T_c_eps_chain_sem"] * math.sqrt(r["n_chains_crossing"])
        for r in rows
        if math.isfinite(r.get("T_c_eps_chain_sem", math.nan)) and r.get("n_chains_crossing", 0) > 1
    ]
    return float(np.mean(spreads)) if spreads else math.nan


def mean_eps_chi_gap(rows: Iterable[dict[str, float]]) -> float:
    gaps = [
        abs(r["T_c_eps"] - r["T_c_chi"])
        for r in rows
        if math.isfinite(r["T_c_eps"]) and math.isfinite(r.get("T_c_chi", math.nan))
    ]
    return float(np.mean(gaps)) if gaps else math.nan


class BoundarySizeStudy(Study):
    """How the VAE boundary sharpens with L (review §5.2): T_c(J2) from ε per L, and its spread."""

    name = "boundary_vs_size"

    def groups(self, runs: Sequence[RunRecord]) -> list[list[RunRecord]]:
        having = [r for r in runs if r.system == "j1j2" and "boundary" in r.tables]
        return [having] if len({r.setting("system.L") for r in having}) >= 2 else []

    def __call__(self, runs: Sequence[RunRecord]) -> AnalysisResult:
        found = sorted(
            ((int(r.setting("system.L")), str(r.setting("system.region")), r.tables["boundary"]) for r in runs),
            key=lambda t: (t[0], t[1]),
        )
        table = [
            {"region": region, "L": L, "chain_spread_T_c": chain_spread(rows), "mean_abs_eps_minus_chi": mean_eps_chi_gap(rows)}
            for L, region, rows in found
        ]
        result = AnalysisResult(tables={"boundary_vs_size": table})
        for row in table:
            result.metrics[f"sizes/{row['region']}/L{row['L']}/chain_spread_T_c"] = row["chain_spread_T_c"]
        result.figures["boundary_vs_size"] = plot_boundary_vs_size(found)
        result.figures["sharpness_vs_size"] = plot_sharpness(table)
        return result


def plot_boundary_vs_size(found: list[tuple[int, str, list[dict[str, float]]]]) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = sorted({L for L, _, _ in found})
    colour_of = dict(zip(sizes, plt.cm.viridis(np.linspace(0, 0.85, len(sizes))), strict=True))
    for L, region, rows in found:
        ax.errorbar(
            [r["J2"] for r in rows],
            [r["T_c_eps"] for r in rows],
            yerr=[r["T_c_eps_err"] for r in rows],
            fmt="o-" if region == "low_J2" else "s--",
            color=colour_of[L],
            capsize=3,
            label=f"L = {L} ({region})",
        )
    L_max, _, rows_max = found[-1]
    ax.plot([r["J2"] for r in rows_max], [r.get("T_c_chi", math.nan) for r in rows_max], "kx", label=f"χ peak, L = {L_max}")
    ax.set_xlabel("$J_2$")
    ax.set_ylabel(r"$T_c$ from $\varepsilon$")
    ax.legend(fontsize=8)
    return fig


def plot_sharpness(table: list[dict[str, float]]) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 4))
    for region in sorted({row["region"] for row in table}):
        sel = [row for row in table if row["region"] == region]
        ax.plot([row["L"] for row in sel], [row["chain_spread_T_c"] for row in sel], "o-", label=region)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("L")
    ax.set_ylabel(r"chain-to-chain spread of $T_c$")
    ax.set_title("the ML boundary sharpens with L")
    ax.legend()
    return fig


def normalised_order(eps: np.ndarray, eps_in: float, eps_out: float) -> np.ndarray:
    """An order parameter from ε: 1 where the VAE reconstructs like its training phase, 0 like the hot one."""
    return (eps_out - np.asarray(eps, dtype=np.float64)) / max(eps_out - eps_in, 1e-12)


def size_crossing(T: np.ndarray, small: np.ndarray, large: np.ndarray) -> float:
    """Where the larger size's order falls below the smaller's (sharper transition), interpolated; NaN if never.

    Only crossings where both orders lie between 0.1 and 0.9 count, so that flat noise in
    either phase cannot make one; of those, the coldest is taken.
    """
    d = large - small
    mid = 0.5 * (large + small)
    ok = (d[:-1] > 0) & (d[1:] <= 0) & (np.maximum(mid[:-1], mid[1:]) > 0.1) & (np.minimum(mid[:-1], mid[1:]) < 0.9)
    k = np.flatnonzero(ok)
    if not len(k):
        return math.nan
    i = int(k[0])
    return float(T[i] + d[i] * (T[i + 1] - T[i]) / (d[i] - d[i + 1]))


class EpsCrossingStudy(Study):
    """A threshold-free boundary: T_c(J2) where the ε-derived order parameters of two sizes cross.

    The midpoint of ε sits above T_c at finite L (in effect a ⟨|m|⟩ ≈ 1/2 threshold); like a
    Binder cumulant, the normalised order (ε_out − ε)/(ε_out − ε_in) of a larger lattice is
    higher below T_c and lower above it, so two sizes cross near T_c whatever threshold
    one would pick. Runs of one region are averaged over seeds per size; the smallest and
    the largest size are compared.
    """

    name = "eps_crossing"

    def groups(self, runs: Sequence[RunRecord]) -> list[list[RunRecord]]:
        by_region: dict[str, list[RunRecord]] = defaultdict(list)
        for run in runs:
            if run.system == "j1j2" and "eps_grid" in run.tables and "eps/in_region" in run.metrics:
                by_region[str(run.setting("system.region"))].append(run)
        return [g for g in by_region.values() if len({r.setting("system.L") for r in g}) >= 2]

    def __call__(self, runs: Sequence[RunRecord]) -> AnalysisResult:
        sizes = sorted({int(r.setting("system.L")) for r in runs})
        curves = {L: self._mean_order([r for r in runs if int(r.setting("system.L")) == L]) for L in (sizes[0], sizes[-1])}
        small, large = curves[sizes[0]], curves[sizes[-1]]
        rows = []
        for j2 in sorted(set(small) & set(large)):
            T, o_small = small[j2]
            T2, o_large = large[j2]
            tc = size_crossing(T, o_small, o_large) if np.allclose(T, T2) else math.nan
            rows.append({"J2": j2, "T_c_crossing": tc, "sizes": f"{sizes[0]},{sizes[-1]}"})
        region = str(runs[0].setting("system.region"))
        result = AnalysisResult(tables={"eps_crossing": rows})
        result.metrics[f"eps_crossing/{region}/n_J2"] = float(sum(math.isfinite(r["T_c_crossing"]) for r in rows))
        result.figures[self.name] = plot_crossings(curves, rows, region)
        return result

    @staticmethod
    def _mean_order(runs: Sequence[RunRecord]) -> dict[float, tuple[np.ndarray, np.ndarray]]:
        """J2 -> (T ascending, seed-averaged normalised order)."""
        per: dict[float, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
        for run in runs:
            e_in, e_out = run.metrics["eps/in_region"], run.metrics["eps/out_hot"]
            for row in run.tables["eps_grid"]:
                value = float(normalised_order(np.array([row["eps_mean"]]), e_in, e_out)[0])
                per[round(float(row["J2"]), 5)][round(float(row["T"]), 5)].append(value)
        out = {}
        for j2, by_t in per.items():
            T = np.array(sorted(by_t))
            out[j2] = (T, np.array([np.mean(by_t[t]) for t in T]))
        return out


def plot_crossings(curves: dict[int, dict[float, tuple[np.ndarray, np.ndarray]]], rows: list[dict[str, Any]], region: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = plt.cm.plasma(np.linspace(0, 0.9, max(len(rows), 1)))
    for colour, row in zip(colours, rows, strict=False):
        for (_size, curve), style in zip(sorted(curves.items()), ("--", "-"), strict=False):
            T, order = curve[row["J2"]]
            ax.plot(T, order, style, color=colour, lw=1, label=f"J2 = {row['J2']:g}" if style == "-" else None)
        if math.isfinite(row["T_c_crossing"]):
            ax.axvline(row["T_c_crossing"], color=colour, lw=0.6, ls=":")
    ax.set_xlabel("T")
    ax.set_ylabel(r"$(\varepsilon_{out} - \varepsilon)/(\varepsilon_{out} - \varepsilon_{in})$")
    ax.set_title(f"{region}: dashed L = {min(curves)}, solid L = {max(curves)}")
    ax.legend(fontsize=6, ncol=2)
    return fig
