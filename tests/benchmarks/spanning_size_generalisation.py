"""Issue 13 §1, size generalisation: train at L = 32, test without retraining at L = 32 ... 256.

The networks are the fixed-p_c(32) runs of tests/benchmarks/spanning_fixed_pc.py
(experiment=percolation_spanning_pc32, FloodFillRNN and ResNet18, the listed seeds; missing
runs are trained first). Each is tested, as it is, on fresh lattices at p = p_c(L) of
docs/spanning/pc_L.json (rounded to 4 decimals as in the experiment files), where about
half span: FloodFillRNN runs ceil(4 L) steps (stopping at its fixed point), ResNet18 runs
on the larger image (its global average pool makes that possible). Test lattices are the
same for both networks and all seeds (seed 7 + L).

    PYTHONPATH=. .venv/bin/python tests/benchmarks/spanning_size_generalisation.py --seeds 0 1 2

writes docs/spanning/size_generalisation.{csv,md,png} and, from the first FloodFillRNN
seed, docs/spanning/hidden_state.png (``hidden_state_figure`` on L = 32 and 64 lattices).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spanning_fixed_pc import REPO, run_one  # noqa: E402

from physml.build import build_model  # noqa: E402
from physml.config import register_resolvers  # noqa: E402
from tests.spanning_helpers import lattices, measured_pc  # noqa: E402

OUT = REPO / "docs" / "spanning"
EXPERIMENT = "percolation_spanning_pc32"
N_TEST = {32: 1000, 64: 500, 128: 200, 256: 50}  # FloodFillRNN needs ~3 s per L = 256 lattice (bench.md)


def load_network(run_dir: Path) -> torch.nn.Module:
    """The run's network with the weights of the checkpoint its test used (the best one)."""
    register_resolvers()
    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    module = build_model(cfg)
    ckpts = sorted(p for p in (run_dir / "checkpoints").glob("*.ckpt") if p.name != "last.ckpt")
    ckpt = ckpts[0] if ckpts else run_dir / "checkpoints" / "last.ckpt"
    state = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    module.load_state_dict(state)
    return module.net.eval()


def held_out_lattices(L: int, n: int) -> tuple[torch.Tensor, np.ndarray]:
    """The shared test lattices of size L: n at p_c(L), seed 7 + L."""
    x, y = lattices(L, n, measured_pc(L), 7 + L)
    return x, y.numpy()


@torch.no_grad()
def accuracy(net: torch.nn.Module, x: torch.Tensor, y: np.ndarray, batch: int) -> tuple[float, float]:
    """Accuracy and milliseconds per lattice."""
    t0 = time.perf_counter()
    pred = torch.cat([net(x[i : i + batch]).argmax(-1) for i in range(0, len(x), batch)]).numpy()
    return float((pred == y).mean()), 1000 * (time.perf_counter() - t0) / len(x)


def hidden_state(net: torch.nn.Module, out: Path) -> None:
    """Two spanning and one non-spanning lattice at each of L = 32 and 64."""
    from lightning_modules.components.recurrent import hidden_state_figure

    for L in (32, 64):
        x, y = held_out_lattices(L, 60)
        pick = list(np.flatnonzero(y == 1)[:2]) + list(np.flatnonzero(y == 0)[:1])
        fig = hidden_state_figure(net, x[pick], steps=(L // 4, L, 2 * L))
        fig.savefig(out / f"hidden_state_L{L}.png", dpi=110)
    import matplotlib.pyplot as plt

    imgs = [plt.imread(out / f"hidden_state_L{L}.png") for L in (32, 64)]
    width = max(i.shape[1] for i in imgs)
    pad = [np.pad(i, ((0, 0), (0, width - i.shape[1]), (0, 0)), constant_values=1.0) for i in imgs]
    plt.imsave(out / "hidden_state.png", np.concatenate(pad, axis=0))
    for L in (32, 64):
        (out / f"hidden_state_L{L}.png").unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=list(N_TEST))
    ap.add_argument("--scale", default="laptop")
    ap.add_argument("--root", type=Path, default=REPO / "runs" / "spanning")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    tests = {L: held_out_lattices(L, N_TEST.get(L, 200)) for L in args.sizes}
    for model in ("floodfill", "resnet18"):
        for seed in args.seeds:
            run_one(EXPERIMENT, model, seed, args.scale, args.root, [])
            net = load_network(args.root / "runs" / f"{EXPERIMENT}_{model}_s{seed}")
            if model == "floodfill" and seed == args.seeds[0]:
                hidden_state(net, args.out)
            for L, (x, y) in tests.items():
                acc, ms = accuracy(net, x, y, batch=50 if L <= 64 else 10)
                share = float(y.mean())
                row = {
                    "model": model,
                    "seed": seed,
                    "L": L,
                    "p": measured_pc(L),
                    "n": len(y),
                    "acc": acc,
                    "majority": max(share, 1 - share),
                    "ms_per_lattice": ms,
                }
                rows.append(row)
                print(row, flush=True)
    with open(args.out / "size_generalisation.csv", "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    write_summary(rows, args)


def write_summary(rows: list[dict], args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seeds = " ".join(map(str, args.seeds))
    lines = [
        "# Size generalisation: trained at fixed p_c(32), tested at p_c(L) without retraining",
        "",
        f"`PYTHONPATH=. .venv/bin/python tests/benchmarks/spanning_size_generalisation.py --seeds {seeds}`",
        "",
        f"Training runs: experiment={EXPERIMENT} scale={args.scale}, seeds {seeds}. Accuracy: mean over seeds",
        "± standard deviation over seeds (n/a for one seed); binomial standard error of one run in brackets.",
        "",
        "| model | L | p_c(L) | test lattices | accuracy | majority baseline |",
        "|---|---|---|---|---|---|",
    ]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for model, marker in (("floodfill", "o"), ("resnet18", "s")):
        Ls, means, errs = [], [], []
        for L in args.sizes:
            sel = [r for r in rows if r["model"] == model and r["L"] == L]
            accs = np.array([r["acc"] for r in sel])
            m, n = accs.mean(), sel[0]["n"]
            sd = accs.std(ddof=1) if len(accs) > 1 else math.nan
            se = math.sqrt(max(m * (1 - m), 1e-12) / n)
            Ls.append(L)
            means.append(m)
            errs.append(sd if len(accs) > 1 else se)
            sd_text = f" ± {sd:.3f}" if len(accs) > 1 else ""
            lines.append(
                f"| {model} | {L} | {sel[0]['p']:.4f} | {n} | {m:.3f}{sd_text} ({se:.3f}) | {sel[0]['majority']:.3f} |"
            )
        label = "FloodFillRNN" if model == "floodfill" else "ResNet18"
        ax.errorbar(Ls, means, yerr=errs, marker=marker, capsize=3, label=label)
    maj = [next(r["majority"] for r in rows if r["L"] == L) for L in args.sizes]
    ax.plot(args.sizes, maj, "k:", label="majority baseline")
    ax.set_xscale("log", base=2)
    ax.set_xticks(args.sizes, [str(L) for L in args.sizes])
    ax.set_ylim(0.4, 1.02)
    ax.set_xlabel("test lattice size L (trained at L = 32)")
    ax.set_ylabel("accuracy at p = p_c(L)")
    ax.set_title(f"spanning at fixed p_c(L), {len(args.seeds)} seed(s)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "size_generalisation.png", dpi=120)
    (args.out / "size_generalisation.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
