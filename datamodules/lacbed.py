"""LACBED pairs (projected potential -> bright-field pattern) with the paper's protocol.

Review §6.2: one pool of crystals, and for every training run a *fresh* 80/20
train/test partition drawn with its own seed. So unlike the other systems, the test
pool here is not a separate seed stream: this datamodule generates only the crystal pool
(the base's ``train`` store), drops the base's ``test`` store from ``specs`` before
anything is generated, and serves as ``test`` the held-out part of the pool chosen by
``split``:

* ``random`` — a fresh ``test_fraction`` of the pool drawn with ``split_seed``
  (the paper: 20 %, one seed per repetition);
* ``heldout_space_groups`` — every crystal of the listed space groups is tested, none is
  trained on (generalisation to unseen symmetry).

Validation is carved (``val_fraction``) from the remaining training part with the same
``split_seed``, so the test crystals never influence checkpoint selection. Extra test
streams (``extra_test``, independently generated pools) still work as in the base.

Images go to the network in [-1, 1] (tanh generator): the potential is already in [0, 1];
each pattern is min-max normalised per image (the paper's "normalized amplitudes"), which
leaves the R index unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, WeightedRandomSampler

from datamodules.base import TestStream, ZarrDataModule
from physml.errors import ConfigError, require
from physml.simulator import Simulator
from physml.store import open_dataset

SPLITS = ("random", "heldout_space_groups")
CUBIC = range(195, 231)


class LACBEDDataModule(ZarrDataModule):
    """Potential images in, LACBED pattern images as targets; one pool, split per seed."""

    input_key = "potential"
    targets = {"pattern": ("pattern", "image")}

    def __init__(
        self,
        simulator: Simulator,
        target: str,
        data_dir: str,
        num_crystals: int,
        split: str = "random",
        split_seed: int = 0,
        test_fraction: float = 0.2,
        heldout_space_groups: list[int] | tuple[int, ...] = (),
        balance_space_groups: bool = False,
        time_simulator_units: int = 1,
        extra_test: Mapping[str, TestStream | Mapping[str, Any]] | None = None,
        seed: int = 0,
        shard_units: int = 64,
        val_fraction: float = 0.1,
        batch_size: int = 1,
        num_workers: int = 0,
        generation_workers: int = 1,
        in_memory: bool = True,
        pin_memory: bool = False,
        progress: bool = True,
    ) -> None:
        require(
            num_crystals >= 3,
            "system.num_crystals",
            "integers >= 3 (train, val and test need crystals)",
            num_crystals,
        )
        require(split in SPLITS, "system.split", f"one of {SPLITS}", split)
        require(
            isinstance(split_seed, int) and split_seed >= 0, "system.split_seed", "integers >= 0", split_seed
        )
        require(0.0 < test_fraction < 1.0, "system.test_fraction", "values in (0, 1)", test_fraction)
        held = tuple(int(g) for g in heldout_space_groups or ())
        if split == "heldout_space_groups":
            require(
                len(held) > 0 and all(g in CUBIC for g in held),
                "system.heldout_space_groups",
                "a non-empty list of cubic space-group numbers 195..230 when split=heldout_space_groups",
                list(heldout_space_groups or []),
            )
        require(
            time_simulator_units >= 0,
            "system.time_simulator_units",
            "integers >= 0 (0: no timing)",
            time_simulator_units,
        )
        # the base wants a test stream; ours is carved from the pool, so its spec is removed
        super().__init__(
            simulator,
            target,
            data_dir,
            num_crystals,
            1,
            extra_test,
            seed,
            shard_units,
            val_fraction,
            batch_size,
            num_workers,
            generation_workers,
            in_memory,
            pin_memory,
            progress,
        )
        del self.specs["test"]
        self.split = split
        self.split_seed = split_seed
        self.test_fraction = test_fraction
        self.heldout_space_groups = held
        self.balance_space_groups = balance_space_groups
        self.time_simulator_units = time_simulator_units
        self.partition: dict[str, np.ndarray] = {}
        self._train_groups: np.ndarray | None = None

    # ---- the protocol ------------------------------------------------------------------
    @property
    def test_stream_names(self) -> list[str]:
        return ["test", *(name for name in self.specs if name.startswith("test_"))]

    def fingerprints(self) -> dict[str, str]:
        fps = super().fingerprints()
        how = (
            f"heldout{list(self.heldout_space_groups)}"
            if self.split == "heldout_space_groups"
            else (f"random{self.test_fraction:g}")
        )
        fps["test"] = f"{fps['train']}:{how}@split_seed={self.split_seed}"
        return fps

    def make_partition(self, space_group: np.ndarray) -> dict[str, np.ndarray]:
        """Pool indices of train / val / test for this ``split`` and ``split_seed``."""
        n = len(space_group)
        rng = np.random.default_rng(np.random.SeedSequence(self.split_seed, spawn_key=(0x1ACBED,)))
        order = rng.permutation(n)
        if self.split == "random":
            n_test = max(1, int(round(self.test_fraction * n)))
            test, rest = order[:n_test], order[n_test:]
        else:
            held = np.isin(space_group[order], self.heldout_space_groups)
            test, rest = order[held], order[~held]
            if len(test) == 0:
                raise ConfigError(
                    f"system.heldout_space_groups={list(self.heldout_space_groups)} is invalid: allowed groups "
                    f"present in the pool, which has {sorted(set(space_group.tolist()))}"
                )
        n_val = int(round(self.val_fraction * len(rest)))
        if len(rest) - n_val < 1:
            raise ConfigError(
                f"system.split={self.split!r} leaves no training crystals: allowed a larger pool "
                "or fewer held-out crystals"
            )
        return {"train": np.sort(rest[n_val:]), "val": np.sort(rest[:n_val]), "test": np.sort(test)}

    def setup(self, stage: str | None = None) -> None:
        if not self.partition:
            group = open_dataset(self.specs["train"].path(self.data_dir))
            sg = np.asarray(group["space_group"][...])
            self.partition = self.make_partition(sg)
            self._train_groups = sg[self.partition["train"]]
        if "train" not in self.datasets and stage in (None, "fit", "validate"):
            self.datasets["train"] = self._dataset("train", self.partition["train"])
            self.datasets["val"] = self._dataset("train", self.partition["val"])
        if stage in (None, "test", "predict"):
            self.datasets.setdefault("test", self._dataset("train", self.partition["test"]))
            for name in self.test_stream_names[1:]:
                self.datasets.setdefault(name, self._dataset(name))

    def train_dataloader(self) -> DataLoader:
        if not self.balance_space_groups:
            return super().train_dataloader()
        # every space group equally likely per draw: weight 1 / (crystals of its group)
        groups = self._train_groups
        _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
        weights = torch.as_tensor(1.0 / counts[inverse], dtype=torch.double)
        sampler = WeightedRandomSampler(
            weights,
            num_samples=len(groups),
            replacement=True,
            generator=torch.Generator().manual_seed(self.seed + self.split_seed),
        )
        return DataLoader(
            self.datasets["train"],
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )

    # ---- samples ------------------------------------------------------------------------
    def _label_keys(self, group: Any) -> list[str]:
        return [*super()._label_keys(group), "pattern"]

    def make_input(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(2.0 * x.astype(np.float32) - 1.0).unsqueeze(0)

    @staticmethod
    def make_target(pattern: np.ndarray) -> torch.Tensor:
        """Pattern -> [-1, 1] by per-image min-max (a flat pattern maps to 0)."""
        p = pattern.astype(np.float32)
        lo, hi = float(p.min()), float(p.max())
        p = (p - lo) / (hi - lo) * 2.0 - 1.0 if hi > lo else np.zeros_like(p)
        return torch.from_numpy(p).unsqueeze(0)

    def _to_sample(self, raw: dict[str, Any]) -> dict[str, Any]:
        sample: dict[str, Any] = {
            "input": self.make_input(raw.pop(self.input_key)),
            "target": self.make_target(raw.pop("pattern")),
        }
        for key, value in raw.items():
            sample[key] = torch.as_tensor(value)
        return sample

    # ---- speed reference ----------------------------------------------------------------
    def reference_seconds_per_sample(self) -> float | None:
        """Wall time of the simulator per pattern at the configured size, measured now.

        Simulates ``time_simulator_units`` fresh crystals (seeded, not stored); 0 disables.
        """
        if self.time_simulator_units <= 0:
            return None
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(0x5EED,)))
        points = np.zeros(self.time_simulator_units, dtype=np.int64)
        start = time.perf_counter()
        self.simulator.generate(points, rng)
        return (time.perf_counter() - start) / (self.time_simulator_units * self.simulator.samples_per_unit)
