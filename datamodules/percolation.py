"""2D site percolation (review §3): occupation images; targets p (class or value) or spanning."""

from __future__ import annotations

from datamodules.base import ZarrDataModule
from physml.constants import NU_PERCOLATION_2D, PC_SQUARE_SITE
from physml.spec import Constant, Feed, SystemSpec, Target

SPEC = SystemSpec(
    name="percolation",
    targets={
        "p_class": Target("p_index", "class", outputs=lambda s: len(s["p_values"]), doc="which p (review Fig. 1c)"),
        "p": Target("p", "regression", doc="the occupation probability p"),
        "spanning": Target("spanning", "class", outputs=2, doc="a cluster joins opposite edges (review Fig. 2)"),
    },
    feeds={"image": Feed("x", rank=2, channels=1, size="L", doc="occupation image 1×L×L in {0, 1}")},
    analysis="physml.analysis.percolation:PercolationAnalysis",
    constants={
        "p_c": Constant(PC_SQUARE_SITE, "Jacobsen, J. Phys. A 48, 454003 (2015)"),
        "nu": Constant(NU_PERCOLATION_2D, "den Nijs, J. Phys. A 12, 1857 (1979)"),
    },
)


class PercolationDataModule(ZarrDataModule):
    """Occupation images (1×L×L, 0/1) with the review's three targets."""

    spec = SPEC
