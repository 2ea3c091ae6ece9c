"""3D Anderson analysis (review §4): confusion matrices, adjacent-w errors, curves, sizes.

What the review reports and this module recomputes from a run's saved predictions and
its CSV metrics: the confusion matrix of the 17-way disorder classification (Fig. 4a),
how many misclassifications land on a directly adjacent w, loss and accuracy per epoch
(Fig. 4b, with the paper's headline numbers min_ε l_val and max_ε a_val), the phase
accuracy, and accuracy versus system size M over a multirun (``accuracy_vs_size``).
As a physics baseline, a classifier that sees only the inverse participation ratio
Σ|ψ|⁴ of each state tells whether the network uses more than this one number.
"""

from __future__ import annotations

import csv
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from physml.analysis.common import AnalysisResult, confusion_matrix, plot_confusion, save_figure
from physml.constants import W_C_ANDERSON
from physml.errors import require

TARGETS = ("w_class", "phase", "w")
#: review §4.3: max_ε ⟨a_c,val⟩ for 17-way image classification at s = 100
PAPER_ACCURACY_VS_M: dict[int, float] = {20: 0.159, 40: 0.257, 100: 0.433}


# ---- conventions shared with the datamodule --------------------------------------------
def w_standardisation(w_values: Iterable[float]) -> tuple[float, float]:
    """(centre, scale) that map the disorder grid to about [-1, 1] for regression.

    The datamodule trains on (w - centre) / scale so that the network's output starts at
    the right order of magnitude; the analysis maps predictions back with the same pair.
    """
    w = np.asarray(list(w_values), dtype=np.float64)
    centre = 0.5 * (w.min() + w.max())
    half = 0.5 * (w.max() - w.min())
    return float(centre), float(half) if half > 0 else 1.0


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


# ---- training curves from the CSV logger ----------------------------------------------
def read_training_curves(run_dir: str | Path) -> dict[int, dict[str, float]]:
    """Per-epoch metrics of ``<run_dir>/csv/version_*/metrics.csv``, all versions merged.

    A resumed run writes a new version; later versions win for an epoch they repeat.
    """
    files = sorted(
        Path(run_dir).glob("csv/version_*/metrics.csv"),
        key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0),
    )
    per_version: list[dict[int, dict[str, float]]] = []
    for path in files:
        epochs: dict[int, dict[str, float]] = defaultdict(dict)
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                if not row.get("epoch"):
                    continue
                epoch = int(float(row["epoch"]))
                for key, value in row.items():
                    if key in ("epoch", "step") or value in ("", None) or not key.startswith(("train/", "val/")):
                        continue
                    epochs[epoch][key] = float(value)
        per_version.append(epochs)
    merged: dict[int, dict[str, float]] = {}
    for epochs in per_version:
        for epoch, values in epochs.items():
            if values:
                merged[epoch] = dict(values)
    return dict(sorted(merged.items()))


def curve_summary(curves: dict[int, dict[str, float]], metric: str) -> dict[str, float]:
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


def plot_training_curves(curves: dict[int, dict[str, float]], metric: str, path: Path, title: str) -> Path:
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
    return save_figure(fig, path)


# ---- multirun: accuracy versus system size --------------------------------------------
def size_table(points: Iterable[tuple[int, float]]) -> list[dict[str, float]]:
    """Mean, standard deviation and count of the accuracy per M (over seeds)."""
    by_m: dict[int, list[float]] = defaultdict(list)
    for M, acc in points:
        by_m[int(M)].append(float(acc))
    return [
        {"M": M, "acc_mean": float(np.mean(v)), "acc_std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "n": len(v)}
        for M, v in sorted(by_m.items())
    ]


def accuracy_vs_size(points: Iterable[tuple[int, float]], paper: bool = True, chance: float | None = 1 / 17) -> plt.Figure:
    """Accuracy (mean ± std over runs) versus linear size M, with the review's values.

    ``points`` is one (M, accuracy) pair per run of a multirun; the caller saves or
    shows the returned figure (``physml report`` aggregates the runs).
    """
    rows = size_table(points)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    if rows:
        ax.errorbar(
            [r["M"] for r in rows], [r["acc_mean"] for r in rows], yerr=[r["acc_std"] for r in rows],
            fmt="o-", capsize=3, label="this work (mean ± std)",
        )
    if paper:
        ax.plot(list(PAPER_ACCURACY_VS_M), list(PAPER_ACCURACY_VS_M.values()), "k^", mfc="none", label="review §4.3")
    if chance is not None:
        ax.axhline(chance, color="gray", ls=":", label=f"chance = {chance:.3f}")
    ax.set_xlabel("linear system size M (N = M³)")
    ax.set_ylabel("accuracy")
    ax.set_title("disorder classification versus system size")
    ax.legend(fontsize=8)
    return fig


# ---- the analysis callable -------------------------------------------------------------
@dataclass
class AndersonAnalysis:
    """Figures, metrics and tables for the three Anderson targets."""

    target: str
    w_values: list[float] = field(default_factory=list)
    w_c: float = W_C_ANDERSON
    M: int | None = None

    def __post_init__(self) -> None:
        require(self.target in TARGETS, "system.target", f"one of {TARGETS}", self.target)
        self.w_values = [float(w) for w in self.w_values]

    def _grid(self, w: np.ndarray) -> np.ndarray:
        return np.asarray(self.w_values) if self.w_values else np.unique(w)

    def __call__(self, predictions: dict[str, dict[str, np.ndarray]], out_dir: Path) -> AnalysisResult:
        out_dir = Path(out_dir)
        result = AnalysisResult()
        test = predictions["test"]
        w, pred = test["w"].astype(np.float64), test["pred"]
        grid = self._grid(w)
        labels = [f"{g:g}" for g in grid]
        phase = (w > self.w_c).astype(np.int64)
        rows = [{"w": float(g), "phase": int(g > self.w_c), "n": int(np.isclose(w, g).sum())} for g in grid]
        suffix = f" (M = {self.M})" if self.M else ""

        if self.target == "w_class":
            true = test["w_index"].astype(np.int64)
            cm = confusion_matrix(true, pred, len(grid))
            result.figures["confusion_w"] = plot_confusion(
                cm, labels, out_dir / "confusion_w.png", f"classification of w{suffix}", "true w", "predicted w"
            )
            acc_w = per_class_accuracy(cm)
            result.metrics["test/acc"] = float(np.trace(cm) / max(cm.sum(), 1))
            result.metrics["test/acc_within_one_class"] = within_k_accuracy(cm, 1)
            result.metrics["test/adjacent_fraction_of_errors"] = adjacent_misclassification_fraction(cm)
            pred_phase = (grid[pred.astype(np.int64)] > self.w_c).astype(np.int64)
            result.metrics["test/phase_acc_from_w"] = float((pred_phase == phase).mean())
            dw = grid[pred.astype(np.int64)] - w
            result.metrics["test/mean_abs_dw"] = float(np.abs(dw).mean())
            for row, a in zip(rows, acc_w, strict=True):
                row["acc"] = float(a)
            result.figures["accuracy_per_w"] = _plot_per_w(grid, acc_w, cm, self.w_c, out_dir / "accuracy_per_w.png")
            baseline_labels = true
        elif self.target == "phase":
            cm = confusion_matrix(phase, pred, 2)
            result.figures["confusion_phase"] = plot_confusion(
                cm, ["extended", "localised"], out_dir / "confusion_phase.png", f"phase, w_c = {self.w_c}{suffix}"
            )
            result.metrics["test/acc"] = float((pred == phase).mean())
            p_loc = test["probs"][:, 1] if "probs" in test else pred.astype(np.float64)
            for row in rows:
                sel = np.isclose(w, row["w"])
                row["pred_localised"] = float(pred[sel].mean()) if sel.any() else math.nan
                row["prob_localised"] = float(p_loc[sel].mean()) if sel.any() else math.nan
            result.figures["phase_vs_w"] = _plot_phase(rows, self.w_c, out_dir / "phase_vs_w.png")
            baseline_labels = phase
        else:
            centre, scale = w_standardisation(grid)
            pred = centre + scale * pred.astype(np.float64)  # back from the training units
            result.metrics["test/mse"] = float(np.mean((pred - w) ** 2))
            result.metrics["test/mae"] = float(np.mean(np.abs(pred - w)))
            result.metrics["test/phase_acc_from_w"] = float(((pred > self.w_c).astype(np.int64) == phase).mean())
            for row in rows:
                sel = np.isclose(w, row["w"])
                row["w_pred_mean"] = float(pred[sel].mean()) if sel.any() else math.nan
                row["w_pred_std"] = float(pred[sel].std()) if sel.any() else math.nan
            result.figures["regression_w"] = _plot_regression(w, pred, rows, self.w_c, out_dir / "regression_w.png")
            baseline_labels = None

        if "ipr" in test:
            for row in rows:
                sel = np.isclose(w, row["w"])
                row["log10_ipr_mean"] = float(np.log10(test["ipr"][sel]).mean()) if sel.any() else math.nan
                row["log10_ipr_std"] = float(np.log10(test["ipr"][sel]).std()) if sel.any() else math.nan
            result.figures["ipr_vs_w"] = _plot_ipr(rows, self.w_c, out_dir / "ipr_vs_w.png")
            if baseline_labels is not None and "index" in test:
                result.metrics["baseline/ipr_acc"] = ipr_baseline_accuracy(test["ipr"], baseline_labels, test["index"])

        curves = read_training_curves(out_dir.parent)
        metric = "mse" if self.target == "w" else "acc"
        if curves:
            result.figures["training_curves"] = plot_training_curves(
                curves, metric, out_dir / "training_curves.png", f"target {self.target}{suffix}"
            )
            result.metrics.update({f"curves/{k}": v for k, v in curve_summary(curves, metric).items()})
            result.tables["curves"] = [{"epoch": e, **v} for e, v in curves.items()]

        result.tables["per_w"] = rows
        result.tables["metrics"] = [{"metric": k, "value": v} for k, v in sorted(result.metrics.items())]
        result.save(out_dir)
        return result


# ---- figures ---------------------------------------------------------------------------
def _plot_per_w(grid: np.ndarray, acc: np.ndarray, cm: np.ndarray, w_c: float, path: Path) -> Path:
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
    return save_figure(fig, path)


def _plot_phase(rows: list[dict[str, float]], w_c: float, path: Path) -> Path:
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
    return save_figure(fig, path)


def _plot_regression(w: np.ndarray, pred: np.ndarray, rows: list[dict[str, float]], w_c: float, path: Path) -> Path:
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
    return save_figure(fig, path)


def _plot_ipr(rows: list[dict[str, float]], w_c: float, path: Path) -> Path:
    """log10 IPR of the test states versus w: the one-number summary of localisation."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar([r["w"] for r in rows], [r["log10_ipr_mean"] for r in rows], yerr=[r["log10_ipr_std"] for r in rows],
                fmt="o-", capsize=2)
    ax.axvline(w_c, color="gray", ls=":", label=f"$w_c$ = {w_c}")
    ax.set_xlabel("w")
    ax.set_ylabel(r"$\log_{10} \sum |\psi|^4$")
    ax.legend(fontsize=8)
    return save_figure(fig, path)
