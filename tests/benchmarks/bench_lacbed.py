"""Time per LACBED pattern: batched Chebyshev propagation vs the textbook batched eigh.

    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_lacbed.py --n 128 --nbeams 100
The eigh reference is timed on a subset of pixels (--eigh-pixels) and extrapolated.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from simulators.lacbed import bloch as B
from simulators.lacbed import builtin_crystal


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crystal", default="Si")
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--nbeams", type=int, default=100)
    ap.add_argument("--thickness", type=float, default=1000.0)
    ap.add_argument("--eigh-pixels", type=int, default=256)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    c = builtin_crystal(args.crystal)
    hkl = B.select_beams(c, 200.0, args.nbeams)
    system = B.bloch_system(c, hkl, 200.0, 0.0)
    tilts, mask = B.tilt_grid(args.n, 10.0)
    pix = tilts[mask]
    B.propagate_chebyshev(system, pix[:64], args.thickness, device=args.device)  # warm-up
    t0 = time.perf_counter()
    phi = B.propagate_chebyshev(system, pix, args.thickness, device=args.device)
    t_cheb = time.perf_counter() - t0
    sub = pix[:: max(1, len(pix) // args.eigh_pixels)][: args.eigh_pixels]
    t0 = time.perf_counter()
    ref = B.propagate_eigh(system, sub, args.thickness, device=args.device)
    t_eigh = (time.perf_counter() - t0) * len(pix) / len(sub)
    err = np.abs(B.propagate_chebyshev(system, sub, args.thickness, device=args.device) - ref).max()
    print(
        f"{args.crystal}: {len(hkl)} beams, {len(pix)} pixels in the disc, "
        f"{torch.get_num_threads()} threads, device {args.device}"
    )
    print(f"chebyshev (batched GEMM): {t_cheb:8.2f} s/pattern")
    print(
        f"torch.linalg.eigh batched: {t_eigh:8.2f} s/pattern (extrapolated from {len(sub)} pixels)"
    )
    print(
        f"speed-up {t_eigh / t_cheb:.1f}x; max |Δφ| = {err:.1e}; "
        f"unitarity max |Σ|φ|²-1| = {np.abs((np.abs(phi) ** 2).sum(1) - 1).max():.1e}"
    )


if __name__ == "__main__":
    main()
