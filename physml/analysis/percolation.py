"""Percolation analysis (review §3): confusion matrices, P(p)/Q(p) and the p-proxy diagnostic."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from datamodules.percolation import PC_STREAM, SPEC, half_crossing
from physml.analysis.common import AnalysisInputs, AnalysisResult, confusion_matrix, plot_confusion
from physml.constants import PC_SQUARE_SITE
from physml.errors import require


# ---- computations ---------------------------------------------------------------------------
def spanning_curve(p: np.ndarray, spanning: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grid values of p and the fraction of samples at each that span, P(p)."""
    grid = np.unique(p)
    return grid, np.array([spanning[p == v].mean() for v in grid])


def p_proxy_prediction(p: np.ndarray, p_c: float) -> np.ndarray:
    """What a classifier that only looks at p says: spanning iff p > p_c(L)."""
    return (p > p_c + 1e-9).astype(np.int64)


def p_proxy_diagnostic(p: np.ndarray, spanning: np.ndarray, pred: np.ndarray, p_c: float) -> dict[str, float]:
    """Compare the network's errors with those of the p-only classifier.

    If the network had learnt spanning it would beat the proxy; if it uses p as a proxy,
    its error count matches the proxy's and its predictions agree with the proxy's.
    """
    proxy = p_proxy_prediction(p, p_c)
    spanning = spanning.astype(np.int64)
    net_wrong = pred != spanning
    proxy_wrong = proxy != spanning
    return {
        "n_test": float(len(p)),
        "proxy_wrong": float(proxy_wrong.sum()),
        "proxy_wrong_spanning_below_pc": float(((p <= p_c + 1e-9) & (spanning == 1)).sum()),
        "proxy_wrong_nonspanning_above_pc": float(((p > p_c + 1e-9) & (spanning == 0)).sum()),
        "net_wrong": float(net_wrong.sum()),
        "net_agrees_with_proxy": float((pred == proxy).mean()),
        "net_wrong_where_proxy_wrong": float((net_wrong & proxy_wrong).sum()),
        "net_right_where_proxy_wrong": float((~net_wrong & proxy_wrong).sum()),
    }


# ---- figures -----------------------------------------------------------------------------------
def plot_spanning_probability(grid: np.ndarray, P: np.ndarray, P_net: np.ndarray, p_c_L: float) -> plt.Figure:
    """Review Fig. 1(b): P(p), Q(p) of the data next to the network's prediction."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(grid, P, "s-", mfc="none", label="P(p) data")
    ax.plot(grid, 1 - P, "o-", mfc="none", label="Q(p) data")
    ax.plot(grid, P_net, "x--", label="P(p) network")
    ax.plot(grid, 1 - P_net, "+--", label="Q(p) network")
    ax.axvline(PC_SQUARE_SITE, color="k", lw=0.8, label=f"$p_c$ = {PC_SQUARE_SITE:.4f}")
    ax.axvline(p_c_L, color="gray", ls=":", label=f"$p_c(L)$ = {p_c_L:.4f}")
    ax.set_xlabel("p")
    ax.set_ylabel("probability")
    ax.legend(fontsize=8)
    return fig


def plot_regression(p: np.ndarray, pred: np.ndarray) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(p, pred, s=4, alpha=0.3)
    lims = [min(p.min(), pred.min()), max(p.max(), pred.max())]
    ax.plot(lims, lims, "k--", lw=0.8)
    ax.set_xlabel("true p")
    ax.set_ylabel("predicted p")
    ax.set_title(f"regression of p, MSE = {np.mean((pred - p) ** 2):.2e}")
    return fig


def plot_proxy(diag: dict[str, float]) -> plt.Figure:
    """The p-proxy diagnostic: the network's errors next to those of a p-only rule."""
    fig, ax = plt.subplots(figsize=(6, 4))
    names = ["p-only rule wrong", "network wrong", "network wrong\nwhere rule wrong", "network right\nwhere rule wrong"]
    keys = ["proxy_wrong", "net_wrong", "net_wrong_where_proxy_wrong", "net_right_where_proxy_wrong"]
    ax.bar(names, [diag[k] for k in keys], color=["gray", "tab:blue", "tab:red", "tab:green"])
    ax.set_ylabel(f"test states (of {int(diag['n_test'])})")
    ax.set_title(f"network agrees with the p-only rule on {100 * diag['net_agrees_with_proxy']:.1f}% of states")
    ax.tick_params(axis="x", labelsize=8)
    return fig


# ---- the analysis -------------------------------------------------------------------------------
@dataclass
class PercolationAnalysis:
    """Metrics, tables and figures for the three percolation targets.

    The p-only rule uses p_c(L) of the data: the p of the fixed-p_c stream (itself measured
    from the training pool's P(p) = 1/2), or else where the test data's P(p) crosses 1/2.
    """

    target: str

    def __post_init__(self) -> None:
        require(self.target in SPEC.targets, "target", f"one of {sorted(SPEC.targets)}", self.target)

    def __call__(self, inputs: AnalysisInputs) -> AnalysisResult:
        result = AnalysisResult()
        test = inputs.predictions["test"]
        p, spanning, pred = test["p"], test["spanning"].astype(np.int64), test["pred"]
        grid, P = spanning_curve(p, spanning)
        pc = inputs.predictions.get(PC_STREAM)
        p_c_L = float(pc["p"][0]) if pc is not None and len(pc["p"]) else half_crossing(p, spanning)
        result.metrics["p_c_L"] = p_c_L
        rows = [
            {"p": float(g), "P_true": float(v), "Q_true": float(1 - v), "n": int((p == g).sum())}
            for g, v in zip(grid, P, strict=True)
        ]
        if self.target == "p_class":
            cm = confusion_matrix(test["p_index"], pred, len(grid))
            result.figures["confusion_p"] = plot_confusion(cm, [f"{g:g}" for g in grid], "classification by p")
            result.metrics["test/acc"] = float((pred == test["p_index"]).mean())
            within_one = np.abs(pred.astype(np.int64) - test["p_index"].astype(np.int64)) <= 1
            result.metrics["test/acc_within_one_class"] = float(within_one.mean())
        elif self.target == "p":
            result.metrics["test/mse"] = float(np.mean((pred - p) ** 2))
            result.metrics["test/mae"] = float(np.mean(np.abs(pred - p)))
            result.figures["regression_p"] = plot_regression(p, pred)
            for row in rows:
                sel = p == row["p"]
                row["p_pred_mean"] = float(pred[sel].mean())
                row["p_pred_std"] = float(pred[sel].std())
        else:
            cm = confusion_matrix(spanning, pred, 2)
            result.figures["confusion_spanning"] = plot_confusion(cm, ["N", "S"], "spanning (S) vs non-spanning (N)")
            result.metrics["test/acc"] = float((pred == spanning).mean())
            diag = p_proxy_diagnostic(p, spanning, pred, p_c_L)
            result.metrics.update({f"proxy/{k}": v for k, v in diag.items()})
            _, P_net = spanning_curve(p, pred)
            for row, v in zip(rows, P_net, strict=True):
                row["P_net"] = float(v)
                row["Q_net"] = float(1 - v)
            result.figures["spanning_probability"] = plot_spanning_probability(grid, P, P_net, p_c_L)
            result.figures["p_proxy"] = plot_proxy(diag)
            if pc is not None:
                share = float(pc["spanning"].mean())
                result.metrics["test_pc/acc"] = float((pc["pred"] == pc["spanning"]).mean())
                result.metrics["test_pc/spanning_fraction"] = share
                result.metrics["test_pc/majority_baseline"] = max(share, 1 - share)
        result.tables["spanning_vs_p"] = rows
        return result.with_metrics_table()
