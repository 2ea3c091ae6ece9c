"""Swendsen–Wang (the Potts simulator) against single-spin Metropolis (the J1-J2 code at J2 = 0), at T_c.

Both simulate the 2D Ising model at its critical point (Potts q = 2 at T = 1/ln(1+√2) is
the Ising model at 2T). The figure of merit is what a user gets: independent samples of
|m| per second = 1 / (2 τ_int × seconds per update), measured side by side in one run.

    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_potts.py [--sizes 16 32 64] [--updates 4000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from physml.constants import TC_ISING, potts_critical_temperature
from simulators.j1j2 import integrated_autocorrelation_time, run_fixed_temperature
from simulators.potts import run_chains


def measure(L: int, updates: int, chains: int) -> dict[str, float]:
    run_chains(8, 2, 1.0, 2, 2, 1, seed=0, n_chains=1)  # compile outside the timing
    run_fixed_temperature(L=8, J2=0.0, T=2.0, n_sweeps=2, n_measure=2, seed=0)
    start = time.perf_counter()
    sw = run_chains(L, 2, potts_critical_temperature(2), equilibration=200, n_samples=updates, interval=1, seed=1, n_chains=chains)
    sw_seconds = (time.perf_counter() - start) / (chains * (updates + 200))
    start = time.perf_counter()
    metro = run_fixed_temperature(L=L, J2=0.0, T=TC_ISING, n_sweeps=2000, n_measure=4 * updates, seed=1, n_chains=chains)
    metro_seconds = (time.perf_counter() - start) / (chains * (4 * updates + 2000))
    tau_sw = integrated_autocorrelation_time(np.abs(sw["m_re"]))
    tau_metro = integrated_autocorrelation_time(np.abs(metro["magnetisation"]))
    rate_sw = 1.0 / (2 * tau_sw * sw_seconds)
    rate_metro = 1.0 / (2 * tau_metro * metro_seconds)
    return {"L": L, "tau_sw": tau_sw, "tau_metropolis": tau_metro, "ms_per_update_sw": 1e3 * sw_seconds,
            "ms_per_sweep_metropolis": 1e3 * metro_seconds, "independent_per_s_sw": rate_sw,
            "independent_per_s_metropolis": rate_metro, "ratio": rate_sw / rate_metro}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--updates", type=int, default=4000)
    parser.add_argument("--chains", type=int, default=2)
    args = parser.parse_args()
    print("| L | τ(|m|) Swendsen–Wang | τ(|m|) Metropolis (sweeps) | ms/update SW | ms/sweep Metropolis | independent |m| per s: SW | Metropolis | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for L in args.sizes:
        r = measure(L, args.updates, args.chains)
        print(f"| {L} | {r['tau_sw']:.2f} | {r['tau_metropolis']:.1f} | {r['ms_per_update_sw']:.3f} | {r['ms_per_sweep_metropolis']:.3f} | "
              f"{r['independent_per_s_sw']:.0f} | {r['independent_per_s_metropolis']:.0f} | **{r['ratio']:.1f}×** |")


if __name__ == "__main__":
    main()
