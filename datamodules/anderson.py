"""3D Anderson eigenstates (review §4) as images or as |ψ|² volumes; targets w_class, phase or w.

The store keeps both the rendered image and the raw |ψ|² of every sample, so the 2D
(image) and 3D (volume) routes train on exactly the same states (one dataset
fingerprint): ``input`` only chooses which array is read. The phase and the
standardised w are derived labels (they depend on the chosen w_c and the grid, not on
the simulation), computed per sample from the stored w.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch

from datamodules.base import ZarrDataModule
from physml.constants import NU_ANDERSON, W_C_ANDERSON
from physml.errors import require
from physml.spec import Constant, Feed, SystemSpec, Target
from simulators.anderson.render import channels as renderer_channels

VOLUME_SCALES = ("log", "N", "raw")


def phase_of(w: np.ndarray | float, w_c: float = W_C_ANDERSON) -> np.ndarray:
    """0 = extended (metal, w < w_c), 1 = localised (insulator, w > w_c)."""
    return (np.asarray(w, dtype=np.float64) > w_c).astype(np.int64)


def w_standardisation(w_values: Iterable[float]) -> tuple[float, float]:
    """(centre, scale) that map the disorder grid to about [-1, 1] for regression.

    The datamodule trains on (w - centre) / scale so that the network's output starts at
    the right order of magnitude; the analysis maps predictions back with the same pair.
    """
    w = np.asarray(list(w_values), dtype=np.float64)
    centre = 0.5 * (w.min() + w.max())
    half = 0.5 * (w.max() - w.min())
    return float(centre), float(half) if half > 0 else 1.0


def _phase(labels: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> np.ndarray:
    return phase_of(labels["w"], params["w_c"])


def _w_std(labels: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> np.ndarray:
    centre, scale = w_standardisation(params["w_values"])
    return np.float32((np.asarray(labels["w"], dtype=np.float64) - centre) / scale)


SPEC = SystemSpec(
    name="anderson",
    targets={
        "w_class": Target("w_index", "class", outputs=lambda s: len(s["w_values"]), doc="which disorder w (Fig. 4a)"),
        "phase": Target("phase", "class", outputs=2, doc="extended (w < w_c) or localised"),
        "w": Target("w_std", "regression", doc="w, trained as (w - centre) / scale"),
    },
    feeds={
        "image": Feed(
            "image",
            rank=2,
            channels=lambda s: renderer_channels(s["renderer"]),
            size="image_size",
            doc="the rendered picture of |ψ|² (review Fig. 3)",
        ),
        "volume": Feed("psi2", rank=3, channels=1, size="M", doc="|ψ|² on the M³ lattice"),
    },
    feed_field="input",
    derived={"phase": _phase, "w_std": _w_std},
    analysis="physml.analysis.anderson:AndersonAnalysis",
    constants={
        "w_c": Constant(W_C_ANDERSON, "Slevin & Ohtsuki, Phys. Rev. Lett. 82, 382 (1999)"),
        "nu": Constant(NU_ANDERSON, "Slevin & Ohtsuki, Phys. Rev. Lett. 82, 382 (1999)"),
    },
    studies=("physml.analysis.anderson:AccuracyVsSize",),
)


class AndersonDataModule(ZarrDataModule):
    """E = 0 eigenstates of the 3D Anderson model with the review's targets.

    ``volume_scale`` (volume input only): ``"log"`` gives log10(max(N|ψ|², log_floor)),
    which keeps the exponential tails of localised states visible next to their peaks;
    ``"N"`` gives N|ψ|² (mean 1 for every state); ``"raw"`` gives |ψ|² as stored.
    """

    spec = SPEC

    def __init__(
        self,
        *args: Any,
        input: str = "image",
        volume_scale: str = "log",
        log_floor: float = 1e-10,
        w_c: float = W_C_ANDERSON,
        **kwargs: Any,
    ) -> None:
        require(volume_scale in VOLUME_SCALES, "volume_scale", f"one of {VOLUME_SCALES}", volume_scale)
        require(0.0 < log_floor < 1.0, "log_floor", "floats in (0, 1)", log_floor)
        super().__init__(*args, input=input, **kwargs)
        w_values = np.asarray(self.simulator.params.w_values, dtype=np.float64)
        require(
            self.target != "phase" or (w_values.min() < w_c < w_values.max()),
            "w_c",
            f"a value strictly inside the disorder grid [{w_values.min():g}, {w_values.max():g}] "
            "for target=phase (both phases must occur)",
            w_c,
        )
        self.volume_scale = volume_scale
        self.log_floor = float(log_floor)
        self.w_c = float(w_c)
        self.w_values = tuple(float(w) for w in w_values)

    def derivation_params(self) -> dict[str, Any]:
        return {"w_c": self.w_c, "w_values": self.w_values}

    def make_input(self, x: np.ndarray) -> torch.Tensor:
        if self.feed.rank == 2:
            return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))  # (C, s, s)
        x = np.asarray(x, dtype=np.float32)
        if self.volume_scale != "raw":
            x = x * np.float32(x.size)  # N|ψ|²: 1 on average, whatever M
        if self.volume_scale == "log":
            x = np.log10(np.maximum(x, np.float32(self.log_floor)))
        return torch.from_numpy(np.ascontiguousarray(x)).unsqueeze(0)  # (1, M, M, M)
