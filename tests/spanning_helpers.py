"""Percolation-spanning fixtures shared by tests/test_recurrent_spanning.py and the spanning
benchmarks (tests/benchmarks/bench_spanning.py, spanning_size_generalisation.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from lightning_modules.components.recurrent import FloodFillRNN
from simulators.percolation import PercolationSimulator

REPO = Path(__file__).resolve().parents[1]
#: p_c(L) of the exact-density ensemble, measured by tests/benchmarks/spanning_pc_scan.py
PC_TABLE = REPO / "docs" / "spanning" / "pc_L.json"


def lattices(L: int, n: int, p: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n exact-density lattices at p as (n, 1, L, L) floats and their spanning labels."""
    sim = PercolationSimulator.from_config(L=L, p_values=[p])
    d = sim.generate(np.zeros(n, dtype=np.int64), np.random.default_rng(seed))
    return torch.from_numpy(d["x"]).float()[:, None], torch.from_numpy(d["spanning"].astype(np.int64))


def measured_pc(L: int) -> float:
    """p_c(L) from the committed scan, rounded to 4 decimals as in the experiment files."""
    return round(json.loads(PC_TABLE.read_text())[str(L)]["p_c_L"], 4)


def shipped_floodfill() -> FloodFillRNN:
    """FloodFillRNN with the settings model=floodfill ships (conf/model/floodfill.yaml)."""
    node = OmegaConf.load(REPO / "conf" / "model" / "floodfill.yaml").net
    skip = ("_target_", "in_channels", "num_outputs")
    return FloodFillRNN(**{k: v for k, v in OmegaConf.to_container(node).items() if k not in skip})


def exact_flood_fill(net: FloodFillRNN) -> FloodFillRNN:
    """Hand-set weights that implement exact flood fill: a tag moves to the four nearest
    neighbours, seeds on the top edge, and the readout says 'spanning' when the top channel
    reaches the bottom strip or the left channel the right strip. Returns ``net`` in eval mode."""
    with torch.no_grad():
        k = torch.zeros(8, 3, 3)
        k[0] = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]])
        k[4, 1, 1] = 1.0
        net.kernels.copy_(k)
        net.readout.weight.zero_()
        net.readout.bias.zero_()
        net.readout.weight[1, 4 + 0] = 1.0  # top channel on the bottom strip
        net.readout.weight[1, 12 + 2] = 1.0  # left channel on the right strip
        net.readout.bias[1] = -0.5
    return net.eval()
