"""3D Anderson analysis (review §4): confusion matrices, adjacent-w errors, curves, sizes.

What the review reports and this module recomputes from a run's saved predictions and
its training history: the confusion matrix of the 17-way disorder classification (Fig.
4a), how many misclassifications land on a directly adjacent w, loss and accuracy per
epoch (Fig. 4b, with the review's headline numbers min_ε l_val and max_ε a_val), the
phase accuracy, and (a `physml report` study over a multirun) accuracy versus system
size M. As a physics baseline, a classifier that sees only the inverse participation
ratio Σ|ψ|⁴ of each state tells whether the network uses more than this one number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from datamodules.anderson import SPEC, phase_of, w_standardisation
from physml.analysis.common import AnalysisInputs, AnalysisResult, History, confusion_matrix, plot_confusion
from physml.analysis.studies import SizeStudy
from physml.constants import W_C_ANDERSON
from physml.errors import require
from physml.runstore import RunRecord

#: review §4.3: max_ε ⟨a_c,val⟩ for 17-way image classification at s = 100
PAPER_ACCURACY_VS_M: dict[int, float] = {20: 0.159, 40: 0.257, 100: 0.433}


# ---- pure metrics ---------------------------------------------------------------------
def adjacent_misclassification_fraction(counts: np.ndarray) -> float:
    """Of all misclassified samples, the fraction predicted as a directly adjacent class.

    ``counts[i, j]`` = samples of true class i predicted as j, classes ordered by w. NaN
    when nothing is misclassified (the fraction is undefined, not 0 or 1).
    """
    counts = np.asarray(counts)
    i, j = np.indices(counts.shape)
    wrong = counts[i != j].sum()
    if wrong == 0:
        return math.nan
    return float(counts[np.abs(i - j) == 1].sum() / wrong)


def within_k_accuracy(counts: np.ndarray, k: int = 1) -> float:
    """Fraction of samples predicted at most ``k`` classes away from the truth."""
    counts = np.asarray(counts)
    i, j = np.indices(counts.shape)
    return float(counts[np.abs(i - j) <= k].sum() / max(counts.sum(), 1))


def per_class_accuracy(counts: np.ndarray) -> np.ndarray:
    """Diagonal over row sums (NaN for a class without samples)."""
    counts = np.asarray(counts, dtype=np.float64)
    rows = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rows > 0, np.diag(counts) / rows, np.nan)


def ipr_baseline_accuracy(ipr: np.ndarray, labels: np.ndarray, index: np.ndarray) -> float:
    """Accuracy of a 1D Gaussian (per-class mean and std) classifier on log IPR.

    Two-fold cross-fitted on the test stream (even / odd sample index), so it is an
    honest estimate of what the IPR alone can tell about the label.
    """
    x = np.log(np.asarray(ipr, dtype=np.float64))
    labels = np.asarray(labels, dtype=np.int64)
    fold = np.asarray(index, dtype=np.int64) % 2
    classes = np.unique(labels)
    correct = 0
    for f in (0, 1):
        fit, ev = fold != f, fold == f
        if not ev.any():
            continue
        pooled = float(x[fit].std()) if fit.sum() > 1 else 1.0
        loglik = np.full((ev.sum(), len(classes)), -np.inf)
        for c, cls in enumerate(classes):
            xs = x[fit & (labels == cls)]
            if len(xs) == 0:
                continue
            sd = float(xs.std()) if len(xs) > 1 and xs.std() > 0 else max(pooled, 1e-6)
            loglik[:, c] = -np.log(sd) - 0.5 * ((x[ev] - xs.mean()) / sd) ** 2
        correct += int((classes[loglik.argmax(axis=1)] == labels[ev]).sum())
    return correct / len(x)


# ---- training history ------------------------------------------------------------------
def curve_summary(curves: History, metric: str) -> dict[str, float]:
    """The review's headline numbers: min over epochs of val loss, max of val accuracy."""
    out: dict[str, float] = {}
    loss = {e: v["val/loss"] for e, v in curves.items() if "val/loss" in v}
    if loss:
        best = min(loss, key=loss.get)
        out["val/min_loss"] = loss[best]
        out["val/best_epoch"] = float(best)
    values = {e: v[f"val/{metric}"] for e, v in curves.items() if f"val/{metric}" in v}
    if values:
        out[f"val/{'max' if metric == 'acc' else 'min'}_{metric}"] = (
            max(values.values()) if metric == "acc" else min(values.values())
        )
    out["epochs"] = float(len(curves))
    return out


def plot_training_curves(curves: History, metric: str, title: str) -> plt.Figure:
    """Review Fig. 4(b): l_train (open squares) and l_val (solid circles) per epoch."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, name in zip(axes, ("loss", metric), strict=True):
        for stage, style in (("train", dict(marker="s", mfc="none")), ("val", dict(marker="o"))):
            pts = [(e, v[f"{stage}/{name}"]) for e, v in curves.items() if f"{stage}/{name}" in v]
            if pts:
                e, y = zip(*pts, strict=True)
                ax.plot(e, y, "-", label=f"{stage}", **style)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(name)
        ax.legend()
    axes[0].set_title(title)
    return fig


# ---- multirun: accuracy versus system size (a `physml report` study) ----------------------
class AccuracyVsSize(SizeStudy):
    """Review Fig. 4(b)'s companion: 17-way accuracy against the linear size M over a multirun."""

    name = "accuracy_vs_M"
    size_key = "system.M"
    metric = "test/acc"
    size_label = "linear system size M (N = M³)"
    reference = PAPER_ACCURACY_VS_M
    reference_label = "review §4.3 (max val. accuracy)"

    def groups(self, runs: Sequence[RunRecord]) -> list[list[RunRecord]]:
        return super().groups([r for r in runs if r.setting("system.target") == "w_class"])

    def chance(self, runs: Sequence[RunRecord]) -> float | None:
        w_values = runs[0].setting("system.w_values") if runs else None
        return 1.0 / len(w_values) if w_values else None


# ---- the analysis callable -------------------------------------------------------------
@dataclass
class AndersonAnalysis:
    """Figures, metrics and tables for the three Anderson targets."""

    target: str
    w_values: list[float] = field(default_factory=list)
    w_c: float = W_C_ANDERSON
    M: int | None = None

    def __post_init__(self) -> None:
        require(self.target in SPEC.targets, "target", f"one of {sorted(SPEC.targets)}", self.target)
        self.w_values = [float(w) for w in self.w_values]

    def _grid(self, w: np.ndarray) -> np.ndarray:
        return np.asarray(self.w_values) if self.w_values else np.unique(w)

    def __call__(self, inputs: AnalysisInputs) -> AnalysisResult:
        result = AnalysisResult()
        test = inputs.predictions["test"]
        w, pred = test["w"].astype(np.float64), test["pred"]
        grid = self._grid(w)
        labels = [f"{g:g}" for g in grid]
        phase = phase_of(w, self.w_c)
        rows = [{"w": float(g), "phase": int(phase_of(g, self.w_c)), "n": int(np.isclose(w, g).sum())} for g in grid]
        suffix = f" (M = {self.M})" if self.M else ""

        if self.target == "w_class":
            true = test["w_index"].astype(np.int64)
            cm = confusion_matrix(true, pred, len(grid))
            result.figures["confusion_w"] = plot_confusion(
                cm, labels, f"classification of w{suffix}", "true w", "predicted w"
            )
            acc_w = per_class_accuracy(cm)
            result.metrics["test/acc"] = float(np.trace(cm) / max(cm.sum(), 1))
            result.metrics["test/acc_within_one_class"] = within_k_accuracy(cm, 1)
            result.metrics["test/adjacent_fraction_of_errors"] = adjacent_misclassification_fraction(cm)
            pred_phase = phase_of(grid[pred.astype(np.int64)], self.w_c)
            result.metrics["test/phase_acc_from_w"] = float((pred_phase == phase).mean())
            dw = grid[pred.astype(np.int64)] - w
            result.metrics["test/mean_abs_dw"] = float(np.abs(dw).mean())
            for row, a in zip(rows, acc_w, strict=True):
                row["acc"] = float(a)
            result.figures["accuracy_per_w"] = plot_per_w(grid, acc_w, cm, self.w_c)
            baseline_labels = true
        elif self.target == "phase":
            cm = confusion_matrix(phase, pred, 2)
            result.figures["confusion_phase"] = plot_confusion(
                cm, ["extended", "localised"], f"phase, w_c = {self.w_c}{suffix}"
            )
            result.metrics["test/acc"] = float((pred == phase).mean())
            far = np.abs(w - self.w_c) >= 1.0  # the review's "clearly" extended or localised states
            if far.any():
                result.metrics["test/acc_far_from_w_c"] = float((pred[far] == phase[far]).mean())
            p_loc = test["probs"][:, 1] if "probs" in test else pred.astype(np.float64)
            for row in rows:
                sel = np.isclose(w, row["w"])
                row["pred_localised"] = float(pred[sel].mean()) if sel.any() else math.nan
                row["prob_localised"] = float(p_loc[sel].mean()) if sel.any() else math.nan
            result.figures["phase_vs_w"] = plot_phase(rows, self.w_c)
            baseline_labels = phase
        else:
            centre, scale = w_standardisation(grid)
            pred = centre + scale * pred.astype(np.float64)  # back from the training units
            result.metrics["test/mse"] = float(np.mean((pred - w) ** 2))
            result.metrics["test/mae"] = float(np.mean(np.abs(pred - w)))
            result.metrics["test/phase_acc_from_w"] = float((phase_of(pred, self.w_c) == phase).mean())
            for row in rows:
                sel = np.isclose(w, row["w"])
                row["w_pred_mean"] = float(pred[sel].mean()) if sel.any() else math.nan
                row["w_pred_std"] = float(pred[sel].std()) if sel.any() else math.nan
            result.figures["regression_w"] = plot_regression(w, pred, rows, self.w_c)
            baseline_labels = None

        if "ipr" in test:
            for row in rows:
                sel = np.isclose(w, row["w"])
                row["log10_ipr_mean"] = float(np.log10(test["ipr"][sel]).mean()) if sel.any() else math.nan
                row["log10_ipr_std"] = float(np.log10(test["ipr"][sel]).std()) if sel.any() else math.nan
            result.figures["ipr_vs_w"] = plot_ipr(rows, self.w_c)
            if baseline_labels is not None and "index" in test:
                result.metrics["baseline/ipr_acc"] = ipr_baseline_accuracy(test["ipr"], baseline_labels, test["index"])

        curves = inputs.history
        metric = "mse" if self.target == "w" else "acc"
        if curves:
            result.figures["training_curves"] = plot_training_curves(curves, metric, f"target {self.target}{suffix}")
            result.metrics.update({f"curves/{k}": v for k, v in curve_summary(curves, metric).items()})
            result.tables["curves"] = [{"epoch": e, **v} for e, v in curves.items()]

        result.tables["per_w"] = rows
        return result.with_metrics_table()


# ---- figures ---------------------------------------------------------------------------
def plot_per_w(grid: np.ndarray, acc: np.ndarray, cm: np.ndarray, w_c: float) -> plt.Figure:
    """Accuracy per w and the fraction within one class: where along w the network errs."""
    rows = cm.sum(axis=1)
    i, j = np.indices(cm.shape)
    near = np.where(rows > 0, (cm * (np.abs(i - j) <= 1)).sum(axis=1) / np.maximum(rows, 1), np.nan)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(grid, acc, "o-", label="exact w")
    ax.plot(grid, near, "s--", mfc="none", label="within one w")
    ax.axhline(1 / len(grid), color="gray", ls=":", label="chance")
    ax.axvline(w_c, color="k", lw=0.8, label=f"$w_c$ = {w_c}")
    ax.set_xlabel("w")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    return fig


def plot_phase(rows: list[dict[str, float]], w_c: float) -> plt.Figure:
    """Fraction of states called localised versus w, the analogue of P(p) for percolation."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ws = [r["w"] for r in rows]
    ax.plot(ws, [r["phase"] for r in rows], "k-", drawstyle="steps-mid", lw=0.8, label="true phase")
    ax.plot(ws, [r["pred_localised"] for r in rows], "o-", label="predicted localised")
    ax.plot(ws, [r["prob_localised"] for r in rows], "x--", label="mean P(localised)")
    ax.axvline(w_c, color="gray", ls=":", label=f"$w_c$ = {w_c}")
    ax.set_xlabel("w")
    ax.set_ylabel("fraction")
    ax.legend(fontsize=8)
    return fig


def plot_regression(w: np.ndarray, pred: np.ndarray, rows: list[dict[str, float]], w_c: float) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(w, pred, s=4, alpha=0.3)
    ax.errorbar([r["w"] for r in rows], [r["w_pred_mean"] for r in rows], yerr=[r["w_pred_std"] for r in rows],
                fmt="o", color="tab:red", capsize=2, label="mean ± std")
    lims = [min(w.min(), pred.min()), max(w.max(), pred.max())]
    ax.plot(lims, lims, "k--", lw=0.8)
    ax.axvline(w_c, color="gray", ls=":")
    ax.set_xlabel("true w")
    ax.set_ylabel("predicted w")
    ax.set_title(f"regression of w, MSE = {np.mean((pred - w) ** 2):.3g}")
    ax.legend(fontsize=8)
    return fig


def plot_ipr(rows: list[dict[str, float]], w_c: float) -> plt.Figure:
    """log10 IPR of the test states versus w: the one-number summary of localisation."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar([r["w"] for r in rows], [r["log10_ipr_mean"] for r in rows], yerr=[r["log10_ipr_std"] for r in rows],
                fmt="o-", capsize=2)
    ax.axvline(w_c, color="gray", ls=":", label=f"$w_c$ = {w_c}")
    ax.set_xlabel("w")
    ax.set_ylabel(r"$\log_{10} \sum |\psi|^4$")
    ax.legend(fontsize=8)
    return fig
