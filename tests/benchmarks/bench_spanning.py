"""Cost of FloodFillRNN next to ResNet18 on percolation spanning (issue 13 §1), in one run.

- parameters;
- training: seconds per Adam step (batch 32, L = 32, p = p_c(32)) with each network's own
  loss (FloodFillRNN: ``training_losses`` with conf/model/floodfill.yaml's settings;
  ResNet18: cross-entropy), and that times the laptop fixed-p_c(32) budget (4 epochs of
  57 steps, conf/scale_size/laptop/percolation_spanning_pc32.yaml): the same budget for both;
- inference: milliseconds per lattice at p_c(L) for L = 32 ... 256 (eval mode, batches of
  10). FloodFillRNN carries the weights of exact flood fill (what the trained networks
  learn, tests/test_recurrent_spanning.py) so that its early exit stops where a trained
  network's does: at the longest chemical distance from an edge, about 2-3 L steps.

One torch thread, on whatever else the machine runs (timings are best of ``--repeats``):

    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_spanning.py

writes docs/spanning/bench.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lightning_modules.components.resnet import resnet18
from tests.spanning_helpers import exact_flood_fill, lattices, measured_pc, shipped_floodfill

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "docs" / "spanning"
LAPTOP_STEPS = 4 * 57


def train_step_seconds(
    net: torch.nn.Module, recurrent: bool, x: torch.Tensor, y: torch.Tensor, steps: int
) -> float:
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    times = []
    for i in range(steps + 1):
        xb, yb = x[32 * i : 32 * (i + 1)], y[32 * i : 32 * (i + 1)]
        t0 = time.perf_counter()
        loss = net.training_losses(xb, yb)[1]["loss"] if recurrent else F.cross_entropy(net(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return float(np.median(times[1:]))  # the first step warms up


@torch.no_grad()
def infer_ms(net: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    net.eval()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        net(x)
        best = min(best, time.perf_counter() - t0)
    return 1000 * best / len(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128, 256])
    ap.add_argument("--train-steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    nets = {"FloodFillRNN": shipped_floodfill(), "ResNet18": resnet18(1, 2, stem="imagenet")}
    params = {k: sum(p.numel() for p in v.parameters()) for k, v in nets.items()}
    x, y = lattices(32, 32 * (args.train_steps + 1), measured_pc(32), seed=1)
    step_s = {k: train_step_seconds(v, k == "FloodFillRNN", x, y, args.train_steps) for k, v in nets.items()}
    exact_flood_fill(nets["FloodFillRNN"])
    infer = {k: {} for k in nets}
    for L in args.sizes:
        xl, _ = lattices(L, 10, measured_pc(L), seed=2)
        for k, v in nets.items():
            infer[k][L] = infer_ms(v, xl, args.repeats)
            print(k, L, f"{infer[k][L]:.2f} ms/lattice", flush=True)
    lines = [
        "# Cost: FloodFillRNN vs ResNet18 (percolation spanning)",
        "",
        "`PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_spanning.py`  (one torch thread, CPU, shared machine)",
        "",
        "| | FloodFillRNN | ResNet18 |",
        "|---|---|---|",
        f"| parameters | {params['FloodFillRNN']:,} | {params['ResNet18']:,} |",
        f"| training s/step (batch 32, L = 32) | {step_s['FloodFillRNN']:.3f} | {step_s['ResNet18']:.3f} |",
        f"| laptop fixed-p_c(32) budget ({LAPTOP_STEPS} steps), s | "
        f"{LAPTOP_STEPS * step_s['FloodFillRNN']:.0f} | {LAPTOP_STEPS * step_s['ResNet18']:.0f} |",
    ]
    for L in args.sizes:
        lines.append(
            f"| inference ms/lattice, L = {L} | {infer['FloodFillRNN'][L]:.2f} | {infer['ResNet18'][L]:.2f} |"
        )
    lines += [
        "",
        "FloodFillRNN training: a soft run of 4 L steps (gradient through the last `grad_steps`), the exact",
        "connectivity maps (scipy) and one exact flood to its fixed point for the front term. Inference:",
        "hard tags, stopped at the fixed point (exact flood-fill weights, as learned). ResNet18: torchvision,",
        "imagenet stem, batch of 10.",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
