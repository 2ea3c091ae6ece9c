"""Check physml.analysis.fss on models whose critical point and ν are known; write figures and tables.

    PYTHONPATH=. NUMBA_NUM_THREADS=1 .venv/bin/python docs/fss/fss_physics.py percolation
    PYTHONPATH=. NUMBA_NUM_THREADS=1 .venv/bin/python docs/fss/fss_physics.py ising

Percolation: the spanning probability P(p, L) (either direction, open boundaries) of 2D
site percolation at L = 16, 32, 64, 128, 17 values of p per size in a window
0.59 ± 1.5 L^{-0.7}, 10 000 lattices per point, in two ensembles:

* grand canonical: every site occupied with probability p (the simulator's exact-occupancy
  lattices with the occupancy drawn from Binomial(L², p), see tests/test_fss.py);
* canonical: exactly round(p L²) occupied sites, as in the project's datasets, so
  x = round(p L²) / L².

Each is collapsed without and with the leading correction to scaling (ω = 3/2, R. M. Ziff,
Phys. Rev. E 83, 020107 (2011); for the canonical ensemble also ω = 1/2, the relative
size L^{-(d - 2/ν)} of its binomial narrowing), against p_c = 0.592746, ν = 4/3.

Ising: the Binder cumulant U = 1 - <m⁴>/(3<m²>²) and <|m|> of the 2D Ising model
(simulators.j1j2 at J2 = 0) at L = 16, 32, 64, 11 temperatures 2.27 ± 2/L, 32 independent
Metropolis chains per point (2 000 / 5 000 / 12 000 equilibration sweeps, 150
measurements every 10 / 20 / 40 sweeps), jackknife errors over chains; against
T_c = 2.269185, ν = 1 and, for <|m|>, ζ = -β = -1/8.

Raw data go to ``--out``/raw/*.csv and are reused when present (delete them to redo a
size), so an interrupted run resumes. Outputs: ``<system>_fss.csv`` (one row per fit)
and one collapse figure per fit.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from physml.analysis.fss import CollapseResult, collapse
from physml.analysis.fss_figures import collapse_figure
from physml.constants import NU_ISING_2D, NU_PERCOLATION_2D, PC_SQUARE_SITE, TC_ISING

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from test_fss import spanning_counts_grand_canonical  # noqa: E402

PERCOLATION_SIZES = (16, 32, 64, 128)
ISING_SIZES = (16, 32, 64)


def _cached(path: Path, columns: list[str], make) -> np.ndarray:  # noqa: ANN001
    """Rows from ``path`` if it exists, else ``make()`` written there first (resumable runs)."""
    if path.exists():
        return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    rows = np.asarray(make(), dtype=np.float64)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, rows, delimiter=",", header=",".join(columns), comments="", fmt="%.10g")
    return rows


def _row(name: str, r: CollapseResult, known: dict[str, float]) -> dict[str, object]:
    row: dict[str, object] = {"fit": name}
    row.update(r.summary())
    for key, value in known.items():
        err = getattr(r, f"{key}_err")
        row[f"{key}_pull"] = (getattr(r, key) - value) / err if err > 0 else float("nan")
    return row


def _write(rows: list[dict[str, object]], path: Path) -> None:
    with path.open("w", newline="") as fh:
        fields = list(dict.fromkeys(key for row in rows for key in row))
        writer = csv.DictWriter(fh, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        print(
            f"{row['fit']:>34}: x_c = {row['x_c']:.5f} ± {row['x_c_err']:.5f} ({row['x_c_pull']:+.1f}σ), "
            f"nu = {row['nu']:.4f} ± {row['nu_err']:.4f} ({row['nu_pull']:+.1f}σ), S = {row['quality_S']:.2f}"
        )


def percolation(out: Path, n: int, seed: int, n_bootstrap: int) -> None:
    from simulators.percolation import PercolationParams, PercolationSimulator, n_occupied

    def grid(L: int) -> np.ndarray:
        return 0.59 + np.linspace(-1.5, 1.5, 17) * L**-0.7

    def grand(L: int) -> np.ndarray:
        p = grid(L)
        k = spanning_counts_grand_canonical(L, p, n, np.random.default_rng([seed, L]))
        return np.column_stack([np.full(p.size, L), p, np.full(p.size, n), k])

    def canonical(L: int) -> np.ndarray:
        p = grid(L)
        sim = PercolationSimulator(PercolationParams(L=L, p_values=tuple(p)))
        rng = np.random.default_rng([seed, L, 1])
        k = np.zeros(p.size, dtype=np.int64)
        chunk = max(1, 2_000_000 // (L * L))
        for j in range(p.size):
            for start in range(0, n, chunk):
                points = np.full(min(chunk, n - start), j, dtype=np.int64)
                k[j] += int(sim.generate(points, rng)["spanning"].sum())
        x = np.array([n_occupied(v, L) for v in p]) / (L * L)
        return np.column_stack([np.full(p.size, L), x, np.full(p.size, n), k])

    known = {"x_c": PC_SQUARE_SITE, "nu": NU_PERCOLATION_2D}
    rows = []
    for ensemble, make in (("grand canonical", grand), ("canonical", canonical)):
        data = np.vstack(
            [
                _cached(
                    out / "raw" / f"percolation_{ensemble.replace(' ', '_')}_L{L}.csv",
                    ["L", "p", "n", "k"],
                    lambda L=L, make=make: make(L),
                )
                for L in tqdm(PERCOLATION_SIZES, desc=f"percolation, {ensemble}")
            ]
        )
        L, x, trials, k = data.T
        fits = [("16-128", None, PERCOLATION_SIZES), ("32-128", None, PERCOLATION_SIZES[1:])]
        fits += [(f"16-128, omega={w:g}", w, PERCOLATION_SIZES) for w in (1.0, 1.5, 2.0)]
        if ensemble == "canonical":
            fits.append(("16-128, omega=0.5", 0.5, PERCOLATION_SIZES))
        for name, omega, sizes in tqdm(fits, desc="collapse fits"):
            m = np.isin(L, sizes)
            r = collapse(
                x[m],
                k[m] / trials[m],
                L[m],
                trials=trials[m],
                omega=omega,
                n_bootstrap=n_bootstrap,
                seed=seed,
            )
            label = f"{ensemble}, {name}"
            rows.append(_row(label, r, known))
            fig = collapse_figure(r, "p", "P(p, L)", f"2D site percolation, {label}", known)
            fig.savefig(
                out
                / f"percolation_{ensemble.replace(' ', '_')}_{name.replace(', ', '_').replace('=', '')}.png",
                dpi=110,
            )
    _write(rows, out / "percolation_fss.csv")


def ising(out: Path, seed: int, n_bootstrap: int) -> None:
    from simulators.j1j2 import run_fixed_temperature

    chains, n_meas = 32, 150
    eq = {16: 2000, 32: 5000, 64: 12000}
    between = {16: 10, 32: 20, 64: 40}

    def measure(L: int) -> np.ndarray:
        rows = []
        for i, T in enumerate(tqdm(2.27 + np.linspace(-2.0, 2.0, 11) / L, desc=f"Ising L={L}", leave=False)):
            m = run_fixed_temperature(
                L,
                0.0,
                float(T),
                eq[L],
                n_meas,
                seed=seed * 1_000_003 + 1000 * L + i,
                n_chains=chains,
                sweeps_between=between[L],
            )["magnetisation"]

            def stats(chain: np.ndarray, m: np.ndarray = m) -> np.ndarray:
                mm = m[chain]
                return np.array([1 - (mm**4).mean() / (3 * (mm**2).mean() ** 2), np.abs(mm).mean()])

            every = np.arange(chains)
            jk = np.array([stats(np.delete(every, c)) for c in range(chains)])
            err = np.sqrt((chains - 1) / chains * ((jk - jk.mean(0)) ** 2).sum(0))
            rows.append([L, T, *stats(every), *err])
        return np.array(rows)

    data = np.vstack(
        [
            _cached(
                out / "raw" / f"ising_L{L}.csv",
                ["L", "T", "U", "m_abs", "U_err", "m_abs_err"],
                lambda L=L: measure(L),
            )
            for L in tqdm(ISING_SIZES, desc="Ising")
        ]
    )
    L, T, U, m_abs, dU, dm = data.T
    rows = []
    known = {"x_c": TC_ISING, "nu": NU_ISING_2D}
    for name, y, dy, fit_zeta, ylabel in (
        ("Binder cumulant", U, dU, False, "U"),
        ("<|m|>", m_abs, dm, True, "<|m|>"),
    ):
        for sizes in (ISING_SIZES, ISING_SIZES[1:]):
            m = np.isin(L, sizes)
            r = collapse(T[m], y[m], L[m], dy[m], fit_zeta=fit_zeta, n_bootstrap=n_bootstrap, seed=seed)
            label = f"{name}, L={'-'.join(str(s) for s in sizes)}"
            rows.append(_row(label, r, known | ({"zeta": -0.125} if fit_zeta else {})))
            fig = collapse_figure(r, "T", ylabel, f"2D Ising, {label}", known)
            fig.savefig(
                out / f"ising_{'binder' if not fit_zeta else 'm'}_L{'-'.join(str(s) for s in sizes)}.png",
                dpi=110,
            )
    _write(rows, out / "ising_fss.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("system", choices=["percolation", "ising"])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--trials", type=int, default=10_000, help="lattices per (p, L) point")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.system == "percolation":
        percolation(args.out, args.trials, args.seed, args.bootstrap)
    else:
        ising(args.out, args.seed, args.bootstrap)


if __name__ == "__main__":
    main()
