"""Policies a datamodule is built from: where its test samples come from, how it samples.

A system's datamodule picks policies instead of overriding the base's machinery:

* a **test pool**: :class:`SeparateStream` (the default: an independently seeded test
  store, as in the review's percolation, Anderson and J1-J2 studies), :class:`PoolPartition`
  (a fresh random part of one pool per split seed: the review's LACBED protocol) or
  :class:`HeldOutGroups` (every sample of some groups, e.g. unseen space groups);
* a **sampler**: :func:`balanced_sampler` draws every value of a label equally often;
  :class:`StratifiedBatchSampler` puts the same number of every class into every batch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Sampler, WeightedRandomSampler

from physml.errors import ConfigError, require


class TestPool(ABC):
    """Where a datamodule's ``test`` stream comes from."""

    __test__ = False  # not a pytest test class
    #: True when the test samples live in a store of their own (split "test")
    separate_store: bool = False

    @abstractmethod
    def split(self, pool: np.ndarray, labels: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        """(indices that may be trained or validated on, test indices into the same store or None)."""

    @abstractmethod
    def describe(self) -> str:
        """How the test set is chosen, for the dataset fingerprints a run records."""


@dataclass(frozen=True)
class SeparateStream(TestPool):
    """An independent test store of ``units_per_point`` units per grid point, with its own seeds."""

    units_per_point: int
    separate_store = True

    def __post_init__(self) -> None:
        require(self.units_per_point >= 1, "units_per_point", "integers >= 1", self.units_per_point)

    def split(self, pool: np.ndarray, labels: dict[str, np.ndarray]) -> tuple[np.ndarray, None]:
        return pool, None

    def describe(self) -> str:
        return "separate test stream"


@dataclass(frozen=True)
class PoolPartition(TestPool):
    """A fresh random ``fraction`` of the pool per ``seed`` (review §6.2: 80/20 per repetition)."""

    fraction: float
    seed: int

    def split(self, pool: np.ndarray, labels: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(0x1ACBED,)))
        order = pool[rng.permutation(len(pool))]
        n_test = max(1, int(round(self.fraction * len(pool))))
        return np.sort(order[n_test:]), np.sort(order[:n_test])

    def describe(self) -> str:
        return f"random{self.fraction:g}@split_seed={self.seed}"


@dataclass(frozen=True)
class HeldOutGroups(TestPool):
    """Every sample whose ``key`` label is one of ``groups`` is tested and never trained on."""

    key: str
    groups: tuple[int, ...]
    field: str = "system.heldout_space_groups"

    def split(self, pool: np.ndarray, labels: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        values = labels[self.key][pool]
        held = np.isin(values, self.groups)
        if not held.any():
            raise ConfigError(
                field=self.field,
                value=list(self.groups),
                allowed=f"groups present in the pool, which has {sorted(set(values.tolist()))}",
            )
        return pool[~held], pool[held]

    def describe(self) -> str:
        return f"heldout{list(self.groups)}"


def balanced_sampler(values: Sequence[int] | np.ndarray, seed: int) -> Sampler:
    """Draws (with replacement) so that every distinct value is equally likely per draw."""
    values = np.asarray(values)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    weights = torch.as_tensor(1.0 / counts[inverse], dtype=torch.double)
    return WeightedRandomSampler(
        weights, num_samples=len(values), replacement=True, generator=torch.Generator().manual_seed(seed)
    )


class StratifiedBatchSampler(Sampler[list[int]]):
    """Batches that hold exactly ``batch_size / K`` samples of each of the K classes.

    Why: BatchNorm normalises a sample by its batch's statistics. When the class *is* a
    global density (percolation's p: the occupied fraction is exact), a random batch's mean
    density fluctuates by std(p)/√B, 1.5 % of p at B = 124 — more than the 1 % between
    neighbouring classes — so every sample's features shift with its batch mates and the
    label is noise at the resolution the task needs. With every class equally present the
    batch mean is the same in every batch. Each epoch draws a fresh permutation within each
    class (seeded by ``seed`` and the epoch, which Lightning sets through :meth:`set_epoch`);
    an epoch has as many batches as the smallest class fills, and the leftovers of larger
    classes differ from epoch to epoch.
    """

    def __init__(self, labels: Sequence[int] | np.ndarray, batch_size: int, seed: int) -> None:
        labels = np.asarray(labels)
        classes = np.unique(labels)
        require(
            batch_size % len(classes) == 0,
            "data.batch_size",
            f"multiples of the {len(classes)} classes when data.stratify_batches=true",
            batch_size,
        )
        self.per_class = batch_size // len(classes)
        self.members = [np.flatnonzero(labels == c) for c in classes]
        smallest = min(len(m) for m in self.members)
        require(
            smallest >= self.per_class,
            "data.batch_size",
            f"at most {smallest * len(classes)} with data.stratify_batches=true (the smallest class "
            f"has {smallest} training samples)",
            batch_size,
        )
        self.batches = smallest // self.per_class
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.batches

    def __iter__(self):
        rng = np.random.default_rng((self.seed, self.epoch))
        drawn = np.stack([rng.permutation(m)[: self.batches * self.per_class] for m in self.members])
        drawn = drawn.reshape(len(self.members), self.batches, self.per_class).transpose(1, 0, 2)
        for batch in drawn.reshape(self.batches, -1):
            yield rng.permutation(batch).tolist()
