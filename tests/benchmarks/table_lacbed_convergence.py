"""Beam convergence of the built-in crystals: R of the automatic beam choice against the
converged pattern, at 200/500/1000 Å and 10/30 mrad (issue 14).

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python tests/benchmarks/table_lacbed_convergence.py \
        --out docs/lacbed/convergence_table

For every case the bright field is simulated on the ``--n``² grid (symmetry wedge, Bird–King
absorption, 200 kV, simulator defaults otherwise) with N = 64, 128, 256, ... beams ranked
by their disc excitation error, exactly as ``beam_selection=auto`` does:

* N_auto: the first N with R(N, 2N) ≥ 0.999 (what the simulator stores per sample);
* reference ("converged"): 4·N_auto beams, i.e. two more doublings; its own convergence is
  shown as R(2N, 4N);
* R(N_auto, ref): the table's number; R(v1.0, ref): the v1.0 default (101 beams ranked at
  the zone axis, same absorption) against the same reference.

Rows are appended to ``OUT.csv`` as they finish (a rerun skips the cases already there, so
the job can be resumed) and the Markdown table ``OUT.md`` is rewritten from the CSV at the
end. Cost grows with N² and thickness: the heaviest cases (SrTiO3, W at 1000 Å, 30 mrad)
take minutes each on one core; ``--nbeams-max`` caps the reference.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from simulators.lacbed import bloch as B
from simulators.lacbed import builtin_crystal
from simulators.lacbed.beams import select_beams
from simulators.lacbed.convergence import r_value
from simulators.lacbed.crystals import BUILTIN_SPECS

FIELDS = ["crystal", "thickness", "alpha_mrad", "n_auto", "r_auto_2n", "n_ref", "r_ref_self",
          "r_auto_ref", "r_v1_ref", "r_64_ref", "seconds"]


def one_case(name: str, t: float, alpha: float, n: int, start: int, target: float,
             nbeams_max: int, v1_nbeams: int) -> dict:
    """All patterns and R values of one (crystal, thickness, α)."""
    c = builtin_crystal(name)
    disc = B.tilt_grid(n, alpha)[1]
    t0 = time.perf_counter()
    ops = None
    cache: dict[int, tuple[int, np.ndarray]] = {}

    def pattern(nb: int, beam_alpha: float = alpha) -> tuple[int, np.ndarray]:
        nonlocal ops
        key = nb if beam_alpha == alpha else -nb
        if key not in cache:
            hkl = select_beams(c, 200.0, nb, beam_alpha)
            res = B.simulate_disc(c, hkl, n, 200.0, t, alpha, absorption="bird_king",
                                  symmetry_ops=ops)
            ops = res.symmetry_ops
            cache[key] = (len(hkl), res.pattern[disc])
        return cache[key]

    def r(a: np.ndarray, b: np.ndarray) -> float:
        return r_value(a, b)

    nb = start
    while True:
        r_auto = r(pattern(nb)[1], pattern(2 * nb)[1])
        if r_auto >= target or 4 * nb > nbeams_max:
            break
        nb *= 2
    n_auto, p_auto = pattern(nb)
    n_ref, p_ref = pattern(min(4 * nb, nbeams_max))
    return {
        "crystal": name, "thickness": t, "alpha_mrad": alpha, "n_auto": n_auto,
        "r_auto_2n": r_auto, "n_ref": n_ref,
        "r_ref_self": r(pattern(min(2 * nb, nbeams_max // 2))[1], p_ref),
        "r_auto_ref": r(p_auto, p_ref), "r_v1_ref": r(pattern(v1_nbeams, 0.0)[1], p_ref),
        "r_64_ref": r(pattern(start)[1], p_ref), "seconds": time.perf_counter() - t0,
    }


def write_markdown(rows: list[dict], path: Path, n: int) -> None:
    """The table as Markdown, one row per case."""
    lines = [
        f"Beam convergence of the built-in crystals ({n}² grid, 200 kV, Bird–King, symmetry "
        "wedge). N_auto: first N of 64, 128, ... with R(N, 2N) ≥ 0.999; reference: 4·N_auto "
        "beams (R(2N, 4N) = its own convergence); v1.0: 101 beams ranked at the zone axis. "
        "Produced by `tests/benchmarks/table_lacbed_convergence.py`.",
        "",
        "| crystal | t (Å) | α (mrad) | N_auto | R(N, 2N) | N_ref | R(2N, 4N) | "
        "**R(N_auto, ref)** | R(v1.0, ref) | R(64, ref) | s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['crystal']} | {float(row['thickness']):.0f} | "
            f"{float(row['alpha_mrad']):.0f} | {row['n_auto']} | "
            f"{float(row['r_auto_2n']):.5f} | {row['n_ref']} | "
            f"{float(row['r_ref_self']):.5f} | **{float(row['r_auto_ref']):.5f}** | "
            f"{float(row['r_v1_ref']):.4f} | {float(row['r_64_ref']):.4f} | "
            f"{float(row['seconds']):.0f} |")
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crystals", nargs="+", default=list(BUILTIN_SPECS))
    ap.add_argument("--thickness", nargs="+", type=float, default=[200.0, 500.0, 1000.0])
    ap.add_argument("--alpha", nargs="+", type=float, default=[10.0, 30.0])
    ap.add_argument("--n", type=int, default=32, help="grid (the auto probe grid)")
    ap.add_argument("--start", type=int, default=64)
    ap.add_argument("--target", type=float, default=0.999)
    ap.add_argument("--nbeams-max", type=int, default=2048)
    ap.add_argument("--v1-nbeams", type=int, default=100)
    ap.add_argument("--out", type=Path, default=Path("docs/lacbed/convergence_table"))
    args = ap.parse_args()
    csv_path, md_path = args.out.with_suffix(".csv"), args.out.with_suffix(".md")
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if csv_path.exists():
        with csv_path.open() as fh:
            done = {(r["crystal"], float(r["thickness"]), float(r["alpha_mrad"]))
                    for r in csv.DictReader(fh)}
    cases = [(c, t, a) for c in args.crystals for a in args.alpha for t in args.thickness
             if (c, t, a) not in done]
    new_file = not csv_path.exists()
    with csv_path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, FIELDS)
        if new_file:
            writer.writeheader()
        for name, t, a in tqdm(cases, desc="cases"):
            row = one_case(name, t, a, args.n, args.start, args.target, args.nbeams_max,
                           args.v1_nbeams)
            writer.writerow(row)
            fh.flush()
            tqdm.write(f"{name} {t:.0f} Å {a:.0f} mrad: N_auto {row['n_auto']}, "
                       f"R(auto, ref) {row['r_auto_ref']:.5f}, {row['seconds']:.0f} s")
    with csv_path.open() as fh:
        rows = list(csv.DictReader(fh))
    write_markdown(rows, md_path, args.n)
    print(f"table: {md_path} ({len(rows)} cases)")


if __name__ == "__main__":
    main()
