"""J1-J2 Ising configurations (review §5) for the VAE: train on one ordered low-T region, test everywhere.

The training pool is the whole successively cooled (T, J2) grid (so the low-J2 and the
high-J2 experiment share one dataset on disk); ``select("train")`` keeps only the
configurations inside the chosen training region (T <= T_max, J2_min <= J2 <= J2_max),
from which the validation split is taken. Test streams (the whole grid from independent
seeds, and a few example chains) are used in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from datamodules.base import ZarrDataModule
from physml.constants import TC_ISING
from physml.errors import ConfigError, check_bool, require
from physml.spec import Constant, Feed, SystemSpec, Target

#: comparisons of stored float32 labels with configured float64 bounds
_TOL = 1e-5
REGION_KEYS = ("T_max", "T_min", "J2_min", "J2_max")

SPEC = SystemSpec(
    name="j1j2",
    targets={"reconstruction": Target(None, "generative", doc="the VAE reconstructs its input")},
    feeds={"spins": Feed("x", rank=2, channels=1, size="L", doc="spins as a 1×L×L image in {0, 1}")},
    analysis="physml.analysis.j1j2:J1J2Analysis",
    constants={"T_c_ising": Constant(TC_ISING, "Onsager, Phys. Rev. 65, 117 (1944)")},
    studies=(
        "physml.analysis.j1j2.studies:PhaseMapStudy",
        "physml.analysis.j1j2.studies:BoundarySizeStudy",
        "physml.analysis.j1j2.studies:EpsCrossingStudy",
    ),
)


def region_mask(T: np.ndarray, J2: np.ndarray, region: Mapping[str, float | None]) -> np.ndarray:
    """Boolean mask of the samples (or grid points) inside a training region, bounds inclusive."""
    T = np.asarray(T, dtype=np.float64)
    J2 = np.asarray(J2, dtype=np.float64)
    mask = T <= float(region["T_max"]) + _TOL
    if region.get("T_min") is not None:
        mask &= T >= float(region["T_min"]) - _TOL
    mask &= J2 >= float(region["J2_min"]) - _TOL
    mask &= J2 <= float(region["J2_max"]) + _TOL
    return mask


def training_region(region: str, regions: Mapping[str, Mapping[str, Any]]) -> dict[str, float | None]:
    """The bounds of ``regions[region]``, validated (keys T_max, J2_min, J2_max, optional T_min)."""
    require(region in regions, "region", f"one of {sorted(regions)} (the keys of system.regions)", region)
    bounds = regions[region]
    field = f"regions.{region}"
    require(isinstance(bounds, Mapping), field, "a mapping {T_max, J2_min, J2_max}", bounds)
    unknown = sorted(set(bounds) - set(REGION_KEYS))
    require(not unknown, field, f"keys among {list(REGION_KEYS)}", dict(bounds))
    missing = sorted({"T_max", "J2_min", "J2_max"} - set(bounds))
    require(not missing, field, "the keys T_max, J2_min and J2_max", dict(bounds))
    out = {k: (None if v is None else float(v)) for k, v in bounds.items()}
    require(out["T_max"] > 0, f"{field}.T_max", "> 0", out["T_max"])
    require(out["J2_max"] >= out["J2_min"], f"{field}.J2_max", f">= J2_min={out['J2_min']}", out["J2_max"])
    return out


class LatticeSymmetries:
    """A random symmetry of the periodic square lattice per training sample, on the device.

    The J1-J2 Hamiltonian is invariant under the lattice's D4 point group (rotations by
    90°, reflections), translations on the torus, and the global spin flip; so is its
    phase. Without these, a VAE trained on the stripe phase may learn one of the two
    stripe orientations only (issue 12: ε 0.11–0.22 inside the phase). Inputs are spins in
    {0, 1}, so the flip is 1 - x.
    """

    def __call__(self, batch: dict[str, Any], generator: torch.Generator) -> dict[str, Any]:
        x = batch["input"]
        n, L = x.shape[0], x.shape[-1]
        draws = torch.randint(0, 2**16, (n, 5), generator=generator, device=generator.device).to(x.device)
        out = torch.empty_like(x)
        for i in range(n):
            rot, mirror, dy, dx, flip = (int(v) for v in draws[i])
            y = torch.rot90(x[i], rot % 4, dims=(-2, -1))
            if mirror % 2:
                y = torch.flip(y, dims=(-1,))
            y = torch.roll(y, shifts=(dy % L, dx % L), dims=(-2, -1))
            out[i] = 1.0 - y if flip % 2 else y
        batch["input"] = out
        if batch.get("target") is x:  # a reconstruction target follows its input
            batch["target"] = out
        return batch


class J1J2DataModule(ZarrDataModule):
    """Spins ±1 -> image 1×L×L in {0, 1}; the reconstruction target is the input itself.

    ``augment`` (on by default) applies :class:`LatticeSymmetries` to every training batch.
    """

    spec = SPEC

    def __init__(
        self, *args: Any, region: str, regions: Mapping[str, Mapping[str, Any]], augment: bool = True, **kwargs: Any
    ) -> None:
        check_bool(augment, "augment")
        if augment:
            kwargs["batch_transforms"] = [*kwargs.get("batch_transforms", ()), LatticeSymmetries()]
        super().__init__(*args, **kwargs)
        self.region = region
        self.train_region = training_region(region, regions)
        sim = self.simulator
        tt, jj = np.meshgrid(np.asarray(sim.temperatures), np.asarray(sim.params.J2_values, dtype=np.float64))
        self.train_region_points = int(region_mask(tt.ravel(), jj.ravel(), self.train_region).sum())
        if self.train_region_points == 0:
            raise ConfigError(
                field=f"regions.{region}",
                value=self.train_region,
                allowed=f"bounds that contain a (T, J2) point of the grid (T in [{tt.min():g}, {tt.max():g}], "
                f"J2 in {list(sim.params.J2_values)})",
            )

    @property
    def num_train_region_samples(self) -> int:
        """Configurations in the training region: grid points × chains per J2."""
        return self.train_region_points * self.specs["train"].units_per_point

    def make_input(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy((x.astype(np.float32) + 1.0) * 0.5).unsqueeze(0)

    def select(self, split: str, group: Any) -> np.ndarray:
        if split != "train":
            return np.arange(group.attrs["num_samples"])
        return np.flatnonzero(region_mask(group["T"][...], group["J2"][...], self.train_region))
