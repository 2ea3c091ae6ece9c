"""Benchmark: PercolationSimulator vs the numpy + scipy.ndimage pipeline a user would write.

Both produce L x L lattices with exactly round(p L^2) occupied sites and decide whether a
cluster spans top-bottom or left-right. Ours also returns the cluster count and the
largest cluster. Timings are best-of-``--repeats``, interleaved so that load from other
processes hits all three alike: one core for the scipy pipeline and for ours, and ours on
two threads.

    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_percolation.py [--L 100] [--p 0.5927]
"""

from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np
from scipy import ndimage
from tqdm import tqdm

from simulators.percolation import PercolationParams, PercolationSimulator, n_occupied


def scipy_pipeline(n: int, L: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """What a user writes: permutation for exactly N sites, ndimage.label, edge-label sets."""
    N = n_occupied(p, L)
    spanning = np.empty(n, dtype=np.uint8)
    for i in range(n):
        flat = np.zeros(L * L, dtype=np.uint8)
        flat[rng.permutation(L * L)[:N]] = 1
        labels, _ = ndimage.label(flat.reshape(L, L))
        top, bottom = set(labels[0].tolist()), set(labels[-1].tolist())
        left, right = set(labels[:, 0].tolist()), set(labels[:, -1].tolist())
        spanning[i] = bool(((top & bottom) | (left & right)) - {0})
    return spanning


def ours(sim: PercolationSimulator, n: int, chunk: int, rng: np.random.Generator) -> np.ndarray:
    out = []
    starts = range(0, n, chunk)
    for s in starts:
        out.append(sim.generate(np.zeros(min(chunk, n - s), dtype=np.int64), rng)["spanning"])
    return np.concatenate(out)


class Best:
    """Best-of-repeats samples per wall-second and per CPU-second (all threads of the process).

    CPU time is what the work itself costs, so it stays meaningful when other processes
    compete for the cores; wall time is what a user waits for.
    """

    def __init__(self) -> None:
        self.wall = self.cpu = float("inf")
        self.n = 0
        self.result: np.ndarray | None = None

    def run(self, fn, n: int) -> None:
        w0, c0 = time.perf_counter(), time.process_time()
        self.result = fn(n)
        self.cpu = min(self.cpu, time.process_time() - c0)
        self.wall = min(self.wall, time.perf_counter() - w0)
        self.n = n

    @property
    def rates(self) -> tuple[float, float]:
        return self.n / self.wall, self.n / self.cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--L", type=int, default=100)
    ap.add_argument("--p", type=float, default=0.5927)
    ap.add_argument("--samples", type=int, default=4000, help="samples per timing of ours")
    ap.add_argument("--scipy-samples", type=int, default=2000, help="samples per scipy timing")
    ap.add_argument("--chunk", type=int, default=1000, help="units per generate() call")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    sim = PercolationSimulator(PercolationParams(L=args.L, p_values=(args.p,)))
    rng = np.random.default_rng(args.seed)
    sim.generate(np.zeros(4, dtype=np.int64), rng)  # compile (or load the numba cache)
    max_threads = numba.config.NUMBA_NUM_THREADS
    print(
        f"L={args.L} p={args.p} N_occ={n_occupied(args.p, args.L)}; cores={os.cpu_count()}, "
        f"numba threads available={max_threads}, load avg={os.getloadavg()[0]:.2f}"
    )

    # Interleave the three timings within each repeat so that load from other processes,
    # which comes and goes, hits all of them alike; keep the best of each.
    scipy_b, one_b, two_b = Best(), Best(), Best()
    two_threads = max_threads >= 2
    for _ in tqdm(range(args.repeats), desc="repeats (scipy, ours x1, ours x2)", leave=False):
        scipy_b.run(lambda n: scipy_pipeline(n, args.L, args.p, rng), args.scipy_samples)
        numba.set_num_threads(1)
        one_b.run(lambda n: ours(sim, n, args.chunk, rng), args.samples)
        if two_threads:
            numba.set_num_threads(2)
            two_b.run(lambda n: ours(sim, n, args.chunk, rng), args.samples)
        numba.set_num_threads(max_threads)
    (wall_s, cpu_s), (wall_1, cpu_1) = scipy_b.rates, one_b.rates
    wall_2, cpu_2 = two_b.rates if two_threads else (float("nan"), float("nan"))
    span_s, span_1 = scipy_b.result, one_b.result

    print(f"{'pipeline':<30}{'samples/wall-s':>15}{'samples/CPU-s':>15}{'P(span)':>9}")
    print(f"{'numpy+scipy.ndimage (1 core)':<30}{wall_s:>15.0f}{cpu_s:>15.0f}{span_s.mean():>9.3f}")
    print(f"{'physml numba, 1 thread':<30}{wall_1:>15.0f}{cpu_1:>15.0f}{span_1.mean():>9.3f}")
    print(f"{'physml numba, 2 threads':<30}{wall_2:>15.0f}{cpu_2:>15.0f}")
    print(f"per core vs scipy: {cpu_1 / cpu_s:.1f}x (CPU time), {wall_1 / wall_s:.1f}x (wall)")
    print(
        f"2 threads vs 1 (wall): {wall_2 / wall_1:.2f}x; parallel efficiency (CPU-s per "
        f"sample, 1 vs 2 threads): {cpu_2 / cpu_1:.2f}; 2 threads vs scipy (wall): "
        f"{wall_2 / wall_s:.1f}x"
    )
    print(
        f"load avg at end={os.getloadavg()[0]:.2f}: other processes on the machine slow the "
        "wall-clock figures and the 2-thread gain"
    )


if __name__ == "__main__":
    main()
