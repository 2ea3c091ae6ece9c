"""What every analysis shares: its inputs and result types, confusion matrices, figure output.

An analysis is three layers: pure computations that return numbers and tables, figure
functions that take those and return a matplotlib Figure, and an analysis class that
composes both into an :class:`AnalysisResult`. Nothing here writes files except
:func:`save_figure` and :func:`write_table`, which the run store calls.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

Predictions = Mapping[str, Mapping[str, np.ndarray]]
#: per-epoch training log: epoch -> metric -> value (see physml.runstore.RunStore.history)
History = Mapping[int, Mapping[str, float]]


@dataclass(frozen=True)
class AnalysisInputs:
    """What a per-run analysis may read: the saved predictions and the training history."""

    predictions: Predictions
    history: History = field(default_factory=dict)


@dataclass
class AnalysisResult:
    """Scalar metrics, named tables (lists of row dicts), figures, and warnings for the reader."""

    metrics: dict[str, float] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    figures: dict[str, plt.Figure] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def with_metrics_table(self) -> AnalysisResult:
        """Add the metrics as a table too (for the HTML report and the CSV next to the figures)."""
        self.tables["metrics"] = [{"metric": k, "value": v} for k, v in sorted(self.metrics.items())]
        return self


def write_table(rows: list[dict[str, Any]], path: Path) -> None:
    if not rows:
        return
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def save_figure(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def confusion_matrix(true: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts[i, j] = samples of true class i predicted as class j."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (true.astype(np.int64), pred.astype(np.int64)), 1)
    return counts


def plot_confusion(
    counts: np.ndarray, labels: list[str], title: str, xlabel: str = "true", ylabel: str = "predicted"
) -> plt.Figure:
    """Confusion matrix drawn as in the review: true labels on x, predicted on y."""
    n = len(labels)
    size = max(4.0, 0.28 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(counts.T, origin="lower", cmap="Greys")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="samples")
    ax.set_xticks(range(n), labels, rotation=90 if n > 6 else 0, fontsize=7 if n > 12 else 10)
    ax.set_yticks(range(n), labels, fontsize=7 if n > 12 else 10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if n <= 6:
        for i in range(n):
            for j in range(n):
                ax.text(i, j, str(counts[i, j]), ha="center", va="center", color="tab:red")
    return fig
