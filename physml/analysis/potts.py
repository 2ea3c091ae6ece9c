"""Potts analysis: where a classifier trained far from T_c puts the transition, against the exact T_c.

Per run: the mean predicted probability of "ordered" at every temperature of the test
stream, its crossing of 1/2 (the network's T_c(L)) with a bootstrap error, accuracy far
from and near T_c, and the Potts order parameter of the same configurations (the
physics the network is compared with). Across runs (a `physml report` study): T_c(L)
against L, extrapolated as T_c(L) = T_c + a L^(-1/ν) with the exact ν.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from datamodules.potts import SPEC, ordered
from physml.analysis.common import AnalysisInputs, AnalysisResult, confusion_matrix, plot_confusion
from physml.analysis.studies import Study
from physml.constants import NU_POTTS_2D, potts_critical_temperature
from physml.errors import require
from physml.runstore import RunRecord


# ---- computations ---------------------------------------------------------------------------
def curve_by_temperature(T: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(temperatures, mean, standard error) of a per-sample quantity."""
    grid = np.unique(np.round(np.asarray(T, dtype=np.float64), 6))
    rounded = np.round(np.asarray(T, dtype=np.float64), 6)
    mean = np.array([values[rounded == t].mean() for t in grid])
    sem = np.array([values[rounded == t].std(ddof=1) / math.sqrt(max((rounded == t).sum(), 1)) for t in grid])
    return grid, mean, np.nan_to_num(sem)


def half_crossing(T: np.ndarray, p_ordered: np.ndarray) -> float:
    """The temperature where the mean P(ordered) falls through 1/2 (linear interpolation); NaN if never."""
    above = p_ordered >= 0.5
    k = np.flatnonzero(above[:-1] & ~above[1:])
    if not len(k):
        return math.nan
    i = int(k[0])
    return float(T[i] + (p_ordered[i] - 0.5) * (T[i + 1] - T[i]) / (p_ordered[i] - p_ordered[i + 1]))


def bootstrap_crossing(T: np.ndarray, p: np.ndarray, n: int = 200, seed: int = 0) -> float:
    """Standard deviation of the crossing over resamplings of the test samples at each temperature."""
    rng = np.random.default_rng(seed)
    rounded = np.round(np.asarray(T, dtype=np.float64), 6)
    grid = np.unique(rounded)
    groups = [p[rounded == t] for t in grid]
    found = []
    for _ in range(n):
        curve = np.array([g[rng.integers(0, len(g), len(g))].mean() for g in groups])
        found.append(half_crossing(grid, curve))
    found = np.array(found)
    found = found[np.isfinite(found)]
    return float(found.std(ddof=1)) if found.size > 1 else math.nan


# ---- figures --------------------------------------------------------------------------------
def plot_transition(
    grid: np.ndarray, p: np.ndarray, p_err: np.ndarray, order: np.ndarray, tc_net: float, tc_exact: float, L: int
) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(grid, p, yerr=p_err, fmt="o-", ms=3, capsize=2, label="network: mean P(ordered)")
    ax.plot(grid, order, "s--", ms=3, mfc="none", label="order parameter ⟨m⟩ (physics)")
    ax.axhline(0.5, color="gray", lw=0.6)
    ax.axvline(tc_exact, color="k", lw=0.8, label=f"exact $T_c$ = {tc_exact:.4f}")
    if math.isfinite(tc_net):
        ax.axvline(tc_net, color="tab:red", ls=":", label=f"network $T_c(L={L})$ = {tc_net:.4f}")
    ax.set_xlabel("T")
    ax.set_ylabel("probability / order")
    ax.legend(fontsize=8)
    return fig


# ---- the analysis -----------------------------------------------------------------------------
@dataclass
class PottsAnalysis:
    """Metrics, tables and figures of one Potts run."""

    target: str
    q: int
    L: int
    exclude_window: float = 0.2
    n_bootstrap: int = 200

    def __post_init__(self) -> None:
        require(self.target in SPEC.targets, "target", f"one of {sorted(SPEC.targets)}", self.target)

    def __call__(self, inputs: AnalysisInputs) -> AnalysisResult:
        result = AnalysisResult()
        test = inputs.predictions["test"]
        T = np.asarray(test["T"], dtype=np.float64)
        tc = potts_critical_temperature(self.q)
        grid, order, _ = curve_by_temperature(T, np.asarray(test["order"], dtype=np.float64))
        rows = [{"T": float(t), "T/T_c": float(t / tc), "order": float(m)} for t, m in zip(grid, order, strict=True)]
        if self.target == "phase":
            truth = ordered(T, tc)
            p = np.asarray(test["probs"][:, 1], dtype=np.float64)
            far = np.abs(T / tc - 1.0) >= self.exclude_window
            _, p_mean, p_err = curve_by_temperature(T, p)
            tc_net = half_crossing(grid, p_mean)
            result.metrics.update(
                {
                    "test/acc": float((test["pred"] == truth).mean()),
                    "test/acc_far": float((test["pred"][far] == truth[far]).mean()) if far.any() else math.nan,
                    "test/acc_near": float((test["pred"][~far] == truth[~far]).mean()) if (~far).any() else math.nan,
                    "tc/network": tc_net,
                    "tc/network_err": bootstrap_crossing(T, p, self.n_bootstrap),
                    "tc/exact": tc,
                    "tc/relative_error": tc_net / tc - 1.0,
                }
            )
            for row, m, e in zip(rows, p_mean, p_err, strict=True):
                row["p_ordered"], row["p_ordered_err"] = float(m), float(e)
            result.figures["transition"] = plot_transition(grid, p_mean, p_err, order, tc_net, tc, self.L)
            cm = confusion_matrix(truth, test["pred"], 2)
            result.figures["confusion_phase"] = plot_confusion(cm, ["disordered", "ordered"], f"phase, q = {self.q}, L = {self.L}")
        else:
            pred = np.asarray(test["pred"], dtype=np.float64)
            result.metrics["test/mse"] = float(np.mean((pred - T) ** 2))
            _, pred_mean, _ = curve_by_temperature(T, pred)
            for row, m in zip(rows, pred_mean, strict=True):
                row["T_pred"] = float(m)
        result.tables["by_temperature"] = rows
        return result.with_metrics_table()


# ---- across runs: T_c(L) against L ---------------------------------------------------------------
class CriticalTemperatureVsSize(Study):
    """The network's T_c(L) over a size multirun, extrapolated with the exact ν: T_c(L) = T_c + a L^(-1/ν)."""

    name = "tc_vs_size"

    def groups(self, runs: Sequence[RunRecord]) -> list[list[RunRecord]]:
        having = [r for r in runs if r.system == "potts" and math.isfinite(r.metrics.get("tc/network", math.nan))]
        by_q: dict[int, list[RunRecord]] = {}
        for run in having:
            by_q.setdefault(int(run.setting("system.q")), []).append(run)
        return [group for group in by_q.values() if len({r.setting("system.L") for r in group}) >= 2]

    def __call__(self, runs: Sequence[RunRecord]) -> AnalysisResult:
        q = int(runs[0].setting("system.q"))
        tc = potts_critical_temperature(q)
        sizes = np.array([float(r.setting("system.L")) for r in runs])
        est = np.array([r.metrics["tc/network"] for r in runs])
        err = np.array([r.metrics.get("tc/network_err", math.nan) for r in runs])
        rows = [
            {"L": int(L), "T_c_network": float(t), "T_c_network_err": float(e)}
            for L, t, e in sorted(zip(sizes, est, err, strict=True))
        ]
        result = AnalysisResult(tables={"tc_vs_size": rows})
        nu = NU_POTTS_2D.get(q)
        if nu is not None and len(set(sizes)) >= 2:
            x = sizes ** (-1.0 / nu)
            w = 1.0 / np.where(np.isfinite(err) & (err > 0), err, np.nanmax(np.r_[err, 1e-3])) ** 2
            A = np.column_stack([np.ones_like(x), x])
            coef = np.linalg.lstsq(A * np.sqrt(w)[:, None], est * np.sqrt(w), rcond=None)[0]
            cov = np.linalg.inv(A.T @ (A * w[:, None]))
            result.metrics.update(
                {
                    "tc/extrapolated": float(coef[0]),
                    "tc/extrapolated_err": float(math.sqrt(cov[0, 0])),
                    "tc/exact": tc,
                    "tc/extrapolated_relative_error": float(coef[0] / tc - 1.0),
                }
            )
        result.figures[self.name] = plot_tc_vs_size(sizes, est, err, tc, result.metrics.get("tc/extrapolated"), nu, q)
        return result


def plot_tc_vs_size(
    sizes: np.ndarray, est: np.ndarray, err: np.ndarray, tc: float, extrapolated: float | None, nu: float | None, q: int
) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5.5, 4))
    x = sizes ** (-1.0 / nu) if nu else 1.0 / sizes
    ax.errorbar(x, est, yerr=np.nan_to_num(err), fmt="o", capsize=3, label="network $T_c(L)$")
    ax.axhline(tc, color="k", lw=0.8, label=f"exact $T_c$ = {tc:.4f}")
    if extrapolated is not None:
        ax.plot(0.0, extrapolated, "r*", ms=10, label=f"extrapolated {extrapolated:.4f}")
    ax.set_xlabel(f"$L^{{-1/\\nu}}$ (ν = {nu:g})" if nu else "1/L")
    ax.set_ylabel("$T_c$")
    ax.set_title(f"q = {q}")
    ax.legend(fontsize=8)
    return fig
