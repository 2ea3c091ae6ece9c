"""2D site percolation (review §3): occupation images; targets p (class or value) or spanning.

The fixed-p_c test stream (states at p = p_c(L), where only the spanning cluster decides)
needs the finite-size threshold of *this* L. With ``p_c_L: null`` it is measured from the
data's own spanning probability: p_c(L) is where P(p) of the training pool crosses 1/2
(linear interpolation on the p grid); the stream is then generated at that p, so it
exists only once the training pool does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from datamodules.base import ZarrDataModule
from physml.constants import NU_PERCOLATION_2D, PC_SQUARE_SITE
from physml.errors import check_number, require
from physml.spec import Constant, Feed, SystemSpec, Target
from physml.store import DatasetSpec, generate, open_dataset, require_complete
from simulators.percolation import PercolationSimulator

SPEC = SystemSpec(
    name="percolation",
    targets={
        "p_class": Target("p_index", "class", outputs=lambda s: len(s["p_values"]), doc="which p (review Fig. 1c)"),
        "p": Target("p", "regression", doc="the occupation probability p"),
        "spanning": Target("spanning", "class", outputs=2, doc="a cluster joins opposite edges (review Fig. 2)"),
    },
    feeds={"image": Feed("x", rank=2, channels=1, size="L", doc="occupation image 1×L×L in {0, 1}")},
    analysis="physml.analysis.percolation:PercolationAnalysis",
    studies=("physml.analysis.percolation_fss:SpanningCollapse",),
    constants={
        "p_c": Constant(PC_SQUARE_SITE, "Jacobsen, J. Phys. A 48, 454003 (2015)"),
        "nu": Constant(NU_PERCOLATION_2D, "den Nijs, J. Phys. A 12, 1857 (1979)"),
    },
)
PC_STREAM = "test_pc"


def half_crossing(p: np.ndarray, spanning: np.ndarray) -> float:
    """Where the spanning probability P(p) first rises through 1/2 (linear interpolation); NaN if it never does."""
    grid = np.unique(p)
    P = np.array([spanning[p == g].mean() for g in grid])
    above = np.flatnonzero(P >= 0.5)
    if above.size == 0 or above[0] == 0:
        return float("nan")
    k = int(above[0])
    return float(grid[k - 1] + (0.5 - P[k - 1]) * (grid[k] - grid[k - 1]) / (P[k] - P[k - 1]))


class PercolationDataModule(ZarrDataModule):
    """Occupation images (1×L×L, 0/1) with the review's three targets, plus the fixed-p_c(L) stream."""

    spec = SPEC

    def __init__(self, *args: Any, p_c_L: float | None = None, pc_units: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if p_c_L is not None:
            check_number(p_c_L, "p_c_L", minimum=0.0, maximum=1.0)
        self.pc_units = pc_units if pc_units is not None else self.test_pool.units_per_point
        require(self.pc_units >= 0, "pc_units", "integers >= 0 (0: no fixed-p_c stream)", self.pc_units)
        self.p_c_L = p_c_L
        if p_c_L is not None and self.pc_units:
            self._add_pc_stream(p_c_L)

    def _add_pc_stream(self, p_c: float) -> None:
        sim = PercolationSimulator.from_config(L=self.simulator.params.L, p_values=[round(float(p_c), 6)])
        train = self.specs["train"]
        self.specs[PC_STREAM] = DatasetSpec(sim, self.pc_units, PC_STREAM, train.seed, train.shard_units)

    def measured_p_c(self) -> float:
        """p_c(L) from the training pool's P(p) = 1/2 (the pool must exist)."""
        group = open_dataset(require_complete(self.specs["train"], self.data_dir))
        p_c = half_crossing(np.asarray(group["p"][...], dtype=np.float64), np.asarray(group["spanning"][...]))
        require(
            np.isfinite(p_c),
            "p_c_L",
            "a number when the p grid does not straddle P(p) = 1/2, so p_c(L) cannot be measured from the data",
            self.p_c_L,
        )
        return p_c

    def resolve_streams(self) -> None:
        """Add the fixed-p_c stream once p_c(L) can be measured (after the training pool exists)."""
        if PC_STREAM not in self.specs and self.pc_units:
            self._add_pc_stream(self.measured_p_c())

    def prepare_data(self) -> None:
        generate(self.specs["train"], self.data_dir, workers=self.generation_workers, progress=self.progress)
        self.resolve_streams()
        super().prepare_data()

    def setup(self, stage: str | None = None) -> None:
        self.resolve_streams()
        super().setup(stage)
