"""Seconds per E = 0 eigenstate of the 3D Anderson model: scipy's default vs ours.

Side by side on the same disorder realisations in the same run:
  * scipy:  ``scipy.sparse.linalg.eigsh(H, k=1, sigma=0)`` (SuperLU with COLAMD ordering),
  * ours:   ``ShiftInvertSolver`` (PARDISO LDL^T with METIS nested dissection, analysis
            reused per M, shift-invert Lanczos), with the split factorisation / Lanczos.
Then ours alone at larger M, each size in a fresh subprocess so that its peak resident
memory (resource.getrusage maxrss) belongs to that size alone.

    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_anderson.py            # 20, 30; 40, 60
    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_anderson.py --with-40  # + scipy at 40
    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_anderson.py --with-100 # + ours at 100
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import scipy.sparse.linalg as sla
from tqdm import tqdm

from simulators.anderson.eigensolver import ShiftInvertSolver
from simulators.anderson.hamiltonian import anderson_hamiltonian, sample_disorder

W = 16.5  # near the transition, the physically interesting (and typical) case


def scipy_default(eps: np.ndarray) -> tuple[float, np.ndarray]:
    H = anderson_hamiltonian(eps).tocsc()
    vals, vecs = sla.eigsh(H, k=1, sigma=0)
    return float(vals[0]), vecs[:, 0]


def compare(M: int, repeats: int, solver: str) -> None:
    rng = np.random.default_rng(M)
    ours = ShiftInvertSolver(solver)
    ours.closest(sample_disorder(M, W, np.random.default_rng(0)))  # warm-up: METIS analysis
    t_s, t_o, agree = [], [], []
    for _ in tqdm(range(repeats), desc=f"M={M} side by side", leave=False):
        eps = sample_disorder(M, W, rng)
        t0 = time.perf_counter()
        e_s, v_s = scipy_default(eps)
        t1 = time.perf_counter()
        pair = ours.closest(eps)
        t2 = time.perf_counter()
        t_s.append(t1 - t0)
        t_o.append(t2 - t1)
        agree.append(abs(e_s - pair.energy) < 1e-9 and np.allclose(v_s**2, pair.psi**2, atol=1e-9))
    s, o = float(np.median(t_s)), float(np.median(t_o))
    print(
        f"M={M:3d} N={M**3:8d}  scipy eigsh(sigma=0) {s:8.3f} s/state   ours[{ours.backend}] "
        f"{o:7.3f} s/state   ratio {s / o:6.1f}x   same eigenpair: {all(agree)} "
        f"(median of {repeats})",
        flush=True,
    )


def single(M: int, repeats: int, solver: str) -> dict:
    """Ours alone at one M (run in its own process): timings and peak memory."""
    rng = np.random.default_rng(M)
    ours = ShiftInvertSolver(solver)
    t0 = time.perf_counter()
    ours.closest(sample_disorder(M, W, np.random.default_rng(0)))
    first = time.perf_counter() - t0
    rows = []
    for _ in range(repeats):
        eps = sample_disorder(M, W, rng)
        t0 = time.perf_counter()
        pair = ours.closest(eps)
        rows.append(
            (
                time.perf_counter() - t0,
                pair.seconds_factor,
                pair.seconds_lanczos,
                pair.solves,
                pair.residual,
            )
        )
    r = np.array(rows)
    out = {
        "M": M,
        "first": first,
        "total": float(np.median(r[:, 0])),
        "factor": float(np.median(r[:, 1])),
        "lanczos": float(np.median(r[:, 2])),
        "solves": float(np.median(r[:, 3])),
        "residual": float(r[:, 4].max()),
        "maxrss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "backend": ours.backend,
    }
    if ours._pardiso is not None:
        out["factor_nnz"] = ours._pardiso.factor_nnz
        out["pardiso_peak_gib"] = ours._pardiso.peak_memory_kb / 2**20
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--compare",
        type=int,
        nargs="*",
        default=[20, 30],
        help="sizes timed side by side with scipy's default",
    )
    ap.add_argument("--with-40", action="store_true", help="also compare at M=40 (~2-3 min)")
    ap.add_argument("--alone", type=int, nargs="*", default=[40, 60], help="sizes for ours only")
    ap.add_argument("--with-100", action="store_true", help="also ours alone at M=100")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--solver", default="auto", choices=["auto", "pardiso", "scipy"])
    ap.add_argument("--single", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.single:
        print(json.dumps(single(args.single, args.repeats, args.solver)))
        return
    sizes = list(args.compare) + ([40] if args.with_40 else [])
    for M in sizes:
        compare(M, args.repeats if M < 40 else 1, args.solver)
    alone = list(args.alone) + ([100] if args.with_100 else [])
    for M in tqdm(alone, desc="ours alone", leave=False):
        reps = args.repeats if M <= 60 else 1
        cmd = [
            sys.executable,
            __file__,
            "--single",
            str(M),
            "--repeats",
            str(reps),
            "--solver",
            args.solver,
        ]
        res = json.loads(
            subprocess.run(cmd, check=True, capture_output=True, text=True)
            .stdout.strip()
            .splitlines()[-1]
        )
        extra = ""
        if "factor_nnz" in res:
            extra = (
                f"  factor nnz {res['factor_nnz'] / 1e6:.0f}M, PARDISO peak "
                f"{res['pardiso_peak_gib']:.2f} GiB"
            )
        print(
            f"M={M:3d} N={M**3:8d}  ours[{res['backend']}] {res['total']:7.2f} s/state "
            f"(factorise {res['factor']:.2f} s + Lanczos {res['lanczos']:.2f} s, "
            f"{res['solves']:.0f} solves; first state incl. analysis {res['first']:.2f} s)  "
            f"max residual {res['residual']:.1e}  peak RSS {res['maxrss_gib']:.2f} GiB{extra}",
            flush=True,
        )


if __name__ == "__main__":
    main()
