"""Monte Carlo references that involve no learning: `physml reference j1j2 ...`.

The J1-J2 phase boundary T_c(J2) from the crossing of Binder cumulants of two sizes
(default L = 16 and 32), computed with physml's own Metropolis at fixed temperature.
Every (J2, T, L) point is a dataset of the sharded store (simulator
``j1j2_moments``), so the reference is cached, resumable and shared by every study that
asks for the same points. Two stages: a coarse temperature scan finds the crossing, a
fine one around it measures it; the error is a bootstrap over chains.

The order parameter is the magnetisation for J2 < 1/2 and the stripe order vector
(m_x, m_y) for J2 > 1/2; U = 1 - <O^4> / (c <O^2>^2) with c = 3 (one component) or 2
(two components).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from physml.analysis.common import write_table
from physml.store import DatasetSpec, generate, open_dataset
from simulators.j1j2 import J1J2MomentsParams, J1J2MomentsSimulator

COARSE_T = tuple(round(0.3 + 0.15 * k, 4) for k in range(19))  # 0.3 ... 3.0
FINE_OFFSETS = tuple(round(-0.2 + 0.05 * k, 4) for k in range(9))  # crossing ± 0.2


def binder(moments: dict[str, np.ndarray], order: str) -> np.ndarray:
    """Binder cumulant per point from per-chain moments averaged over chains (axis -1)."""
    o2, o4 = (moments["m2"], moments["m4"]) if order == "magnetisation" else (moments["s2"], moments["s4"])
    c = 3.0 if order == "magnetisation" else 2.0
    return 1.0 - o4.mean(axis=-1) / (c * o2.mean(axis=-1) ** 2)


def crossing(T: np.ndarray, u_small: np.ndarray, u_large: np.ndarray, u_ordered: float = 2 / 3) -> float:
    """The T where U_large - U_small changes sign from + (ordered) to -, interpolated; NaN if none.

    Only sign changes where the cumulants lie between 0.2 and 0.95 of their ordered value
    count: at high T both are ~0 and noise makes them cross at random, and at the coldest
    temperatures chains started from random spins may freeze into domains. Of those, the
    hottest is taken.
    """
    d = u_large - u_small
    mid = 0.5 * (u_small + u_large)
    ok = (d[:-1] > 0) & (d[1:] <= 0)
    ok &= (np.maximum(mid[:-1], mid[1:]) > 0.2 * u_ordered) & (np.minimum(mid[:-1], mid[1:]) < 0.95 * u_ordered)
    k = np.flatnonzero(ok)
    if not len(k):
        return math.nan
    i = int(k[-1])
    return float(T[i] + d[i] * (T[i + 1] - T[i]) / (d[i] - d[i + 1]))


def ordered_value(order: str) -> float:
    """The Binder cumulant in the ordered phase: 2/3 (one component), 1/2 (two components)."""
    return 2 / 3 if order == "magnetisation" else 1 / 2


def _moments(
    L: int, pairs: list[tuple[float, float]], chains: int, data_dir: Path, equilibration: int, measurements: int, progress: bool
) -> dict[str, np.ndarray]:
    """Per-chain moments, shaped (points, chains), generated (or reused) through the store."""
    sim = J1J2MomentsSimulator(J1J2MomentsParams(L=L, pairs=tuple(pairs), equilibration=equilibration, measurements=measurements))
    spec = DatasetSpec(sim, units_per_point=chains, split="reference", seed=0, shard_units=chains)
    group = open_dataset(generate(spec, data_dir, progress=progress))
    return {k: group[k][...].reshape(len(pairs), chains) for k in ("m2", "m4", "s2", "s4", "energy")}


def j1j2_boundary(
    J2_values: Sequence[float],
    data_dir: str | Path,
    sizes: tuple[int, int] = (16, 32),
    chains: int = 8,
    equilibration: int = 4000,
    measurements: int = 4000,
    n_bootstrap: int = 200,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """T_c(J2) from the Binder crossing of two sizes, with a bootstrap error over chains."""
    data_dir = Path(data_dir)
    small, large = sizes
    j2s = [float(j) for j in J2_values]
    coarse = [(j2, t) for j2 in j2s for t in COARSE_T]
    guess = {}
    mc = {L: _moments(L, coarse, max(4, chains // 2), data_dir, equilibration // 2, measurements // 2, progress) for L in sizes}
    for i, j2 in enumerate(j2s):
        order = "magnetisation" if j2 < 0.5 else "stripe"
        rows = slice(i * len(COARSE_T), (i + 1) * len(COARSE_T))
        u = {L: binder({k: v[rows] for k, v in mc[L].items()}, order) for L in sizes}
        guess[j2] = crossing(np.array(COARSE_T), u[small], u[large], ordered_value(order))
    fine = [(j2, round(guess[j2] + dt, 4)) for j2 in j2s if math.isfinite(guess[j2]) for dt in FINE_OFFSETS]
    fine = [(j2, t) for j2, t in fine if t > 0.05]
    mf = {L: _moments(L, fine, chains, data_dir, equilibration, measurements, progress) for L in sizes} if fine else {}
    rng = np.random.default_rng(0)
    out = []
    for j2 in j2s:
        order = "magnetisation" if j2 < 0.5 else "stripe"
        idx = [k for k, (a, _) in enumerate(fine) if a == j2]
        row: dict[str, Any] = {"J2": j2, "order": order, "T_c": math.nan, "T_c_err": math.nan, "coarse_T_c": guess[j2]}
        if idx:
            T = np.array([fine[k][1] for k in idx])
            sel = {L: {k: v[idx] for k, v in mf[L].items()} for L in sizes}
            row["T_c"] = crossing(T, binder(sel[small], order), binder(sel[large], order), ordered_value(order))
            boots = []
            for _ in range(n_bootstrap):
                pick = rng.integers(0, chains, size=chains)
                u = [binder({k: v[:, pick] for k, v in sel[L].items()}, order) for L in sizes]
                boots.append(crossing(T, u[0], u[1], ordered_value(order)))
            boots = np.array(boots)
            boots = boots[np.isfinite(boots)]
            row["T_c_err"] = float(boots.std(ddof=1)) if boots.size > 1 else math.nan
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="physml reference", description="Monte Carlo references (no learning).")
    sub = parser.add_subparsers(dest="system", required=True)
    j = sub.add_parser("j1j2", help="T_c(J2) from the Binder crossing of two sizes")
    j.add_argument("--J2", type=float, nargs="+", required=True)
    j.add_argument("--sizes", type=int, nargs=2, default=(16, 32))
    j.add_argument("--chains", type=int, default=8)
    j.add_argument("--equilibration", type=int, default=4000)
    j.add_argument("--measurements", type=int, default=4000)
    j.add_argument("--data-dir", type=Path, default=Path("data"))
    j.add_argument("--out", type=Path, default=None, help="CSV table (default: print only)")
    args = parser.parse_args(argv)
    rows = j1j2_boundary(args.J2, args.data_dir, tuple(args.sizes), args.chains, args.equilibration, args.measurements)
    for r in rows:
        print(f"J2 = {r['J2']:<6g} T_c = {r['T_c']:.4f} ± {r['T_c_err']:.4f}  ({r['order']})")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_table(rows, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
