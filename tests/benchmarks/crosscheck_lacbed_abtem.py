"""Independent cross-check of the LACBED Bloch-wave code against abTEM plane-wave multislice.

    PYTHONPATH=. .venv/bin/python tests/benchmarks/crosscheck_lacbed_abtem.py \
        --sampling 0.025 --out docs/figures/lacbed_abtem_crosscheck.png

abTEM's real-space potential needs the finer 0.025 Å grid for the heavy, small cell: at
0.05 Å its U_g are 3–6 % low at |g| = 2.6–3.6 Å⁻¹, which alone limits R to ~0.99 at 500 Å.

For Si and SrTiO3 along [001] at 200 kV the bright-field (000) intensity is computed along
a line of beam tilts through the zone axis (±α, default 31 tilts over ±10 mrad at 20° from
[100]) at each thickness, once with the project's Bloch code (ZOLZ beams, and the
largest ZOLZ set plus ``--holz-nbeams`` first-order Laue zone beams: ``holz=true``;
Chebyshev propagation) and once with abTEM's multislice (Kirkland potential, infinite
projection, one slice per atom plane). Both use B = 0 (no Debye–Waller damping: abTEM's
static potential has none) and no absorption (κ = 0). Printed: R = (1 + ZNCC)/2 per
crystal, thickness and Bloch beam set ("805" ZOLZ, "805+408" with FOLZ), against

* ``3D``: abTEM's ordinary sliced 3D potential (includes HOLZ), the independent reference;
* ``zolz``: the same abTEM potential averaged along z (projected potential spread evenly
  over ``--zolz-slices`` thin slices), which removes HOLZ and so isolates the Bloch solver
  and its U_g from the physics the Bloch code leaves out on purpose.

Tilt convention: abTEM's ``tilt=(tx, ty)`` in mrad multiplies the Fresnel propagator by
exp(-2πi k·tan(t) Δz), i.e. a wave-vector K_t = tan(t)/λ; the Bloch code takes tilts in
radians and uses K_t = K sin(t). The two differ by t²/2 relative (5e-5 at 10 mrad).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from physml.metrics import r_index
from simulators.lacbed import bloch as B
from simulators.lacbed import builtin_crystal
from simulators.lacbed.crystals import Crystal

#: slices per cubic cell that put every atom plane in its own slice (Si planes at z = 0,
#: 1/4, 1/2, 3/4; SrTiO3 at z = 0, 1/2)
SLICES_PER_CELL = {"Si": 4, "SrTiO3": 2}


def line_tilts(ntilts: int, alpha_mrad: float, angle_deg: float) -> np.ndarray:
    """(ntilts, 2) tilts (tx, ty) in mrad on a line through [001] at ``angle_deg`` from x."""
    s = np.linspace(-alpha_mrad, alpha_mrad, ntilts)
    ang = np.deg2rad(angle_deg)
    return np.stack([s * np.cos(ang), s * np.sin(ang)], axis=1)


def without_debye_waller(crystal: Crystal) -> Crystal:
    """The same crystal with B = 0 on every site (matches abTEM's static potential)."""
    return dataclasses.replace(crystal, b_iso=np.zeros_like(crystal.b_iso))


def cells_for(crystal: Crystal, thicknesses: list[float]) -> list[int]:
    """Whole numbers of cells closest to the requested thicknesses (Å)."""
    return [max(1, int(round(t / crystal.a))) for t in thicknesses]


def abtem_bright_field(
    crystal: Crystal,
    tilts_mrad: np.ndarray,
    ncells: list[int],
    voltage_kv: float = 200.0,
    sampling: float = 0.05,
    slices_per_cell: int = 4,
    zolz_only: bool = False,
    zolz_slices: int = 8,
    tile: int = 1,
) -> np.ndarray:
    """|ψ_000|² (len(ncells), ntilts) from abTEM plane-wave multislice.

    The exit wave of a unit-amplitude plane wave is sampled on the potential grid; its mean
    over the (periodic) cell is the zero-frequency Fourier component, i.e. φ_000. One cell
    laterally suffices for a plane wave in a periodic crystal (``tile`` > 1 repeats it and
    gives the same numbers, which the docs record). With ``zolz_only`` the potential is the
    z-average of the cell, sliced into ``zolz_slices`` equal slices (no HOLZ).
    """
    import abtem
    from ase import Atoms

    if slices_per_cell < 2:
        # abTEM 1.0.11 mis-indexes exit planes of a one-slice unit; c/2 or finer anyway
        raise ValueError("slices_per_cell must be >= 2")
    atoms = Atoms(numbers=crystal.z, scaled_positions=crystal.frac, cell=[crystal.a] * 3,
                  pbc=True)
    unit = abtem.Potential(
        atoms, sampling=sampling, slice_thickness=crystal.a / slices_per_cell,
        parametrization="kirkland", projection="infinite",
    ).build().compute(progress_bar=False)
    nslice = slices_per_cell
    if zolz_only:
        proj = np.asarray(unit.array, dtype=np.float64).sum(axis=0) / zolz_slices
        unit = abtem.PotentialArray(
            np.repeat(proj[None].astype(np.float32), zolz_slices, axis=0),
            slice_thickness=crystal.a / zolz_slices, sampling=unit.sampling,
        )
        nslice = zolz_slices
    exit_planes = tuple(n * nslice - 1 for n in ncells)
    pot = abtem.CrystalPotential(unit, repetitions=(tile, tile, max(ncells)),
                                 exit_planes=exit_planes)
    waves = abtem.PlaneWave(energy=voltage_kv * 1e3, tilt=np.asarray(tilts_mrad, float))
    exit_waves = waves.multislice(pot).compute(progress_bar=False)
    arr = np.asarray(exit_waves.array)
    if arr.ndim == 3:  # a single exit plane comes back without its thickness axis
        arr = arr[None]
    phi0 = arr.astype(np.complex128).mean(axis=(-2, -1))
    return np.abs(phi0) ** 2


def bloch_bright_field(
    crystal: Crystal,
    tilts_mrad: np.ndarray,
    ncells: list[int],
    voltage_kv: float = 200.0,
    nbeams: int = 800,
    holz_nbeams: int = 0,
) -> tuple[np.ndarray, str]:
    """|φ_000|² (len(ncells), ntilts) from the project's Bloch code (κ = 0) and a label of
    the beam set: "N" (ZOLZ only) or "N+M" (``holz_nbeams`` > 0: M first-order Laue zone
    beams added, 3D excitation errors). Beams are ranked over the disc the tilts span."""
    alpha = float(np.max(np.hypot(tilts_mrad[:, 0], tilts_mrad[:, 1])))
    hkl = B.select_beams(crystal, voltage_kv, nbeams, alpha, holz=holz_nbeams > 0,
                         holz_nbeams=holz_nbeams or None)
    system = B.bloch_system(crystal, hkl, voltage_kv, kappa=0.0, absorption="none")
    out = np.stack([
        np.abs(B.propagate_chebyshev(system, tilts_mrad * 1e-3, n * crystal.a)[:, 0]) ** 2
        for n in ncells
    ])
    nz = int(np.sum(hkl[:, 2] == 0))
    return out, f"{nz}" if nz == len(hkl) else f"{nz}+{len(hkl) - nz}"


def crosscheck(
    name: str,
    thicknesses: list[float],
    tilts_mrad: np.ndarray,
    nbeams: list[int],
    voltage_kv: float = 200.0,
    sampling: float = 0.05,
    zolz: bool = True,
    zolz_slices: int = 8,
    slices_per_cell: int | None = None,
    holz_nbeams: list[int] = (),
) -> dict:
    """All curves and R values for one crystal: keys ``t``, ``abtem`` {variant: (T, n)},
    ``bloch`` {label: (T, n)}, ``r`` {(variant, label): (T,)} and ``seconds`` per method.
    Bloch runs: ZOLZ only for every count in ``nbeams``, then the largest ZOLZ count plus
    each count in ``holz_nbeams`` of first-order Laue zone beams (label "N+M")."""
    crystal = without_debye_waller(builtin_crystal(name))
    ncells = cells_for(crystal, thicknesses)
    spc = slices_per_cell or SLICES_PER_CELL.get(name, 4)
    res: dict = {"t": np.array(ncells) * crystal.a, "abtem": {}, "bloch": {}, "r": {},
                 "seconds": {}}
    variants = ["3D"] + (["zolz"] if zolz else [])
    for var in variants:
        t0 = time.perf_counter()
        res["abtem"][var] = abtem_bright_field(
            crystal, tilts_mrad, ncells, voltage_kv, sampling, spc,
            zolz_only=var == "zolz", zolz_slices=zolz_slices,
        )
        res["seconds"][f"abtem {var}"] = time.perf_counter() - t0
    runs = [(nb, 0) for nb in nbeams] + [(max(nbeams), nh) for nh in holz_nbeams]
    for nb, nh in runs:
        t0 = time.perf_counter()
        curves, label = bloch_bright_field(crystal, tilts_mrad, ncells, voltage_kv, nb, nh)
        res["seconds"][f"bloch {label}"] = time.perf_counter() - t0
        res["bloch"][label] = curves
        for var in variants:
            res["r"][var, label] = r_index(curves, res["abtem"][var], image_dims=1)
    return res


def plot(results: dict[str, dict], tilts_mrad: np.ndarray, out: Path) -> None:
    """One panel per (crystal, thickness): Bloch (largest beam set) vs abTEM curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = np.sign(tilts_mrad[:, 0]) * np.hypot(tilts_mrad[:, 0], tilts_mrad[:, 1])
    rows = len(results)
    cols = max(len(r["t"]) for r in results.values())
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for i, (name, res) in enumerate(results.items()):
        nb = list(res["bloch"])[-1]  # the last run: the largest (HOLZ if requested) set
        for j, t in enumerate(res["t"]):
            ax = axes[i, j]
            ax.plot(s, res["bloch"][nb][j], "k-", lw=1.8, label=f"Bloch ({nb} beams)")
            ax.plot(s, res["abtem"]["3D"][j], "o", ms=3.5, color="C3",
                    label=f"abTEM 3D (R={res['r']['3D', nb][j]:.3f})")
            if "zolz" in res["abtem"]:
                ax.plot(s, res["abtem"]["zolz"][j], "--", color="C0", lw=1.2,
                        label=f"abTEM z-avg (R={res['r']['zolz', nb][j]:.3f})")
            ax.set_title(f"{name} [001], t = {t:.0f} Å, 200 kV")
            ax.set_xlabel("tilt along line (mrad)")
            ax.set_ylabel("I_000")
            ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crystals", nargs="+", default=["Si", "SrTiO3"])
    ap.add_argument("--thickness", nargs="+", type=float, default=[200.0, 500.0])
    ap.add_argument("--voltage", type=float, default=200.0, help="kV")
    ap.add_argument("--ntilts", type=int, default=31)
    ap.add_argument("--alpha", type=float, default=10.0, help="half-range of tilts, mrad")
    ap.add_argument("--angle", type=float, default=20.0, help="line direction, deg from x")
    ap.add_argument("--nbeams", nargs="+", type=int, default=[100, 800])
    ap.add_argument("--holz-nbeams", nargs="*", type=int, default=[400],
                    help="FOLZ beams added to the largest ZOLZ set (none: ZOLZ only)")
    ap.add_argument("--sampling", type=float, default=0.05, help="abTEM sampling, Å")
    ap.add_argument("--zolz-slices", type=int, default=8)
    ap.add_argument("--no-zolz", action="store_true", help="skip the z-averaged variant")
    ap.add_argument("--out", type=Path, default=Path("lacbed_abtem_crosscheck.png"))
    args = ap.parse_args()

    tilts = line_tilts(args.ntilts, args.alpha, args.angle)
    results = {}
    for name in tqdm(args.crystals, desc="crystals"):
        results[name] = crosscheck(name, args.thickness, tilts, args.nbeams, args.voltage,
                                   args.sampling, not args.no_zolz, args.zolz_slices,
                                   holz_nbeams=args.holz_nbeams)
    print(f"\n{args.voltage:.0f} kV, {args.ntilts} tilts over ±{args.alpha} mrad at "
          f"{args.angle}° from [100], B = 0, κ = 0, abTEM sampling {args.sampling} Å")
    print(f"{'crystal':8s} {'t (Å)':>7s} {'beams':>9s} {'R(3D)':>8s} {'R(z-avg)':>9s} "
          f"{'max|ΔI|(3D)':>12s} {'max|ΔI|(z-avg)':>15s}")
    for name, res in results.items():
        for nb, curves in res["bloch"].items():
            for j, t in enumerate(res["t"]):
                rz = res["r"].get(("zolz", nb))
                dmax = np.abs(curves[j] - res["abtem"]["3D"][j]).max()
                dz = (f"{np.abs(curves[j] - res['abtem']['zolz'][j]).max():.3f}"
                      if rz is not None else "")
                print(f"{name:8s} {t:7.1f} {nb:>9s} {res['r']['3D', nb][j]:8.4f} "
                      f"{'' if rz is None else f'{rz[j]:.4f}':>9s} {dmax:12.3f} {dz:>15s}")
        print(f"{name:8s} time (s): "
              + ", ".join(f"{k} {v:.1f}" for k, v in res["seconds"].items()))
    plot(results, tilts, args.out)
    print(f"plot: {args.out}")


if __name__ == "__main__":
    main()
