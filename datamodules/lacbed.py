"""LACBED pairs (projected potential -> bright-field pattern) with the review's protocol (§6.2).

One pool of crystals, and for every training run a *fresh* train/test partition drawn
with its own seed: unlike the other systems, the test set is carved from the pool, by
one of two test-pool policies chosen by ``split``:

* ``random`` — a fresh ``test_fraction`` of the pool drawn with ``split_seed`` (the
  review: 20 %, one seed per repetition);
* ``heldout_space_groups`` — every crystal of the listed space groups is tested, none is
  trained on (generalisation to unseen symmetry).

Validation is carved from the remaining part with the same ``split_seed``, so the test
crystals never influence checkpoint selection. ``balance_space_groups`` draws every
space group equally often per training draw.

Images go to the network in [-1, 1] (tanh generator): the potential is already in [0, 1];
each pattern is min-max normalised per image (the review's "normalized amplitudes"),
which leaves the R index unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from datamodules.base import ZarrDataModule
from datamodules.policies import HeldOutGroups, PoolPartition
from physml.errors import require
from physml.simulator import Simulator
from physml.spec import Feed, SystemSpec, Target

SPLITS = ("random", "heldout_space_groups")
CUBIC = range(195, 231)

SPEC = SystemSpec(
    name="lacbed",
    targets={"pattern": Target("pattern", "image", outputs=1, doc="the bright-field LACBED pattern")},
    feeds={"potential": Feed("potential", rank=2, channels=1, size="n", doc="projected potential")},
    analysis="physml.analysis.lacbed:LACBEDAnalysis",
    studies=("physml.analysis.lacbed:SpaceGroupComparison",),
)


class LACBEDDataModule(ZarrDataModule):
    """Potential images in, LACBED pattern images as targets; one pool, split per seed."""

    spec = SPEC

    def __init__(
        self,
        simulator: Simulator,
        target: str,
        data_dir: str,
        num_crystals: int,
        *,
        split: str = "random",
        split_seed: int = 0,
        test_fraction: float = 0.2,
        heldout_space_groups: Sequence[int] = (),
        balance_space_groups: bool = False,
        **kwargs: Any,
    ) -> None:
        require(num_crystals >= 3, "num_crystals", "integers >= 3 (train, val and test need crystals)", num_crystals)
        require(split in SPLITS, "split", f"one of {SPLITS}", split)
        require(isinstance(split_seed, int) and split_seed >= 0, "split_seed", "integers >= 0", split_seed)
        require(0.0 < test_fraction < 1.0, "test_fraction", "values in (0, 1)", test_fraction)
        held = tuple(int(g) for g in heldout_space_groups or ())
        if split == "random":
            pool: PoolPartition | HeldOutGroups = PoolPartition(test_fraction, split_seed)
        else:
            require(
                len(held) > 0 and all(g in CUBIC for g in held),
                "heldout_space_groups",
                "a non-empty list of cubic space-group numbers 195..230 when split=heldout_space_groups",
                list(held),
            )
            pool = HeldOutGroups("space_group", held, field="system.heldout_space_groups")
        super().__init__(
            simulator,
            target,
            data_dir,
            num_crystals,
            test_pool=pool,
            val_seed=split_seed,
            balance_by="space_group" if balance_space_groups else None,
            **kwargs,
        )

    def make_input(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(2.0 * x.astype(np.float32) - 1.0).unsqueeze(0)

    def make_target(self, y: np.ndarray) -> torch.Tensor:
        """Pattern -> [-1, 1] by per-image min-max (a flat pattern maps to 0)."""
        p = y.astype(np.float32)
        lo, hi = float(p.min()), float(p.max())
        p = (p - lo) / (hi - lo) * 2.0 - 1.0 if hi > lo else np.zeros_like(p)
        return torch.from_numpy(p).unsqueeze(0)
