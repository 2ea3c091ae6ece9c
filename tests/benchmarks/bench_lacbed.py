"""Time per LACBED pattern: batched Chebyshev propagation vs the textbook batched eigh.

    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_lacbed.py --n 128 --nbeams 100
    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_lacbed.py --device cuda --eigh-pixels 2048

Times the Chebyshev solver in complex128 ("double", the default) and complex64 ("single")
on the whole disc, and batched ``torch.linalg.eigh`` on a subset of pixels (--eigh-pixels),
extrapolated. Accuracy: max |Δφ| against eigh, max |ΔI_000| single vs double, and (on a
GPU) device vs CPU on the eigh subset.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from simulators.lacbed import bloch as B
from simulators.lacbed import builtin_crystal


def _timed(fn, device: str):
    """Wall time of fn() with the device synchronised (the solver returns numpy anyway)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crystal", default="Si")
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--nbeams", type=int, default=100)
    ap.add_argument("--thickness", type=float, default=1000.0)
    ap.add_argument("--kappa", type=float, default=0.0, help="eigh needs kappa = 0")
    ap.add_argument("--eigh-pixels", type=int, default=256)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    c = builtin_crystal(args.crystal)
    hkl = B.select_beams(c, 200.0, args.nbeams)
    system = B.bloch_system(c, hkl, 200.0, args.kappa)
    tilts, mask = B.tilt_grid(args.n, 10.0)
    pix = tilts[mask]
    dev, t = args.device, args.thickness
    for prec in B.PRECISIONS:  # warm-up: numba compile / CUDA context, cuBLAS handles
        B.propagate_chebyshev(system, pix[:64], t, device=dev, precision=prec)
    phi, t_cheb = _timed(lambda: B.propagate_chebyshev(system, pix, t, device=dev), dev)
    phi32, t_single = _timed(
        lambda: B.propagate_chebyshev(system, pix, t, device=dev, precision="single"), dev
    )
    sub = pix[:: max(1, len(pix) // args.eigh_pixels)][: args.eigh_pixels]
    print(
        f"{args.crystal}: {len(hkl)} beams, {len(pix)} pixels in the disc, t = {t} Å, "
        f"kappa = {args.kappa}, {torch.get_num_threads()} threads, device {dev}"
        + (f" ({torch.cuda.get_device_name()})" if dev.startswith("cuda") else "")
    )
    print(f"chebyshev double (complex128): {t_cheb:8.3f} s/pattern")
    print(f"chebyshev single (complex64):  {t_single:8.3f} s/pattern")
    di = np.abs(np.abs(phi32[:, 0]) ** 2 - np.abs(phi[:, 0]) ** 2).max()
    print(f"single vs double: max |ΔI_000| = {di:.1e}, max |Δφ| = {np.abs(phi32 - phi).max():.1e}")
    if args.kappa == 0.0:
        unit = np.abs((np.abs(phi) ** 2).sum(1) - 1).max()
        print(f"unitarity (double) max |Σ|φ|²-1| = {unit:.1e}")
        ref, t_eigh = _timed(lambda: B.propagate_eigh(system, sub, t, device=dev), dev)
        t_eigh *= len(pix) / len(sub)
        err = np.abs(B.propagate_chebyshev(system, sub, t, device=dev) - ref).max()
        print(f"torch.linalg.eigh batched:     {t_eigh:8.3f} s/pattern "
              f"(extrapolated from {len(sub)} pixels)")
        print(f"speed-up over eigh {t_eigh / t_cheb:.1f}x (double), "
              f"{t_eigh / t_single:.1f}x (single); chebyshev vs eigh max |Δφ| = {err:.1e}")
    if dev != "cpu":
        cpu = B.propagate_chebyshev(system, sub, t, device="cpu")
        err = np.abs(B.propagate_chebyshev(system, sub, t, device=dev) - cpu).max()
        print(f"{dev} vs cpu (double, {len(sub)} pixels): max |Δφ| = {err:.1e}")


if __name__ == "__main__":
    main()
