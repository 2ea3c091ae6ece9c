"""Benchmark the J1-J2 Metropolis kernel against mcising, and measure autocorrelation times.

    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_j1j2.py                # speed
    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_j1j2.py --dataset      # + paper dataset
    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_j1j2.py --autocorr     # tau_int table

Speed: spin-flip attempts per nanosecond at the same L, J2, T and sweep count, on one core
(one chain each) and on all cores (independent chains: numba prange for us, mcising's Rayon
``run_independent_temperatures``). mcising's Hamiltonian is H = -J1 sum - J2 sum, so our
antiferromagnetic J2 is passed to it as -J2. Repeats are interleaved and the best time of
each is kept, which makes the ratio robust to other load on the machine.
"""

from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np
from tqdm import tqdm

from simulators.j1j2 import (
    DEFAULT_EXTRA_FIRST_SWEEPS,
    DEFAULT_SWEEPS_PER_T,
    PAPER_J2_VALUES,
    J1J2Params,
    J1J2Simulator,
    cool_chains,
    cooling_temperatures,
    integrated_autocorrelation_time,
    run_fixed_temperature,
)


def _ours(
    L: int, J2: float, T: float, sweeps: int, chains: int, interval: int
) -> tuple[float, float]:
    t0 = time.perf_counter()
    r = run_fixed_temperature(
        L,
        J2,
        T,
        0,
        sweeps // interval,
        seed=int(t0 * 1e6),
        n_chains=chains,
        sweeps_between=interval,
    )
    return time.perf_counter() - t0, float(r["energy"][:, sweeps // interval // 2 :].mean())


def _mcising_one(sim, T: float, sweeps: int, interval: int) -> tuple[float, float]:  # noqa: ANN001
    t0 = time.perf_counter()
    r = sim.production_sweeps(sweeps // interval, interval, temperature=T, store_configs=False)
    dt = time.perf_counter() - t0
    return dt, float(np.mean(r["energies"][len(r["energies"]) // 2 :]))


def _mcising_many(
    L: int, J2: float, T: float, sweeps: int, chains: int, interval: int
) -> tuple[float, float]:
    from mcising._core import run_independent_temperatures

    t0 = time.perf_counter()
    res = run_independent_temperatures(
        L,
        1.0,
        -J2,
        0.0,
        0.0,
        int(t0) % 10_000,
        "metropolis",
        "square",
        [T] * chains,
        0,
        sweeps,
        interval,
    )
    dt = time.perf_counter() - t0
    return dt, float(np.mean([np.mean(d["energies"][len(d["energies"]) // 2 :]) for d in res]))


def speed(L: int, J2: float, T: float, sweeps: int, repeats: int, chains: int) -> None:
    from mcising._core import IsingSimulation

    interval = 10
    flips1, flipsn = L * L * sweeps, L * L * sweeps * chains
    _ours(L, J2, T, 20, 1, 10)  # compile
    sim = IsingSimulation(L, 1.0, -J2, 0.0, 0.0, 1, "metropolis", "square")
    sim.sweep(100, temperature=T)
    best: dict[str, float] = {}
    energy: dict[str, float] = {}
    n_threads = numba.get_num_threads()
    for _ in tqdm(range(repeats), desc="interleaved repeats"):
        for key, fn in (
            ("mcising 1 core", lambda: _mcising_one(sim, T, sweeps, interval)),
            ("ours 1 core", lambda: _ours(L, J2, T, sweeps, 1, interval)),
            (
                f"mcising {n_threads} cores",
                lambda: _mcising_many(L, J2, T, sweeps, chains, interval),
            ),
            (f"ours {n_threads} cores", lambda: _ours(L, J2, T, sweeps, chains, interval)),
        ):
            dt, e = fn()
            best[key] = min(best.get(key, np.inf), dt)
            energy[key] = e
    print(
        f"\nL={L} J2={J2} T={T} sweeps={sweeps} (measure every {interval}), {chains} chains "
        f"for the multi-core rows, {n_threads} threads, best of {repeats}"
    )
    print(f"{'':22s}{'flips/ns':>10s}{'ns/flip':>10s}{'<E>/N':>10s}")
    for key, dt in best.items():
        n = flips1 if "1 core" in key else flipsn
        print(f"{key:22s}{n / dt / 1e9:10.3f}{dt / n * 1e9:10.2f}{energy[key]:10.4f}")
    for cores in ("1 core", f"{n_threads} cores"):
        print(f"speed-up ({cores}): {best[f'mcising {cores}'] / best[f'ours {cores}']:.2f}x")


def dataset(L: int, chains: int, J2: float) -> None:
    """Time one J2 of the paper dataset and extrapolate to all 22 J2 x 40 chains."""
    sim = J1J2Simulator(J1J2Params(L=L))
    temps = sim.temperatures
    sweeps = int(sim.sweeps_for(np.array([J2]))[0])
    cool_chains(L, J2, temps[:2], 2, seed=0, n_chains=2)  # compile
    t0 = time.perf_counter()
    cool_chains(L, J2, temps, sweeps, seed=1, n_chains=chains)
    dt = time.perf_counter() - t0
    per_chain_sweep = dt / (chains * sweeps)
    total = per_chain_sweep * 40 * float(np.sum(sim.sweeps_for(np.array(PAPER_J2_VALUES))))
    flips = chains * L * L * temps.size * sweeps
    print(
        f"\ndataset: L={L}, J2={J2}, {chains} chains x {temps.size} T x {sweeps} sweeps: "
        f"{dt:.1f} s ({flips / dt / 1e9:.3f} flips/ns); full paper set (22 J2 x 40 chains, "
        f"{sim.params.sweeps_per_T_near_half} sweeps/T for |J2-1/2| <= "
        f"{sim.params.near_half_width}) extrapolated: {total / 60:.1f} min"
    )


def _tau(series: np.ndarray) -> str:
    """tau_int as text; 'frz' where the chains are frozen (< 1% of sweeps change anything)."""
    if np.mean(np.diff(series, axis=1) != 0) < 0.01:
        return "frz"
    return f"{integrated_autocorrelation_time(series):.0f}"


def autocorr(L: int, J2s: list[float], n_meas: int, chains: int, step: int) -> None:
    """tau_int (sweeps) of E and of the order parameter along the cooling ladder.

    States come from successive cooling (the dataset's own protocol), then each chain runs
    ``n_meas`` sweeps at fixed T measuring every sweep.
    """
    temps = cooling_temperatures()
    pick = np.arange(0, temps.size, step)
    print(
        f"\ntau_int in sweeps (L={L}, {chains} chains x {n_meas} sweeps per point); "
        "order = |m| for J2 < 0.5, stripe for J2 > 0.5, both at 0.5"
    )
    for J2 in tqdm(J2s, desc="J2"):
        r = cool_chains(
            L,
            J2,
            temps,
            DEFAULT_SWEEPS_PER_T,
            seed=2,
            n_chains=chains,
            extra_first_sweeps=DEFAULT_EXTRA_FIRST_SWEEPS,
        )
        rows = []
        for t in pick:
            f = run_fixed_temperature(
                L,
                J2,
                float(temps[t]),
                0,
                n_meas,
                seed=3 + int(t),
                n_chains=chains,
                init=r["spins"][:, t],
            )
            te = _tau(f["energy"])
            tm, ts = _tau(np.abs(f["magnetisation"])), _tau(f["stripe"])
            to = tm if J2 < 0.5 else ts if J2 > 0.5 else f"{tm},{ts}"
            rows.append(f"{temps[t]:.2f}:{te}/{to}")
        print(f"J2={J2:<5} T:tauE/tauOrder  " + "  ".join(rows))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--L", type=int, default=30)
    ap.add_argument("--J2", type=float, default=0.3)
    ap.add_argument("--T", type=float, default=2.5)
    ap.add_argument("--sweeps", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--chains", type=int, default=8, help="chains for the multi-core comparison")
    ap.add_argument("--dataset", action="store_true", help="time one J2 of the paper dataset")
    ap.add_argument("--dataset-chains", type=int, default=40)
    ap.add_argument("--autocorr", action="store_true", help="print the tau_int table")
    ap.add_argument(
        "--autocorr-J2", type=float, nargs="+", default=[0.0, 0.3, 0.45, 0.5, 0.55, 0.8, 1.0]
    )
    ap.add_argument("--autocorr-sweeps", type=int, default=5000)
    ap.add_argument("--autocorr-step", type=int, default=4, help="every n-th temperature")
    a = ap.parse_args()
    print(f"cores: {os.cpu_count()}, numba threads: {numba.get_num_threads()}")
    speed(a.L, a.J2, a.T, a.sweeps, a.repeats, a.chains)
    if a.dataset:
        dataset(a.L, a.dataset_chains, a.J2)
    if a.autocorr:
        autocorr(a.L, a.autocorr_J2, a.autocorr_sweeps, 8, a.autocorr_step)


if __name__ == "__main__":
    main()
