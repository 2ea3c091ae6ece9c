"""3D Anderson eigenstates as images or as |ψ|² volumes; targets w_class, phase or w.

The store keeps both the rendered image and the raw |ψ|² of every sample, so the 2D
(image) and 3D (volume) routes train on exactly the same states (one dataset
fingerprint): ``input`` only chooses which array is read. The phase label is not stored
(it depends on the chosen w_c, not on the simulation); it is derived from w per sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from datamodules.base import ZarrDataModule
from physml.analysis.anderson import w_standardisation
from physml.constants import W_C_ANDERSON
from physml.errors import require

INPUTS = {"image": "image", "volume": "psi2"}
VOLUME_SCALES = ("log", "N", "raw")


def phase_of(w: np.ndarray | float, w_c: float = W_C_ANDERSON) -> np.ndarray:
    """0 = extended (metal, w < w_c), 1 = localised (insulator, w > w_c)."""
    return (np.asarray(w, dtype=np.float64) > w_c).astype(np.int64)


class AndersonDataModule(ZarrDataModule):
    """E = 0 eigenstates of the 3D Anderson model with the paper's targets.

    ``volume_scale`` (volume input only): ``"log"`` gives log10(max(N|ψ|², log_floor)),
    which keeps the exponential tails of localised states visible next to their peaks;
    ``"N"`` gives N|ψ|² (mean 1 for every state); ``"raw"`` gives |ψ|² as stored.
    The regression target ``w`` is trained in standardised units (w - centre) / scale with
    the grid's centre and half-width, so val/mse is in those units; the analysis reports
    test/mse and test/mae in units of w.
    """

    targets = {
        "w_class": ("w_index", "class"),
        "phase": ("phase", "class"),
        "w": ("w_std", "regression"),  # (w - centre) / scale, see w_standardisation
    }

    def __init__(
        self,
        *args: Any,
        input: str = "image",
        volume_scale: str = "log",
        log_floor: float = 1e-10,
        w_c: float = W_C_ANDERSON,
        **kwargs: Any,
    ) -> None:
        require(input in INPUTS, "system.input", f"one of {sorted(INPUTS)}", input)
        require(volume_scale in VOLUME_SCALES, "system.volume_scale", f"one of {VOLUME_SCALES}", volume_scale)
        require(0.0 < log_floor < 1.0, "system.log_floor", "floats in (0, 1)", log_floor)
        super().__init__(*args, **kwargs)
        w_values = np.asarray(self.simulator.params.w_values, dtype=np.float64)
        require(
            self.target != "phase" or (w_values.min() < w_c < w_values.max()),
            "system.w_c",
            f"a value strictly inside the disorder grid [{w_values.min():g}, {w_values.max():g}] "
            "for target=phase (both phases must occur)",
            w_c,
        )
        self.input = input
        self.input_key = INPUTS[input]
        self.volume_scale = volume_scale
        self.log_floor = float(log_floor)
        self.w_c = float(w_c)
        self.w_centre, self.w_scale = w_standardisation(w_values)

    @property
    def num_classes(self) -> int:
        if self.target == "w_class":
            return len(self.simulator.params.w_values)
        if self.target == "phase":
            return 2
        raise ValueError(f"target {self.target!r} is a regression target")

    def make_input(self, x: np.ndarray) -> torch.Tensor:
        if self.input == "image":
            return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))  # (C, s, s)
        x = np.asarray(x, dtype=np.float32)
        if self.volume_scale != "raw":
            x = x * np.float32(x.size)  # N|ψ|²: 1 on average, whatever M
        if self.volume_scale == "log":
            x = np.log10(np.maximum(x, np.float32(self.log_floor)))
        return torch.from_numpy(np.ascontiguousarray(x)).unsqueeze(0)  # (1, M, M, M)

    def _to_sample(self, raw: dict[str, Any]) -> dict[str, Any]:
        # labels that are not stored but derived from w (they travel with every sample)
        raw["phase"] = phase_of(raw["w"], self.w_c)[()]
        raw["w_std"] = np.float32((float(raw["w"]) - self.w_centre) / self.w_scale)
        return super()._to_sample(raw)
