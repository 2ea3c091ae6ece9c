"""Finite-size scaling of what the Anderson w-classifier learned (issue 13 §2, Anderson part).

    PYTHONPATH=. .venv/bin/python docs/fss/anderson_fss.py runs/reproduce_laptop/anderson

Reads the 17-way w-classification runs of the scorecard's anderson study
(``<study>/w_M<M>_seed<s>/predictions.zarr``, experiment=anderson_w_classification at
M = 8, 12, 16, three seeds each) and forms the network's **localised probability**

    P_loc(w, M) = mean over the test states at w of  Σ_{k : w_k > w_c} softmax_k,

the probability mass the classifier puts on the localised side of w_c = 16.54 (a phase
output read from the w classifier; no extra training). Mean over seeds; error: the
standard error over seeds, floored at the standard error over the pooled test states and
at the binomial error of a fraction 0 of that many states.
It is collapsed with :func:`physml.analysis.fss.collapse` (Houdayer–Hartmann S, bootstrap
errors) as P_loc ≈ f((w − w_c) M^{1/ν}), and S is also evaluated at the known
w_c = 16.54, ν = 1.57 (Slevin & Ohtsuki). If the network's output scaled like the physics
it would collapse with those values; the run says whether it does.

Writes docs/fss/anderson/{anderson_fss_data.csv, anderson_fss.csv, anderson_fss.md, collapse.png}.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
from pathlib import Path

import numpy as np
import zarr

from physml.analysis.fss import binomial_errors, collapse, quality
from physml.analysis.fss_figures import collapse_figure
from physml.constants import NU_ANDERSON, W_C_ANDERSON

RUN = re.compile(r"^w_M(\d+)_seed(\d+)$")
KNOWN = {"x_c": W_C_ANDERSON, "nu": NU_ANDERSON}


def localised_probability(run: Path) -> tuple[np.ndarray, np.ndarray]:
    """(w, P_loc) per test state of one run: softmax mass on classes with w_k > w_c."""
    test = zarr.open_group(str(run / "predictions.zarr"), mode="r")["test"]
    w = np.asarray(test["w"][...], dtype=np.float64)
    w_index = np.asarray(test["w_index"][...], dtype=np.int64)
    probs = np.asarray(test["probs"][...], dtype=np.float64)
    class_w = np.full(probs.shape[1], np.nan)
    class_w[w_index] = w  # every class has test states, so every class gets its w
    if np.isnan(class_w).any():
        raise SystemExit(f"{run}: some w classes have no test states; cannot map classes to w")
    return w, probs[:, class_w > W_C_ANDERSON].sum(axis=1)


def table(study: Path) -> list[dict[str, float]]:
    """One row per (M, w): P_loc mean over seeds, its error, seeds and states."""
    by_size: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for run in sorted(study.iterdir()):
        m = RUN.match(run.name)
        if m and (run / "summary.json").exists():
            by_size.setdefault(int(m.group(1)), []).append(localised_probability(run))
    if len(by_size) < 2:
        raise SystemExit(
            f"{study}: need finished w_M<M>_seed<s> runs at two or more M, found {sorted(by_size)}"
        )
    rows = []
    for M, runs in sorted(by_size.items()):
        for w in np.unique(runs[0][0]):
            per_seed = [float(p[ws == w].mean()) for ws, p in runs]
            pooled = np.concatenate([p[ws == w] for ws, p in runs])
            sem_states = float(pooled.std(ddof=1) / math.sqrt(len(pooled)))
            sem_seeds = (
                float(np.std(per_seed, ddof=1) / math.sqrt(len(per_seed))) if len(per_seed) > 1 else 0.0
            )
            # an output saturated at 0 or 1 still has a finite error (as in percolation_fss)
            floor = float(binomial_errors(0, len(pooled))[1])
            rows.append(
                {
                    "M": M,
                    "w": round(float(w), 4),  # stored as float32
                    "P_loc": float(np.mean(per_seed)),
                    "P_loc_err": max(sem_seeds, sem_states, floor),
                    "seeds": len(per_seed),
                    "states": len(pooled),
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", type=Path, help="the anderson study directory of physml reproduce")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "anderson")
    args = ap.parse_args()
    rows = table(args.study)
    x = np.array([r["w"] for r in rows])
    y = np.array([r["P_loc"] for r in rows])
    dy = np.array([r["P_loc_err"] for r in rows])
    L = np.array([r["M"] for r in rows], dtype=np.float64)
    fit = collapse(x, y, L, dy, nu_bounds=(0.3, 5.0), n_bootstrap=200, progress=True)
    s_known, n_known = quality(x, y, L, dy, KNOWN["x_c"], KNOWN["nu"])

    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "anderson_fss_data.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    fits = [
        {
            "fit": "free",
            **{k: fit.summary()[k] for k in ("x_c", "x_c_err", "nu", "nu_err", "quality_S", "at_bound")},
        },
        {
            "fit": "known",
            "x_c": KNOWN["x_c"],
            "x_c_err": 0.0,
            "nu": KNOWN["nu"],
            "nu_err": 0.0,
            "quality_S": s_known,
        },
    ]
    with open(args.out / "anderson_fss.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["fit", "x_c", "x_c_err", "nu", "nu_err", "quality_S", "at_bound"])
        writer.writeheader()
        writer.writerows(fits)
    labels = {"xlabel": "w", "ylabel": "P_loc(w, M) (softmax mass on w > w_c)"}
    collapse_figure(fit, title="Anderson w-classifier: free collapse", reference=KNOWN, **labels).savefig(
        args.out / "collapse.png", dpi=110
    )
    sizes = " / ".join(f"{m:g}" for m in fit.sizes)
    lines = [
        f"# Anderson: collapse of the w-classifier's P_loc(w, M), M = {sizes}",
        "",
        f"`PYTHONPATH=. .venv/bin/python docs/fss/anderson_fss.py {args.study}`",
        "",
        f"Runs: experiment=anderson_w_classification scale=laptop, {rows[0]['seeds']} seeds per M; "
        f"{len(rows)} (M, w) points. Known: w_c = {KNOWN['x_c']}, ν = {KNOWN['nu']}.",
        "",
        "| fit | w_c | ν | S (Houdayer–Hartmann) | at a search bound |",
        "|---|---|---|---|---|",
        f"| free | {fit.x_c:.2f} ± {fit.x_c_err:.2f} | {fit.nu:.2f} ± {fit.nu_err:.2f} | {fit.quality:.2f} | "
        f"{' '.join(fit.at_bound) or '—'} |",
        f"| known values | {KNOWN['x_c']} | {KNOWN['nu']} | {s_known:.2f} ({n_known} terms) | — |",
        "",
    ]
    (args.out / "anderson_fss.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
