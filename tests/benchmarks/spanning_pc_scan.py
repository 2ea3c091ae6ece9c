"""Measure the finite-size threshold p_c(L) of physml's percolation data (issue 13).

p_c(L) is where the spanning probability P(p, L) crosses 1/2, for *this* ensemble: exactly
round(p L^2) occupied sites (the simulator's exact-density lattices) and a lattice spans
when one cluster joins top-bottom OR left-right. With "or", P(p) is above the
one-direction curve, so p_c(L) lies below the infinite-lattice p_c = 0.5927 and
approaches it as L grows.

Method: the simulator (Hoshen-Kopelman) on ``--points`` p values spaced by one occupied
site's worth or more around a first guess, ``n`` lattices each; a straight line fitted by
weighted least squares to the points with 0.1 <= P <= 0.9 gives the crossing. The error is
the standard deviation over ``--bootstrap`` binomial resamplings of the P values.

    PYTHONPATH=. NUMBA_NUM_THREADS=1 .venv/bin/python tests/benchmarks/spanning_pc_scan.py

writes docs/spanning/pc_L.json and docs/spanning/pc_L.md. The fixed-p_c experiments
(conf/experiment/percolation_spanning_pc*.yaml) train and test at these p_c(L), and
tests/test_recurrent_spanning.py checks that their p matches this file.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from simulators.percolation import PercolationSimulator, n_occupied

OUT = Path(__file__).resolve().parents[2] / "docs" / "spanning"
SIZES = {12: 20000, 32: 20000, 64: 10000, 128: 4000, 256: 2000}  # L -> lattices per p


def spanning_probability(L: int, p_values: list[float], n: int, seed: int) -> np.ndarray:
    """Fraction of n exact-density lattices that span, at each p (one seed per p)."""
    sim = PercolationSimulator.from_config(L=L, p_values=p_values)
    out = []
    for j in range(len(p_values)):
        d = sim.generate(np.full(n, j, dtype=np.int64), np.random.default_rng([seed, L, j]))
        out.append(d["spanning"].mean())
    return np.asarray(out)


def crossing(p: np.ndarray, P: np.ndarray, n: int) -> float:
    """p where a weighted straight-line fit to the points with 0.1 <= P <= 0.9 equals 1/2."""
    sel = (P >= 0.1) & (P <= 0.9)
    if sel.sum() < 3:
        return float("nan")
    var = np.clip(P[sel] * (1 - P[sel]), 1e-3, None) / n
    w = 1.0 / var
    A = np.vstack([np.ones(sel.sum()), p[sel]]).T
    coef = np.linalg.solve(A.T @ (A * w[:, None]), A.T @ (w * P[sel]))
    return float((0.5 - coef[0]) / coef[1])


def scan(L: int, n: int, points: int, bootstrap: int, seed: int) -> dict:
    guess = 0.5927 - 0.45 * L ** (-0.75)  # rough: the 'or' threshold lies below p_c
    half = 0.9 * L ** (-0.75)  # P(p) rises over a window ~ L^(-1/nu); wide enough for it
    occ = sorted({n_occupied(q, L) for q in np.linspace(guess - half, guess + half, points)})
    p = np.array([k / L**2 for k in occ])
    t0 = time.perf_counter()
    P = spanning_probability(L, list(p), n, seed)
    rng = np.random.default_rng(seed)
    boot = [crossing(p, rng.binomial(n, P) / n, n) for _ in range(bootstrap)]
    return {
        "L": L,
        "p_c_L": crossing(p, P, n),
        "err": float(np.nanstd(boot)),
        "n_per_p": n,
        "p": p.tolist(),
        "P": P.tolist(),
        "seconds": time.perf_counter() - t0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--L", type=int, nargs="*", default=list(SIZES))
    ap.add_argument("--points", type=int, default=15)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    results = {}
    for L in args.L:
        r = scan(L, SIZES.get(L, 1000), args.points, args.bootstrap, args.seed)
        results[str(L)] = r
        print(f"L={L:4d}  p_c(L)={r['p_c_L']:.5f} ± {r['err']:.5f}  ({r['seconds']:.1f} s)", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pc_L.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = [
        "# p_c(L) of the exact-density ensemble, spanning = top-bottom or left-right",
        "",
        "`PYTHONPATH=. NUMBA_NUM_THREADS=1 .venv/bin/python tests/benchmarks/spanning_pc_scan.py`",
        "",
        "| L | p_c(L) | error | lattices per p | p values |",
        "|---|---|---|---|---|",
    ]
    for r in results.values():
        lines.append(f"| {r['L']} | {r['p_c_L']:.5f} | {r['err']:.5f} | {r['n_per_p']} | {len(r['p'])} |")
    (args.out / "pc_L.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
