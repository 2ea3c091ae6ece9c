"""LACBED cost, side by side in one run (issue 14): a converged pattern today vs the v1.0 path.

    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_lacbed.py            # CPU, ~5 min
    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_lacbed.py --device cuda
    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_lacbed.py --solver   # Chebyshev vs eigh

Default: SrTiO3 [001], 200 kV, 30 mrad, 630 Å, 128×128, Bird–King absorption.

* **v1.0 path** (what issue 14 timed at 89 s): 213 ZOLZ beams ranked at the zone axis,
  proportional absorption κ = 0.05, every disc pixel solved, complex128.
* **2.0 path**: beams ranked over the disc and doubled from 64 until the bright field on
  the 32² probe grid agrees with twice the beams to R ≥ 0.999 (``convergence.choose_beams``,
  timed as "beam search"), then the 128² disc on the verified symmetry wedge only, in
  complex128 and in complex64. Convergence is then *verified* on the full 128² grid:
  R(N, 2N) and R(v1.0, 2N) (the 2N solve is not part of the timing).
* **Bird–King cost**: building the structure matrix with Bird–King vs proportional
  absorption (f′ tables integrated once per (Z, B): first call and cached) and the solve
  with each, same beams, wedge.
* **HOLZ cost**: the same ZOLZ beams plus as many first-order Laue zone beams, wedge.

Timings are wall-clock on whatever else the machine is running; the v1.0 and 2.0 rows come
from the same run, so their ratio is the honest number. ``--device cuda`` runs every solve
on the GPU (warm-up first; synchronised timings).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from simulators.lacbed import bloch as B
from simulators.lacbed import builtin_crystal, scattering
from simulators.lacbed.beams import select_beams
from simulators.lacbed.convergence import choose_beams, r_value


def _timed(fn: Callable, device: str):
    """(result, wall seconds) with the device synchronised before and after."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def issue14(args: argparse.Namespace) -> None:
    """The issue-14 benchmark (module docstring)."""
    c = builtin_crystal(args.crystal)
    dev, kv, t, alpha, n = args.device, 200.0, args.thickness, args.alpha, args.n
    disc = B.tilt_grid(n, alpha)[1]
    print(f"{args.crystal} [001], {kv:.0f} kV, {alpha} mrad, {t} Å, {n}×{n} "
          f"({int(disc.sum())} disc pixels), device {dev}"
          + (f" ({torch.cuda.get_device_name()})" if dev.startswith("cuda") else
             f", {torch.get_num_threads()} torch threads"))
    # warm-up: numba compilation, CUDA context, Bird–King tables of this crystal
    warm = select_beams(c, kv, 16, alpha)
    for prec in B.PRECISIONS:
        B.simulate_disc(c, warm, 16, kv, t, alpha, absorption="bird_king", device=dev,
                        precision=prec)
    rows: list[tuple[str, int, int, float]] = []

    def disc_solve(hkl, **kw):
        kw = {"absorption": "bird_king", "device": dev} | kw
        return _timed(lambda: B.simulate_disc(c, hkl, n, kv, t, alpha, **kw), dev)

    # v1.0 path
    hkl_v1 = select_beams(c, kv, args.v1_nbeams, 0.0)
    old, t_old = disc_solve(hkl_v1, absorption="proportional", kappa=0.05, symmetry=False)
    rows.append(("v1.0: zone-axis ranking, κ = 0.05, full disc, double", len(hkl_v1),
                 old.pixels_solved, t_old))
    # 2.0 path: beam search, then the wedge
    choice, t_search = _timed(lambda: choose_beams(
        c, kv, t, alpha, start=args.start, nbeams_max=args.nbeams_max, r_target=0.999,
        probe_n=32, absorption="bird_king", device=dev, symmetry=True), dev)
    new, t_new = disc_solve(choice.hkl)
    new32, t_new32 = disc_solve(choice.hkl, precision="single")
    rows.append((f"2.0: beam search (probe 32², {len(choice.history) + 1} probe solves)",
                 choice.nbeams, 0, t_search))
    rows.append(("2.0: Bird–King, symmetry wedge, double", choice.nbeams,
                 new.pixels_solved, t_new))
    rows.append(("2.0: Bird–King, symmetry wedge, single", choice.nbeams,
                 new32.pixels_solved, t_new32))
    # verification on the full grid (not timed as part of the pattern)
    hkl2 = select_beams(c, kv, 2 * len(choice.hkl), alpha)
    ref = disc_solve(hkl2)[0].pattern
    r_new = r_value(new.pattern[disc], ref[disc])
    r_new32 = r_value(new32.pattern[disc], ref[disc])
    old_bk = disc_solve(hkl_v1, symmetry=True)[0].pattern  # v1.0 beams, same absorption
    r_old = r_value(old_bk[disc], ref[disc])
    # Bird–King cost, separately: structure matrix and solve, same beams
    scattering._absorptive_spline.cache_clear()  # f′ tables are cached per (Z, B)
    _, t_bk_first = _timed(lambda: B.bloch_system(c, choice.hkl, kv, absorption="bird_king"),
                           "cpu")
    _, t_bk = _timed(lambda: B.bloch_system(c, choice.hkl, kv, absorption="bird_king"), "cpu")
    _, t_prop = _timed(lambda: B.bloch_system(c, choice.hkl, kv, 0.05, "proportional"), "cpu")
    prop, t_prop_solve = disc_solve(choice.hkl, absorption="proportional", kappa=0.05)
    # HOLZ cost: same ZOLZ beams plus as many FOLZ beams (z-preserving symmetry only)
    nz = len(choice.hkl)
    hkl_h = select_beams(c, kv, nz, alpha, holz=True)
    holz, t_holz = disc_solve(hkl_h)
    rows.append(("HOLZ: + FOLZ beams, Bird–King, wedge (z-preserving ops), double",
                 len(hkl_h), holz.pixels_solved, t_holz))
    rows.append(("proportional κ = 0.05 instead of Bird–King, wedge, double", nz,
                 prop.pixels_solved, t_prop_solve))

    print(f"\n{'what':66s} {'beams':>6s} {'pixels':>7s} {'seconds':>9s}")
    for what, nb, px, sec in rows:
        print(f"{what:66s} {nb:6d} {px or '':>7} {sec:9.3f}")
    total = t_search + t_new
    print(f"\nbeam search history (N, R(N, 2N) on the probe grid): {choice.history}")
    print(f"converged 2.0 pattern: {t_new:.2f} s (double) / {t_new32:.2f} s (single); with "
          f"the beam search {total:.2f} s; v1.0 path {t_old:.2f} s -> "
          f"{t_old / t_new:.1f}x ({t_old / t_new32:.1f}x single, {t_old / total:.1f}x "
          f"incl. search)")
    print(f"verified on the full {n}² grid against {len(hkl2)} beams: R(2.0, 2N) = "
          f"{r_new:.5f} (double), {r_new32:.5f} (single); R(v1.0 {len(hkl_v1)} beams, 2N) "
          f"= {r_old:.5f}; max |ΔI| single vs double "
          f"{np.abs(new32.pattern - new.pattern).max():.1e}")
    print(f"Bird–King: structure matrix {t_bk_first:.2f} s first call (f′ tables), "
          f"{t_bk:.2f} s cached, vs {t_prop:.2f} s proportional; solve {t_new:.2f} s vs "
          f"{t_prop_solve:.2f} s proportional; mean BF intensity {new.pattern[disc].mean():.3f}"
          f" vs {prop.pattern[disc].mean():.3f}")
    print(f"HOLZ: {len(hkl_h)} beams ({len(hkl_h) - nz} FOLZ), {holz.pixels_solved} pixels "
          f"({len(holz.symmetry_ops)} ops), {t_holz:.2f} s = {t_holz / t_new:.1f}x the "
          f"ZOLZ solve; R(ZOLZ, HOLZ) = {r_value(new.pattern[disc], holz.pattern[disc]):.6f}, "
          f"max |ΔI| {np.abs(new.pattern - holz.pattern).max():.1e}")


def solver_comparison(args: argparse.Namespace) -> None:
    """Chebyshev (double/single) on the whole disc vs batched torch eigh (no absorption),
    the README's solver table (Si, 100 beams, 10 mrad, 1000 Å)."""
    c = builtin_crystal(args.crystal)
    hkl = B.select_beams(c, 200.0, args.nbeams)
    system = B.bloch_system(c, hkl, 200.0, args.kappa)
    tilts, mask = B.tilt_grid(args.n, args.alpha)
    pix = tilts[mask]
    dev, t = args.device, args.thickness
    for prec in B.PRECISIONS:  # warm-up: numba compile / CUDA context, cuBLAS handles
        B.propagate_chebyshev(system, pix[:64], t, device=dev, precision=prec)
    phi, t_cheb = _timed(lambda: B.propagate_chebyshev(system, pix, t, device=dev), dev)
    phi32, t_single = _timed(
        lambda: B.propagate_chebyshev(system, pix, t, device=dev, precision="single"), dev)
    sub = pix[:: max(1, len(pix) // args.eigh_pixels)][: args.eigh_pixels]
    print(f"{args.crystal}: {len(hkl)} beams, {len(pix)} pixels in the disc, t = {t} Å, "
          f"kappa = {args.kappa}, device {dev}")
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--solver", action="store_true",
                    help="Chebyshev vs batched eigh instead (defaults: Si, 100 beams, "
                         "10 mrad, 1000 Å, κ = 0)")
    ap.add_argument("--crystal", default=None)
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--thickness", type=float, default=None, help="Å")
    ap.add_argument("--alpha", type=float, default=None, help="mrad")
    ap.add_argument("--v1-nbeams", type=int, default=213)
    ap.add_argument("--start", type=int, default=64, help="first beam count of the search")
    ap.add_argument("--nbeams-max", type=int, default=1024)
    ap.add_argument("--nbeams", type=int, default=100, help="--solver only")
    ap.add_argument("--kappa", type=float, default=0.0, help="--solver only; eigh needs 0")
    ap.add_argument("--eigh-pixels", type=int, default=256, help="--solver only")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    solver = args.solver
    args.crystal = args.crystal or ("Si" if solver else "SrTiO3")
    args.thickness = args.thickness or (1000.0 if solver else 630.0)
    args.alpha = args.alpha or (10.0 if solver else 30.0)
    (solver_comparison if solver else issue14)(args)


if __name__ == "__main__":
    main()
