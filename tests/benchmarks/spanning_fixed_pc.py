"""Issue 13 §1: FloodFillRNN next to ResNet18 at fixed p = p_c(L), and on the full p grid.

Runs ``train.py`` for each (experiment, model, seed) listed below, one at a time, one torch
thread each, into ``<root>/runs/<experiment>_<model>_s<seed>`` (a finished run is read,
not retrained), and collects each run's ``summary.json`` metrics into
docs/spanning/<name>.{csv,md}:

    # fixed p_c(L), L = 32 and 64 (experiment=percolation_spanning_pc32 / _pc64)
    PYTHONPATH=. .venv/bin/python tests/benchmarks/spanning_fixed_pc.py fixed_pc --scale laptop
    # the full p grid with the p-proxy diagnostic (experiment=percolation_spanning)
    PYTHONPATH=. .venv/bin/python tests/benchmarks/spanning_fixed_pc.py full_grid --scale laptop

Both models of one experiment train on the same data (same data config, so the same
dataset fingerprints, checked here). The fixed-p_c accuracy is ``test_pc/acc`` with its
majority baseline; on the full grid the p-proxy diagnostic counts the states on which the
p-only rule (spanning iff p > p_c(L)) is wrong and how many of them the network gets right.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "docs" / "spanning"
STUDIES = {
    "fixed_pc": ["percolation_spanning_pc32", "percolation_spanning_pc64"],
    "full_grid": ["percolation_spanning"],
}
MODELS = ("floodfill", "resnet18")
COLUMNS = {
    "fixed_pc": [
        "test_pc/acc",
        "test_pc/majority_baseline",
        "test_pc/spanning_fraction",
        "test/acc",
        "p_c_L",
    ],
    "full_grid": [
        "test/acc",
        "proxy/n_test",
        "proxy/proxy_wrong",
        "proxy/net_right_where_proxy_wrong",
        "proxy/net_wrong",
        "proxy/net_agrees_with_proxy",
        "p_c_L",
    ],
}


def run_one(experiment: str, model: str, seed: int, scale: str, root: Path, extra: list[str]) -> dict:
    """Train (unless already done) and return the run's summary plus its wall time."""
    run_dir = root / "runs" / f"{experiment}_{model}_s{seed}"
    summary = run_dir / "summary.json"
    if not summary.exists():
        env = dict(
            os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1", PYTHONPATH="."
        )
        cmd = [
            sys.executable,
            "train.py",
            f"experiment={experiment}",
            f"model={model}",
            f"scale={scale}",
            f"seed={seed}",
            f"paths.root_dir={root}",
            f"hydra.run.dir={run_dir}",
            "trainer.enable_progress_bar=false",
            *extra,
        ]
        print(" ".join(cmd[1:]), flush=True)
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
        (run_dir / "wall_seconds.txt").write_text(f"{time.perf_counter() - t0:.1f}\n")
    out = json.loads(summary.read_text())
    wall = run_dir / "wall_seconds.txt"
    out["wall_seconds"] = float(wall.read_text()) if wall.exists() else math.nan
    return out


def metric(summary: dict, name: str) -> float:
    for key in ("metrics", "test_metrics", "analysis_metrics"):
        if isinstance(summary.get(key), dict) and name in summary[key]:
            return float(summary[key][name])
    return float(summary.get(name, math.nan))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("study", choices=sorted(STUDIES))
    ap.add_argument("--scale", default="laptop")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--root", type=Path, default=REPO / "runs" / "spanning")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("extra", nargs="*", help="more overrides for every run")
    args = ap.parse_args()
    cols = COLUMNS[args.study]
    rows = []
    for experiment in STUDIES[args.study]:
        fingerprints = {}
        for model in args.models:
            for seed in args.seeds:
                s = run_one(experiment, model, seed, args.scale, args.root, args.extra)
                fingerprints[(model, seed)] = json.dumps(s.get("datasets", {}), sort_keys=True)
                row = {"experiment": experiment, "model": model, "seed": seed}
                row.update({c: metric(s, c) for c in cols})
                row["wall_seconds"] = s["wall_seconds"]
                rows.append(row)
                print(row, flush=True)
        if len(set(fingerprints.values())) != 1:
            raise SystemExit(f"{experiment}: the models did not train on the same datasets: {fingerprints}")
    args.out.mkdir(parents=True, exist_ok=True)
    keys = ["experiment", "model", "seed", *cols, "wall_seconds"]
    with open(args.out / f"{args.study}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, keys)
        w.writeheader()
        w.writerows(rows)
    lines = [
        f"# {args.study}: FloodFillRNN vs ResNet18 (scale={args.scale})",
        "",
        f"`PYTHONPATH=. .venv/bin/python tests/benchmarks/spanning_fixed_pc.py {args.study} --scale {args.scale}"
        + (f" --seeds {' '.join(map(str, args.seeds))}" if args.seeds != [0] else "")
        + (f" {' '.join(args.extra)}" if args.extra else "")
        + "`",
        "",
        "Same datasets for both models (fingerprints checked). Wall time of the whole run (data, training,",
        "test, analysis) on a shared 2-core machine, one torch thread.",
        "",
        "| " + " | ".join(keys) + " |",
        "|" + "---|" * len(keys),
    ]
    for r in rows:
        lines.append(
            "| " + " | ".join(f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k]) for k in keys) + " |"
        )
    (args.out / f"{args.study}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
