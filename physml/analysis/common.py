"""Shared analysis pieces: the result type, confusion matrices, figure and table output."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


@dataclass
class AnalysisResult:
    """Figures (name -> PNG path), scalar metrics and named tables (list of row dicts)."""

    figures: dict[str, Path] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def save(self, out_dir: Path) -> None:
        """Write metrics.json and one CSV per table next to the figures."""
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "analysis_metrics.json").write_text(json.dumps(self.metrics, indent=2, sort_keys=True))
        for name, rows in self.tables.items():
            write_table(rows, out_dir / f"{name}.csv")


def write_table(rows: list[dict[str, Any]], path: Path) -> None:
    if not rows:
        return
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def confusion_matrix(true: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts[i, j] = samples of true class i predicted as class j."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (true.astype(np.int64), pred.astype(np.int64)), 1)
    return counts


def save_figure(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_confusion(
    counts: np.ndarray, labels: list[str], path: Path, title: str, xlabel: str = "true", ylabel: str = "predicted"
) -> Path:
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
    return save_figure(fig, path)
