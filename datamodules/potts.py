"""The 2D q-state Potts model: the classic supervised phase-detection study (Carrasquilla & Melko 2017).

Train a classifier on configurations far from T_c, labelled ordered (T < T_c) or
disordered, then ask it about every temperature: where its output crosses 1/2 is its
estimate of T_c, to be compared with the exact 1/ln(1 + √q). The phase is a derived
label (it depends on the exact T_c, not on the simulation); ``exclude_window`` keeps the
training set away from the transition: temperatures with |T/T_c - 1| < window are
tested but never trained on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from datamodules.base import ZarrDataModule
from physml.constants import potts_critical_temperature
from physml.errors import require
from physml.spec import Constant, Feed, SystemSpec, Target


def ordered(T: np.ndarray | float, T_c: float) -> np.ndarray:
    """1 = ordered (T < T_c), 0 = disordered."""
    return (np.asarray(T, dtype=np.float64) < T_c).astype(np.int64)


def _phase(labels: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> np.ndarray:
    return ordered(labels["T"], params["T_c"])


SPEC = SystemSpec(
    name="potts",
    targets={
        "phase": Target("phase", "class", outputs=2, doc="ordered (T < T_c) or disordered"),
        "T": Target("T", "regression", doc="the temperature"),
    },
    feeds={"spins": Feed("x", rank=2, channels=lambda s: s["q"], size="L", doc="one-hot spins, q×L×L")},
    derived={"phase": _phase},
    analysis="physml.analysis.potts:PottsAnalysis",
    constants={"T_c": Constant(potts_critical_temperature, "Baxter, J. Phys. C 6, L445 (1973)")},
    studies=("physml.analysis.potts:CriticalTemperatureVsSize",),
)


class PottsDataModule(ZarrDataModule):
    """One-hot Potts configurations; training leaves out a window around T_c."""

    spec = SPEC

    def __init__(self, *args: Any, exclude_window: float = 0.2, **kwargs: Any) -> None:
        require(0.0 <= exclude_window < 1.0, "exclude_window", "a fraction of T_c in [0, 1)", exclude_window)
        super().__init__(*args, **kwargs)
        p = self.simulator.params
        self.q = int(p.q)
        self.T_c = potts_critical_temperature(self.q)
        self.exclude_window = float(exclude_window)
        far = np.abs(np.asarray(p.T_values) / self.T_c - 1.0) >= self.exclude_window
        require(
            bool((far & (np.asarray(p.T_values) < self.T_c)).any() and (far & (np.asarray(p.T_values) > self.T_c)).any()),
            "exclude_window",
            f"a window that leaves training temperatures on both sides of T_c = {self.T_c:.4f} "
            f"(the grid spans {min(p.T_values):g} to {max(p.T_values):g})",
            exclude_window,
        )

    def derivation_params(self) -> dict[str, Any]:
        return {"T_c": self.T_c}

    def make_input(self, x: np.ndarray) -> torch.Tensor:
        spins = torch.from_numpy(np.asarray(x, dtype=np.int64))
        return torch.nn.functional.one_hot(spins, self.q).permute(2, 0, 1).to(torch.float32)

    def select(self, split: str, group: Any) -> np.ndarray:
        if split != "train":
            return np.arange(group.attrs["num_samples"])
        T = np.asarray(group["T"][...], dtype=np.float64)
        return np.flatnonzero(np.abs(T / self.T_c - 1.0) >= self.exclude_window)
