"""How the VAE phase boundary sharpens with L: aggregate the runs of a sizes multirun.

Each run of ``experiment=j1j2_vae_sizes`` writes ``figures/boundary.csv`` (T_c from ε and
from the susceptibility peak per J2, with the chain-to-chain standard error). Here the runs
are grouped by (region, L): the boundary T_c(J2) is drawn per L, and the sharpness is the
chain-to-chain spread of the single-chain crossing temperatures, which shrinks as the
ordered and disordered reconstructions separate more cleanly in larger systems.

    python -m physml.analysis.j1j2_sizes runs/j1j2_vae_sizes/multirun_...  [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import math
from collections.abc import Iterable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from omegaconf import OmegaConf

from physml.analysis.common import AnalysisResult, save_figure


def read_run(run_dir: Path) -> tuple[int, str, list[dict[str, float]]] | None:
    """(L, region, boundary rows) of one finished run, or None if it has no boundary table."""
    table = run_dir / "figures" / "boundary.csv"
    config = run_dir / ".hydra" / "config.yaml"
    if not table.exists() or not config.exists():
        return None
    cfg = OmegaConf.load(config)
    with table.open() as fh:
        rows = [{k: _number(v) for k, v in r.items()} for r in csv.DictReader(fh)]
    return int(cfg.system.L), str(cfg.system.region), rows


def _number(text: str) -> float | str:
    """CSV cells as floats (empty -> NaN); text columns such as the order parameter stay text."""
    if text == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        return text


def chain_spread(rows: Iterable[dict[str, float]]) -> float:
    """Mean over J2 of the standard deviation of single-chain crossing temperatures."""
    spreads = [
        r["T_c_eps_chain_sem"] * math.sqrt(r["n_chains_crossing"])
        for r in rows
        if math.isfinite(r.get("T_c_eps_chain_sem", math.nan)) and r.get("n_chains_crossing", 0) > 1
    ]
    return float(np.mean(spreads)) if spreads else math.nan


def mean_eps_chi_gap(rows: Iterable[dict[str, float]]) -> float:
    gaps = [abs(r["T_c_eps"] - r["T_c_chi"]) for r in rows if math.isfinite(r["T_c_eps"]) and math.isfinite(r.get("T_c_chi", math.nan))]
    return float(np.mean(gaps)) if gaps else math.nan


def boundary_vs_size(run_dirs: Iterable[Path], out_dir: Path) -> AnalysisResult:
    """Figures and a table of T_c(J2) and its sharpness for every (region, L) found."""
    runs = sorted(r for r in (read_run(Path(d)) for d in run_dirs) if r is not None)
    if not runs:
        raise FileNotFoundError("no run with figures/boundary.csv and .hydra/config.yaml found")
    out_dir = Path(out_dir)
    result = AnalysisResult()
    table = [
        {"region": region, "L": L, "chain_spread_T_c": chain_spread(rows), "mean_abs_eps_minus_chi": mean_eps_chi_gap(rows)}
        for L, region, rows in runs
    ]
    result.tables["boundary_vs_size"] = table
    for row in table:
        result.metrics[f"sizes/{row['region']}/L{row['L']}/chain_spread_T_c"] = row["chain_spread_T_c"]

    fig, ax = plt.subplots(figsize=(6, 4))
    colours = plt.cm.viridis(np.linspace(0, 0.85, len({L for L, _, _ in runs})))
    colour_of = dict(zip(sorted({L for L, _, _ in runs}), colours, strict=True))
    for L, region, rows in runs:
        j2 = np.array([r["J2"] for r in rows])
        tc = np.array([r["T_c_eps"] for r in rows])
        err = np.array([r["T_c_eps_err"] for r in rows])
        ax.errorbar(j2, tc, yerr=err, fmt="o-" if region == "low_J2" else "s--", color=colour_of[L], capsize=3, label=f"L = {L} ({region})")
    L_max, _, rows_max = runs[-1]
    ax.plot([r["J2"] for r in rows_max], [r.get("T_c_chi", math.nan) for r in rows_max], "kx", label=f"χ peak, L = {L_max}")
    ax.set_xlabel("$J_2$")
    ax.set_ylabel(r"$T_c$ from $\varepsilon$")
    ax.legend(fontsize=8)
    result.figures["boundary_vs_size"] = save_figure(fig, out_dir / "boundary_vs_size.png")

    fig, ax = plt.subplots(figsize=(5, 4))
    for region in sorted({row["region"] for row in table}):
        sel = [row for row in table if row["region"] == region]
        ax.plot([row["L"] for row in sel], [row["chain_spread_T_c"] for row in sel], "o-", label=region)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("L")
    ax.set_ylabel(r"chain-to-chain spread of $T_c$")
    ax.set_title("the ML boundary sharpens with L")
    ax.legend()
    result.figures["sharpness_vs_size"] = save_figure(fig, out_dir / "sharpness_vs_size.png")
    result.save(out_dir)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m physml.analysis.j1j2_sizes")
    parser.add_argument("multirun_dir", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="default: <multirun_dir>/sizes")
    args = parser.parse_args(argv)
    out = args.out or args.multirun_dir / "sizes"
    result = boundary_vs_size(sorted(p for p in args.multirun_dir.iterdir() if p.is_dir()), out)
    for row in result.tables["boundary_vs_size"]:
        print(f"{row['region']:8s} L={row['L']:4d}  chain spread of T_c = {row['chain_spread_T_c']:.3f}  |T_eps - T_chi| = {row['mean_abs_eps_minus_chi']:.3f}")
    print(f"figures in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
