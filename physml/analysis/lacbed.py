"""LACBED cGAN analysis (review §6.2): R statistics, Figs. 7 and 8, R vs lattice, speed.

From the stored test predictions (``R``, ``pred_image``, ``true_image`` and the labels
``space_group``, ``lattice_a``, ``thickness``, ``index``) this computes:

* R mean / median / std and quantiles (the paper: mean 0.934, median 0.990);
* ``examples_mean_median.png`` — predicted vs simulated patterns of the crystals whose R
  is closest to the mean and to the median (review Fig. 8);
* ``r_by_space_group.png`` — the distribution of R per space group with the number of
  test crystals per group (review Fig. 7), plus the table ``r_by_space_group.csv``;
* ``r_vs_lattice.png`` — R against the cubic lattice parameter a;
* ``r_histogram.png``;

and, as a `physml report` study over runs that differ in one setting (e.g. balanced
against plain sampling), R per space group of each group of runs side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from physml.analysis.common import AnalysisInputs, AnalysisResult
from physml.analysis.studies import Study, setting_label
from physml.runstore import RunRecord

#: Hermann–Mauguin symbols of the 36 cubic space groups (International Tables, vol. A)
CUBIC_SYMBOLS = {
    195: "P23", 196: "F23", 197: "I23", 198: "P2_13", 199: "I2_13", 200: "Pm-3", 201: "Pn-3",
    202: "Fm-3", 203: "Fd-3", 204: "Im-3", 205: "Pa-3", 206: "Ia-3", 207: "P432", 208: "P4_232",
    209: "F432", 210: "F4_132", 211: "I432", 212: "P4_332", 213: "P4_132", 214: "I4_132",
    215: "P-43m", 216: "F-43m", 217: "I-43m", 218: "P-43n", 219: "F-43c", 220: "I-43d",
    221: "Pm-3m", 222: "Pn-3n", 223: "Pm-3n", 224: "Pn-3m", 225: "Fm-3m", 226: "Fm-3c",
    227: "Fd-3m", 228: "Fd-3c", 229: "Im-3m", 230: "Ia-3d",
}  # fmt: skip

PAPER = {"R_mean": 0.934, "R_median": 0.990}


def sg_label(number: int) -> str:
    return f"{number} {CUBIC_SYMBOLS.get(int(number), '')}".strip()


def r_summary(r: np.ndarray) -> dict[str, float]:
    """Mean, median, spread and quantiles of per-crystal R values."""
    return {
        "n": float(len(r)),
        "R_mean": float(np.mean(r)),
        "R_median": float(np.median(r)),
        "R_std": float(np.std(r)),
        "R_q10": float(np.quantile(r, 0.1)),
        "R_q90": float(np.quantile(r, 0.9)),
        "R_frac_above_0.9": float(np.mean(r > 0.9)),
    }


def r_by_space_group(r: np.ndarray, space_group: np.ndarray) -> list[dict[str, float | int | str]]:
    """One row per space group, sorted from highest to lowest mean R (as review Fig. 7)."""
    rows = []
    for g in np.unique(space_group):
        sel = r[space_group == g]
        rows.append(
            {
                "space_group": int(g),
                "symbol": CUBIC_SYMBOLS.get(int(g), ""),
                "n": int(len(sel)),
                "R_mean": float(sel.mean()),
                "R_median": float(np.median(sel)),
                "R_std": float(sel.std()),
                "R_min": float(sel.min()),
            }
        )
    return sorted(rows, key=lambda row: -row["R_mean"])


def closest(r: np.ndarray, value: float) -> int:
    return int(np.argmin(np.abs(r - value)))


@dataclass
class LACBEDAnalysis:
    """Figures and tables for the LACBED cGAN; ``streams`` beyond ``test`` get a prefix."""

    bins_lattice: int = 12

    def __call__(self, inputs: AnalysisInputs) -> AnalysisResult:
        result = AnalysisResult()
        for stream, data in inputs.predictions.items():
            tag = "" if stream == "test" else f"{stream}_"
            r = data["R"].astype(np.float64)
            if len(r) == 0:
                continue
            result.metrics.update({f"{stream}/{k}": v for k, v in r_summary(r).items()})
            rows = r_by_space_group(r, data["space_group"])
            result.tables[f"{tag}r_by_space_group"] = rows
            result.figures[f"{tag}examples_mean_median"] = plot_examples(data)
            result.figures[f"{tag}r_by_space_group"] = plot_r_by_space_group(r, data["space_group"])
            result.figures[f"{tag}r_vs_lattice"] = plot_r_vs_lattice(r, data["lattice_a"], self.bins_lattice)
            result.figures[f"{tag}r_histogram"] = plot_r_histogram(r)
        return result.with_metrics_table()


def plot_examples(data: dict[str, np.ndarray]) -> plt.Figure:
    """Review Fig. 8: predicted (left) and simulated (right) patterns near mean and median R."""
    r = data["R"]
    picks = [("mean", closest(r, float(np.mean(r)))), ("median", closest(r, float(np.median(r))))]
    fig, axes = plt.subplots(2, 2, figsize=(6.4, 6.6))
    for row, (what, i) in enumerate(picks):
        for col, (key, name) in enumerate([("pred_image", "cGAN"), ("true_image", "Bloch wave")]):
            img = data[key][i].astype(np.float64)
            lo, hi = img.min(), img.max()
            img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)  # same shading scale
            ax = axes[row, col]
            ax.imshow(img, cmap="inferno", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{name}", fontsize=9)
        axes[row, 0].set_ylabel(
            f"R={r[i]:.3f} (≈ {what} {np.mean(r) if what == 'mean' else np.median(r):.3f})\n"
            f"SG {sg_label(data['space_group'][i])}, a={data['lattice_a'][i]:.2f} Å\n"
            f"crystal #{int(data['index'][i]) if 'index' in data else i}",
            fontsize=8,
        )
    fig.suptitle(
        f"test set: R mean {np.mean(r):.3f}, median {np.median(r):.3f} ({len(r)} crystals)", fontsize=10
    )
    return fig


def plot_r_by_space_group(r: np.ndarray, space_group: np.ndarray) -> plt.Figure:
    """Review Fig. 7: crystals per space group (top) and their R distribution (bottom)."""
    rows = r_by_space_group(r, space_group)
    groups = [row["space_group"] for row in rows]
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(max(6.0, 0.35 * len(groups) + 2), 6.5),
        sharex=True,
        gridspec_kw={"height_ratios": [1, 2]},
    )
    pos = np.arange(len(groups))
    counts = [row["n"] for row in rows]
    top.bar(pos, counts, color=plt.cm.viridis([row["R_mean"] for row in rows]))
    mappable = plt.cm.ScalarMappable(norm=plt.Normalize(0.0, 1.0), cmap="viridis")
    fig.colorbar(mappable, ax=[top, bottom], label="mean R (bar colour)", fraction=0.03, pad=0.01)
    if max(counts) > 50:  # the ICSD spans 1..thousands per group (review Fig. 7)
        top.set_yscale("log")
    top.set_ylabel("test crystals")
    for p, c in zip(pos, counts, strict=True):
        top.text(p, c, str(c), ha="center", va="bottom", fontsize=6)
    bottom.boxplot(
        [r[space_group == g] for g in groups],
        positions=pos,
        widths=0.6,
        showfliers=True,
        flierprops={"markersize": 2},
    )
    bottom.plot(pos, [row["R_mean"] for row in rows], "r_", ms=10, label="mean R")
    bottom.axhline(0.5, color="gray", ls=":", lw=0.8, label="uncorrelated (R = 0.5)")
    bottom.set_ylabel("R")
    bottom.set_xticks(pos, [sg_label(g) for g in groups], rotation=90, fontsize=7)
    bottom.set_xlabel("space group (sorted by mean R)")
    bottom.legend(fontsize=7, loc="lower left")
    return fig


def plot_r_vs_lattice(r: np.ndarray, lattice_a: np.ndarray, bins: int = 12) -> plt.Figure:
    """R against the lattice parameter: does the fixed 128-pixel cell lose large crystals?"""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(lattice_a, r, s=6, alpha=0.4, label="test crystals")
    edges = np.unique(np.quantile(lattice_a, np.linspace(0, 1, min(bins, len(r)) + 1)))
    if len(edges) > 2:
        which = np.clip(np.digitize(lattice_a, edges[1:-1]), 0, len(edges) - 2)
        centers = [lattice_a[which == k].mean() for k in range(len(edges) - 1) if np.any(which == k)]
        medians = [np.median(r[which == k]) for k in range(len(edges) - 1) if np.any(which == k)]
        ax.plot(centers, medians, "k-o", ms=4, label="binned median")
    ax.set_xlabel("lattice parameter a (Å)")
    ax.set_ylabel("R")
    ax.legend(fontsize=8)
    return fig


def plot_r_histogram(r: np.ndarray) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(r, bins=np.linspace(min(0.0, r.min()), 1.0, 41), color="tab:blue", alpha=0.8)
    ax.axvline(np.mean(r), color="r", label=f"mean {np.mean(r):.3f}")
    ax.axvline(np.median(r), color="k", ls="--", label=f"median {np.median(r):.3f}")
    ax.axvline(PAPER["R_mean"], color="r", ls=":", lw=0.8, label=f"paper mean {PAPER['R_mean']}")
    ax.axvline(PAPER["R_median"], color="k", ls=":", lw=0.8, label=f"paper median {PAPER['R_median']}")
    ax.set_xlabel("R")
    ax.set_ylabel("test crystals")
    ax.legend(fontsize=8)
    return fig


# ---- across runs: a `physml report` study -----------------------------------------------
class SpaceGroupComparison(Study):
    """R per space group of groups of runs that differ in one setting, side by side.

    Runs are grouped by their overrides other than the seed (e.g.
    ``system.balance_space_groups=true`` against ``false``); R of every test crystal of
    every seed of a group is pooled.
    """

    name = "r_by_space_group_compared"

    def groups(self, runs: Sequence[RunRecord]) -> list[list[RunRecord]]:
        labels = {setting_label(r) for r in runs}
        return [list(runs)] if len(labels) >= 2 else []

    def __call__(self, runs: Sequence[RunRecord]) -> AnalysisResult:
        pooled: dict[str, dict[str, list[np.ndarray]]] = {}
        for run in runs:
            test = run.predictions()["test"]
            entry = pooled.setdefault(setting_label(run), {"R": [], "space_group": []})
            entry["R"].append(test["R"])
            entry["space_group"].append(test["space_group"])
        data = {k: {key: np.concatenate(v) for key, v in d.items()} for k, d in sorted(pooled.items())}
        groups = sorted({int(g) for d in data.values() for g in np.unique(d["space_group"])})
        rows = []
        for g in groups:
            row: dict[str, float | int | str] = {"space_group": g, "symbol": CUBIC_SYMBOLS.get(g, "")}
            for label, d in data.items():
                sel = d["R"][d["space_group"] == g]
                row[f"n [{label}]"] = int(len(sel))
                row[f"R_mean [{label}]"] = float(sel.mean()) if len(sel) else float("nan")
            rows.append(row)
        result = AnalysisResult(tables={"r_by_space_group_compared": rows})
        for label, d in data.items():
            result.metrics[f"compare/R_mean [{label}]"] = float(d["R"].mean())
        result.figures[self.name] = plot_comparison(rows, data)
        return result


def plot_comparison(rows: list[dict[str, float | int | str]], data: dict[str, dict[str, np.ndarray]]) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(rows) + 2), 4))
    pos = np.arange(len(rows))
    width = 0.8 / max(len(data), 1)
    for k, (label, d) in enumerate(data.items()):
        ax.bar(
            pos + (k - (len(data) - 1) / 2) * width,
            [row[f"R_mean [{label}]"] for row in rows],
            width=width,
            label=f"{label}: mean R {np.mean(d['R']):.3f}",
        )
    ax.set_xticks(pos, [sg_label(int(row["space_group"])) for row in rows], rotation=90, fontsize=7)
    ax.set_ylabel("mean R per space group")
    ax.set_ylim(min(0.4, min(float(np.min(d["R"])) for d in data.values())), 1.0)
    ax.legend(fontsize=8)
    return fig
