"""LACBED cGAN analysis (review §6.2): R statistics, Figs. 7 and 8, R vs lattice, speed.

From the stored test predictions (``R``, ``pred_image``, ``true_image`` and the labels
``space_group``, ``lattice_a``, ``thickness``, ``index``) this computes:

* R mean / median / std and quantiles (the paper: mean 0.934, median 0.990);
* ``examples_mean_median.png`` — predicted vs simulated patterns of the crystals whose R
  is closest to the mean and to the median (review Fig. 8);
* ``r_by_space_group.png`` — the distribution of R per space group with the number of
  test crystals per group (review Fig. 7), plus the table ``r_by_space_group.csv``;
* ``r_vs_lattice.png`` — R against the cubic lattice parameter a;
* ``r_histogram.png``.

Command line (no retraining):

    python -m physml.analysis.lacbed aggregate MULTIRUN_DIR     # mean ± std over seeds
    python -m physml.analysis.lacbed compare RUN_A RUN_B         # R per space group, A vs B
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from physml.analysis.common import AnalysisResult, save_figure, write_table

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

    def __call__(self, predictions: dict[str, dict[str, np.ndarray]], out_dir: Path) -> AnalysisResult:
        out_dir = Path(out_dir)
        result = AnalysisResult()
        for stream, data in predictions.items():
            tag = "" if stream == "test" else f"{stream}_"
            r = data["R"].astype(np.float64)
            if len(r) == 0:
                continue
            result.metrics.update({f"{stream}/{k}": v for k, v in r_summary(r).items()})
            rows = r_by_space_group(r, data["space_group"])
            result.tables[f"{tag}r_by_space_group"] = rows
            result.figures[f"{tag}examples_mean_median"] = plot_examples(
                data, out_dir / f"{tag}examples_mean_median.png"
            )
            result.figures[f"{tag}r_by_space_group"] = plot_r_by_space_group(
                r, data["space_group"], out_dir / f"{tag}r_by_space_group.png"
            )
            result.figures[f"{tag}r_vs_lattice"] = plot_r_vs_lattice(
                r, data["lattice_a"], out_dir / f"{tag}r_vs_lattice.png", self.bins_lattice
            )
            result.figures[f"{tag}r_histogram"] = plot_r_histogram(r, out_dir / f"{tag}r_histogram.png")
        result.tables["metrics"] = [{"metric": k, "value": v} for k, v in sorted(result.metrics.items())]
        result.save(out_dir)
        return result


def plot_examples(data: dict[str, np.ndarray], path: Path) -> Path:
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
    return save_figure(fig, path)


def plot_r_by_space_group(r: np.ndarray, space_group: np.ndarray, path: Path) -> Path:
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
    return save_figure(fig, path)


def plot_r_vs_lattice(r: np.ndarray, lattice_a: np.ndarray, path: Path, bins: int = 12) -> Path:
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
    return save_figure(fig, path)


def plot_r_histogram(r: np.ndarray, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(r, bins=np.linspace(min(0.0, r.min()), 1.0, 41), color="tab:blue", alpha=0.8)
    ax.axvline(np.mean(r), color="r", label=f"mean {np.mean(r):.3f}")
    ax.axvline(np.median(r), color="k", ls="--", label=f"median {np.median(r):.3f}")
    ax.axvline(PAPER["R_mean"], color="r", ls=":", lw=0.8, label=f"paper mean {PAPER['R_mean']}")
    ax.axvline(PAPER["R_median"], color="k", ls=":", lw=0.8, label=f"paper median {PAPER['R_median']}")
    ax.set_xlabel("R")
    ax.set_ylabel("test crystals")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


# ---- across runs ------------------------------------------------------------------------
def aggregate_runs(run_dirs: list[Path], out_dir: Path | None = None) -> dict[str, dict[str, float]]:
    """Mean ± std over repeated runs (e.g. the 10 fresh 80/20 splits) of every metric."""
    values: dict[str, list[float]] = {}
    for run in run_dirs:
        metrics = json.loads((Path(run) / "summary.json").read_text())["metrics"]
        for key, value in metrics.items():
            values.setdefault(key, []).append(float(value))
    agg = {
        k: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "runs": len(v)}
        for k, v in sorted(values.items())
    }
    if out_dir is not None:
        write_table([{"metric": k, **v} for k, v in agg.items()], Path(out_dir) / "aggregate.csv")
    return agg


def compare_runs(run_a: Path, run_b: Path, out_dir: Path, labels: tuple[str, str] = ("A", "B")) -> Path:
    """R per space group of two runs (e.g. balanced vs plain sampling) side by side."""
    from physml.predictions import load_predictions

    tests = [load_predictions(Path(run) / "predictions.zarr")["test"] for run in (run_a, run_b)]
    groups = sorted(set(np.unique(tests[0]["space_group"])) | set(np.unique(tests[1]["space_group"])))
    rows = []
    for g in groups:
        row: dict[str, float | int | str] = {"space_group": int(g), "symbol": CUBIC_SYMBOLS.get(int(g), "")}
        for label, t in zip(labels, tests, strict=True):
            sel = t["R"][t["space_group"] == g]
            row[f"n_{label}"] = int(len(sel))
            row[f"R_mean_{label}"] = float(sel.mean()) if len(sel) else float("nan")
        rows.append(row)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_table(rows, out_dir / "compare_r_by_space_group.csv")
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(groups) + 2), 4))
    pos = np.arange(len(groups))
    for k, label in enumerate(labels):
        ax.bar(
            pos + (k - 0.5) * 0.4,
            [row[f"R_mean_{label}"] for row in rows],
            width=0.4,
            label=f"{label}: mean R {np.mean(tests[k]['R']):.3f}",
        )
    ax.set_xticks(pos, [sg_label(g) for g in groups], rotation=90, fontsize=7)
    ax.set_ylabel("mean R per space group")
    ax.set_ylim(min(0.4, min(min(t["R"]) for t in tests)), 1.0)
    ax.legend(fontsize=8)
    return save_figure(fig, out_dir / "compare_r_by_space_group.png")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m physml.analysis.lacbed")
    sub = parser.add_subparsers(dest="cmd", required=True)
    agg = sub.add_parser("aggregate", help="mean ± std over the runs of a multirun directory")
    agg.add_argument("multirun_dir", type=Path)
    cmp_ = sub.add_parser("compare", help="R per space group of two runs")
    cmp_.add_argument("run_a", type=Path)
    cmp_.add_argument("run_b", type=Path)
    cmp_.add_argument("--labels", nargs=2, default=["A", "B"])
    cmp_.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    if args.cmd == "aggregate":
        runs = sorted(p.parent for p in args.multirun_dir.rglob("summary.json"))
        for key, v in aggregate_runs(runs, args.multirun_dir).items():
            print(f"{key:50s} {v['mean']:.6g} ± {v['std']:.2g}  ({v['runs']} runs)")
    else:
        print(compare_runs(args.run_a, args.run_b, args.out, tuple(args.labels)))


if __name__ == "__main__":
    main()
