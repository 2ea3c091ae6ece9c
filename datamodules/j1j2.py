"""J1-J2 Ising configurations for the VAE: train on one ordered low-T region, test everywhere.

The training pool is the whole successively cooled (T, J2) grid (so the low-J2 and the
high-J2 experiment share one dataset on disk); ``select("train")`` keeps only the
configurations inside ``train_region`` (T <= T_max, J2_min <= J2 <= J2_max), from which
the validation split is taken. Test streams (the whole grid from independent seeds, and
a few example chains) are used in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from datamodules.base import ZarrDataModule
from physml.errors import ConfigError, require

#: comparisons of stored float32 labels with configured float64 bounds
_TOL = 1e-5


def region_mask(T: np.ndarray, J2: np.ndarray, region: Mapping[str, float]) -> np.ndarray:
    """Boolean mask of the samples inside a training region (bounds inclusive)."""
    T = np.asarray(T, dtype=np.float64)
    J2 = np.asarray(J2, dtype=np.float64)
    mask = T <= float(region["T_max"]) + _TOL
    if region.get("T_min") is not None:
        mask &= T >= float(region["T_min"]) - _TOL
    mask &= J2 >= float(region["J2_min"]) - _TOL
    mask &= J2 <= float(region["J2_max"]) + _TOL
    return mask


def check_region(region: Mapping[str, Any]) -> dict[str, float]:
    """Validate ``system.train_region`` (keys T_max, J2_min, J2_max and optional T_min)."""
    allowed = {"T_max", "T_min", "J2_min", "J2_max"}
    require(
        isinstance(region, Mapping),
        "system.train_region",
        "a mapping {T_max, J2_min, J2_max}",
        region,
    )
    unknown = sorted(set(region) - allowed)
    require(not unknown, "system.train_region", f"keys among {sorted(allowed)}", dict(region))
    missing = sorted({"T_max", "J2_min", "J2_max"} - set(region))
    require(not missing, "system.train_region", "the keys T_max, J2_min and J2_max", dict(region))
    out = {k: (None if v is None else float(v)) for k, v in region.items()}
    require(out["T_max"] > 0, "system.train_region.T_max", "> 0", out["T_max"])
    require(
        out["J2_max"] >= out["J2_min"],
        "system.train_region.J2_max",
        f">= J2_min={out['J2_min']}",
        out["J2_max"],
    )
    return out


class J1J2DataModule(ZarrDataModule):
    """Spins ±1 -> image 1×L×L in {0, 1}; the reconstruction target is the input itself."""

    input_key = "x"
    # The VAE reconstructs its input; "T" only gives the base class a label to carry.
    targets = {"reconstruction": ("T", "regression")}

    def __init__(self, *args: Any, train_region: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.train_region = check_region(train_region)
        sim = self.simulator
        T = getattr(sim, "temperatures", None)
        j2 = np.asarray(getattr(sim.params, "J2_values", ()), dtype=np.float64)
        if T is not None and j2.size:
            tt, jj = np.meshgrid(np.asarray(T), j2)
            n_points = int(region_mask(tt.ravel(), jj.ravel(), self.train_region).sum())
            if n_points == 0:
                raise ConfigError(
                    f"system.train_region={self.train_region} is invalid: it contains no (T, J2) point of "
                    f"the grid (T in [{np.min(T):g}, {np.max(T):g}], J2 in {j2.tolist()})"
                )
            self.train_region_points = n_points

    @property
    def num_train_region_samples(self) -> int:
        """Configurations in the training region: grid points × chains per J2."""
        return self.train_region_points * self.specs["train"].units_per_point

    def make_input(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy((x.astype(np.float32) + 1.0) * 0.5).unsqueeze(0)

    def _to_sample(self, raw: dict[str, Any]) -> dict[str, Any]:
        sample = super()._to_sample(raw)
        sample["target"] = sample["input"]
        return sample

    def select(self, split: str, group: Any) -> np.ndarray:
        if split != "train":
            return np.arange(group.attrs["num_samples"])
        mask = region_mask(group["T"][...], group["J2"][...], self.train_region)
        return np.flatnonzero(mask)
