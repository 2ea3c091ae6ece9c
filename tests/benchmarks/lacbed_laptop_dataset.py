"""Cost and beam convergence of LACBED patterns of *random* cubic crystals at laptop scale.

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python tests/benchmarks/lacbed_laptop_dataset.py \
        --crystals 24 --out docs/lacbed/laptop_dataset

The question (issue 14, laptop reproduction): which simulator settings give >= 1000 random
cubic crystals at 64 px in about 15 min on 2 cores (1.8 core-seconds per pattern), and how
converged are those patterns? For ``--crystals`` crystals drawn exactly as the dataset
draws them (``LACBEDSimulator.draw_crystal``, uniform over the 36 cubic groups, default
elements, <= 48 atoms, seeds 0..K-1) and every thickness in ``--thickness``:

* the cost of one ``--n``² pattern (symmetry wedge incl. its verification, Bird–King,
  ``--precision``) with N = 32, 64, 128, 256 ZOLZ beams ranked over the disc (fixed beams:
  no search), plus crystal drawing and the potential image;
* R of each against a reference with ``--nbeams-ref`` beams (the "converged" pattern), and
  the reference's own R(ref/2, ref);
* the automatic choice (``beam_selection=auto``, start 32, ``--auto-max``): N, R(N, 2N) and
  its total cost (probe solves on 32² + the final pattern).

One thread (the dataset runs one worker per core). Rows go to ``OUT.csv`` as they finish
(resumable); the summary (median cost, R quantiles per setting) to ``OUT.md``.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from simulators.lacbed import LACBEDSimulator
from simulators.lacbed import bloch as B
from simulators.lacbed.beams import select_beams
from simulators.lacbed.convergence import choose_beams, r_value
from simulators.lacbed.potential import projected_potential

NBEAMS = (32, 64, 128, 256)


def one_crystal(seed: int, thicknesses: list[float], args: argparse.Namespace) -> list[dict]:
    """Rows (one per thickness) for crystal number ``seed``."""
    sim = LACBEDSimulator.from_config(source="random", n=args.n, beam_selection="fixed")
    t0 = time.perf_counter()
    c = sim.draw_crystal(np.random.default_rng(seed))
    projected_potential(c, args.n, 200.0)
    t_draw = time.perf_counter() - t0
    disc = B.tilt_grid(args.n, args.alpha)[1]
    rows = []
    kw = dict(absorption="bird_king", precision=args.precision)
    for t in thicknesses:
        row = {"seed": seed, "formula": c.formula, "sg": c.sg_number, "a": round(c.a, 3),
               "atoms": len(c.z), "thickness": t, "draw_s": t_draw}
        ref_hkl = select_beams(c, 200.0, args.nbeams_ref, args.alpha)
        t0 = time.perf_counter()
        ref = B.simulate_disc(c, ref_hkl, args.n, 200.0, t, args.alpha, **kw)
        row["ref_s"], row["n_ref"] = time.perf_counter() - t0, len(ref_hkl)
        half = B.simulate_disc(c, select_beams(c, 200.0, args.nbeams_ref // 2, args.alpha),
                               args.n, 200.0, t, args.alpha, symmetry_ops=ref.symmetry_ops, **kw)
        row["r_ref_self"] = r_value(half.pattern[disc], ref.pattern[disc])
        row["ops"] = len(ref.symmetry_ops)
        for nb in NBEAMS:
            hkl = select_beams(c, 200.0, nb, args.alpha)
            t0 = time.perf_counter()
            res = B.simulate_disc(c, hkl, args.n, 200.0, t, args.alpha, **kw)  # verifies ops
            row[f"s_{nb}"] = time.perf_counter() - t0
            row[f"n_{nb}"] = len(hkl)
            row[f"r_{nb}"] = r_value(res.pattern[disc], ref.pattern[disc])
        t0 = time.perf_counter()
        ch = choose_beams(c, 200.0, t, args.alpha, start=32, nbeams_max=args.auto_max,
                          r_target=0.999, probe_n=32, **kw)
        res = B.simulate_disc(c, ch.hkl, args.n, 200.0, t, args.alpha, **kw)
        row["auto_s"] = time.perf_counter() - t0
        row["auto_n"], row["auto_r2n"] = ch.nbeams, ch.r
        row["auto_r_ref"] = r_value(res.pattern[disc], ref.pattern[disc])
        rows.append(row)
    return rows


def summarise(rows: list[dict], path: Path, args: argparse.Namespace) -> None:
    """Median cost and R quantiles per (thickness, beam setting), as Markdown."""
    lines = [
        f"Random cubic crystals as the dataset draws them ({len({r['seed'] for r in rows})} "
        f"crystals), {args.n}² px, {args.alpha} mrad, 200 kV, Bird–King, {args.precision} "
        f"precision, symmetry wedge, 1 thread. R against {args.nbeams_ref} beams. Cost = the "
        "Bloch-wave pattern (incl. symmetry verification); crystal drawing + potential image "
        "add the `draw` column. Produced by `tests/benchmarks/lacbed_laptop_dataset.py`.",
        "",
        "| t (Å) | beams | median s/pattern | mean s | R vs ref: mean | median | 10 % | min |"
        " R ≥ 0.99 | R ≥ 0.999 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in sorted({float(r["thickness"]) for r in rows}):
        sub = [r for r in rows if float(r["thickness"]) == t]
        settings = [(f"{nb} fixed", f"s_{nb}", f"r_{nb}") for nb in NBEAMS]
        settings.append((f"auto (32..{args.auto_max})", "auto_s", "auto_r_ref"))
        for label, sk, rk in settings:
            s = np.array([float(r[sk]) for r in sub])
            rr = np.array([float(r[rk]) for r in sub])
            lines.append(
                f"| {t:.0f} | {label} | {np.median(s):.2f} | {s.mean():.2f} | {rr.mean():.4f} "
                f"| {np.median(rr):.4f} | {np.quantile(rr, 0.1):.4f} | {rr.min():.4f} | "
                f"{np.mean(rr >= 0.99):.0%} | {np.mean(rr >= 0.999):.0%} |")
        ref_self = np.array([float(r["r_ref_self"]) for r in sub])
        lines.append(f"| {t:.0f} | reference self-check R(ref/2, ref) | | | "
                     f"{ref_self.mean():.4f} | {np.median(ref_self):.4f} | "
                     f"{np.quantile(ref_self, 0.1):.4f} | {ref_self.min():.4f} | | |")
    draw = np.array([float(r["draw_s"]) for r in rows])
    lines += ["", f"draw (pyxtal crystal + potential image): median {np.median(draw):.2f} s, "
              f"mean {draw.mean():.2f} s per crystal."]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crystals", type=int, default=24)
    ap.add_argument("--thickness", nargs="+", type=float, default=[300.0, 500.0, 1000.0])
    ap.add_argument("--alpha", type=float, default=10.0)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--precision", default="single")
    ap.add_argument("--nbeams-ref", type=int, default=512)
    ap.add_argument("--auto-max", type=int, default=256)
    ap.add_argument("--out", type=Path, default=Path("docs/lacbed/laptop_dataset"))
    args = ap.parse_args()
    csv_path, md_path = args.out.with_suffix(".csv"), args.out.with_suffix(".md")
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    if csv_path.exists():
        with csv_path.open() as fh:
            rows = list(csv.DictReader(fh))
    done = {int(r["seed"]) for r in rows}
    todo = [s for s in range(args.crystals) if s not in done]
    for seed in tqdm(todo, desc="crystals"):
        new = one_crystal(seed, args.thickness, args)
        write_header = not csv_path.exists()
        with csv_path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, list(new[0]))
            if write_header:
                writer.writeheader()
            writer.writerows(new)
        rows += new
        tqdm.write(f"{seed} {new[0]['formula']} a={new[0]['a']} atoms={new[0]['atoms']}: "
                   + ", ".join(f"{r['thickness']:.0f} Å R64 {r['r_64']:.3f} "
                               f"R128 {r['r_128']:.3f} ({r['s_64']:.1f}/{r['s_128']:.1f} s)"
                               for r in new))
    summarise(rows, md_path, args)
    print(f"summary: {md_path}")


if __name__ == "__main__":
    main()
