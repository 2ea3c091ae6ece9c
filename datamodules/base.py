"""The shared LightningDataModule over sharded Zarr datasets, driven by the system's spec.

A system's datamodule declares its :class:`~physml.spec.SystemSpec` (targets, feeds,
derived labels) and picks policies (:mod:`datamodules.policies`: where the test samples
come from, how training batches are sampled); the machinery lives here: making sure the
datasets exist (generation with a progress bar, resumable), the deterministic
train/validation split, the test streams, turning a stored sample into tensors (input,
target, every label including derived ones), optional batch transforms on the device,
and one dataloader factory for every split.

Seeds: ``data_seed`` decides the data (every store's seeds and the train/validation
split); ``seed`` decides training (shuffling order, samplers, augmentation), so a
``-m seed=...`` sweep changes the order in which the same data are seen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from datamodules.policies import SeparateStream, StratifiedBatchSampler, TestPool, balanced_sampler
from physml.errors import check_bool, check_int, check_number, require
from physml.simulator import Simulator
from physml.spec import SystemSpec
from physml.store import DatasetSpec, generate, open_dataset, require_complete

#: a transform of a whole batch dict, run on the training device after transfer
BatchTransform = Callable[[dict[str, Any], torch.Generator], dict[str, Any]]


@dataclass(frozen=True)
class TestStream:
    """An extra, independently seeded test pool (e.g. states at fixed p = p_c(L))."""

    __test__ = False  # not a pytest test class

    simulator: Simulator
    units_per_point: int


class ZarrSampleDataset(Dataset):
    """Samples of one store, opened lazily and read-only in whichever process reads them.

    With ``in_memory`` the needed arrays are read whole on first access in each worker,
    which is fastest for the small datasets of a CPU study; otherwise each sample is read
    from its own chunk (the layout is built for that).
    """

    def __init__(
        self,
        path: Path,
        indices: np.ndarray,
        keys: list[str],
        to_sample: Callable[[dict[str, Any]], dict[str, Any]],
        in_memory: bool,
    ) -> None:
        self.path = path
        self.indices = np.asarray(indices, dtype=np.int64)
        self.keys = keys
        self.to_sample = to_sample
        self.in_memory = in_memory
        self._arrays: dict[str, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_arrays"] = None  # every worker opens its own handle
        return state

    def _open(self) -> dict[str, Any]:
        if self._arrays is None:
            group = open_dataset(self.path)
            self._arrays = {k: group[k][...] if self.in_memory else group[k] for k in self.keys}
        return self._arrays

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, Any]:
        arrays = self._open()
        idx = int(self.indices[i])
        raw = {k: np.asarray(arrays[k][idx]) for k in arrays}
        raw["index"] = np.int64(idx)
        return self.to_sample(raw)


class ZarrDataModule(pl.LightningDataModule):
    """Base datamodule: a subclass sets ``spec`` and, where needed, ``make_input``/``select``."""

    spec: ClassVar[SystemSpec]

    def __init__(
        self,
        simulator: Simulator,
        target: str,
        data_dir: str,
        train_units_per_point: int,
        test_units_per_point: int | None = None,
        *,
        input: str | None = None,
        extra_test: Mapping[str, TestStream | Mapping[str, Any]] | None = None,
        test_pool: TestPool | None = None,
        data_seed: int = 0,
        seed: int = 0,
        shard_units: int = 64,
        val_fraction: float = 0.1,
        val_seed: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        generation_workers: int = 1,
        in_memory: bool = True,
        pin_memory: bool = False,
        progress: bool = True,
        balance_by: str | None = None,
        stratify_batches: bool = False,
        batch_transforms: Sequence[BatchTransform] = (),
    ) -> None:
        super().__init__()
        spec = self.spec
        require(target in spec.targets, "target", f"one of {sorted(spec.targets)}", target)
        feeds = sorted(spec.feeds)
        require(input is None or input in spec.feeds, "input", f"one of {feeds}", input)
        check_int(train_units_per_point, "train_units_per_point", minimum=1)
        if test_units_per_point is not None:
            check_int(test_units_per_point, "test_units_per_point", minimum=1)
        check_int(shard_units, "shard_units", minimum=1)
        check_number(val_fraction, "val_fraction", minimum=0.0)
        require(val_fraction < 1.0, "val_fraction", "fractions in [0, 1)", val_fraction)
        check_int(batch_size, "batch_size", minimum=1)
        check_int(num_workers, "num_workers", minimum=0)
        check_int(generation_workers, "generation_workers", minimum=1)
        check_int(data_seed, "data_seed", minimum=0)
        check_int(seed, "seed", minimum=0)
        check_bool(in_memory, "in_memory")
        check_bool(stratify_batches, "stratify_batches")
        require(
            not stratify_batches or spec.targets[target].kind == "class",
            "stratify_batches",
            f"true only for class targets (target {target!r} is {spec.targets[target].kind})",
            stratify_batches,
        )
        self.simulator = simulator
        self.target = target
        self.target_spec = spec.targets[target]
        self.feed = spec.feeds[input] if input is not None else next(iter(spec.feeds.values()))
        self.data_dir = data_dir
        self.data_seed = data_seed
        self.seed = seed
        self.val_fraction = val_fraction
        self.val_seed = data_seed if val_seed is None else val_seed
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.generation_workers = generation_workers
        self.in_memory = in_memory
        self.pin_memory = pin_memory
        self.progress = progress
        self.balance_by = balance_by
        self.stratify_batches = stratify_batches
        self.batch_transforms = list(batch_transforms)
        if test_pool is None:
            require(test_units_per_point is not None, "test_units_per_point", "integers >= 1", test_units_per_point)
            test_pool = SeparateStream(test_units_per_point)
        self.test_pool = test_pool
        self.specs: dict[str, DatasetSpec] = {
            "train": DatasetSpec(simulator, train_units_per_point, "train", data_seed, shard_units)
        }
        if isinstance(test_pool, SeparateStream):
            self.specs["test"] = DatasetSpec(simulator, test_pool.units_per_point, "test", data_seed, shard_units)
        for name, stream in (extra_test or {}).items():
            if isinstance(stream, Mapping):
                stream = TestStream(**stream)
            self.specs[f"test_{name}"] = DatasetSpec(
                stream.simulator, stream.units_per_point, f"test_{name}", data_seed, shard_units
            )
        self.partition: dict[str, np.ndarray] = {}
        self.datasets: dict[str, ZarrSampleDataset] = {}

    # ---- what a system may override -----------------------------------------------------
    def make_input(self, x: np.ndarray) -> torch.Tensor:
        """Raw stored input -> float tensor (channels first)."""
        return torch.as_tensor(x, dtype=torch.float32).unsqueeze(0)

    def make_target(self, y: np.ndarray) -> torch.Tensor:
        """Raw stored image target -> float tensor (channels first); for ``image`` targets."""
        return torch.as_tensor(y, dtype=torch.float32).unsqueeze(0)

    def select(self, split: str, group: Any) -> np.ndarray:
        """Indices of the samples of a store to use (all by default)."""
        return np.arange(group.attrs["num_samples"])

    def derivation_params(self) -> dict[str, Any]:
        """Parameters the spec's derived labels need (e.g. Anderson's w_c)."""
        return {}

    def resolve_streams(self) -> None:
        """Add test streams whose parameters follow from the training pool (none by default).

        Percolation's fixed-p_c(L) stream is generated at the p where the pool's P(p) = 1/2;
        ``prepare_data`` and ``physml simulate`` call this once the pool exists.
        """

    # ---- shared machinery ---------------------------------------------------------------
    @property
    def test_stream_names(self) -> list[str]:
        return ["test", *(name for name in self.specs if name.startswith("test_"))]

    def fingerprints(self) -> dict[str, str]:
        fps = {name: spec.fingerprint for name, spec in self.specs.items()}
        if not isinstance(self.test_pool, SeparateStream):
            fps["test"] = f"{fps['train']}:{self.test_pool.describe()}"
        return fps

    def prepare_data(self) -> None:
        for spec in self.specs.values():
            generate(spec, self.data_dir, workers=self.generation_workers, progress=self.progress)

    def _array_keys(self, group: Any) -> list[str]:
        """The input, every scalar label, and the target's array when it is not a scalar."""
        keys = [k for k in group.array_keys() if group[k].ndim == 1 and group[k].dtype.kind in "iufb"]
        source = self.target_spec.source
        if source is not None and source in group and source not in keys:
            keys.append(source)
        return [self.feed.key, *keys]

    def _to_sample(self, raw: dict[str, Any]) -> dict[str, Any]:
        params = self.derivation_params()
        for name, derive in self.spec.derived.items():
            raw[name] = np.asarray(derive(raw, params))
        sample: dict[str, Any] = {"input": self.make_input(raw.pop(self.feed.key))}
        kind, source = self.target_spec.kind, self.target_spec.source
        if kind == "generative":
            sample["target"] = sample["input"]
        elif kind == "image":
            sample["target"] = self.make_target(raw.pop(source))
        else:
            sample["target"] = torch.as_tensor(raw[source], dtype=torch.long if kind == "class" else torch.float32)
        for key, value in raw.items():
            sample[key] = torch.as_tensor(value)
        return sample

    def _dataset(self, name: str, indices: np.ndarray | None = None) -> ZarrSampleDataset:
        spec = self.specs[name]
        require_complete(spec, self.data_dir)
        group = open_dataset(spec.path(self.data_dir))
        if indices is None:
            indices = self.select(name, group)
        return ZarrSampleDataset(spec.path(self.data_dir), indices, self._array_keys(group), self._to_sample, self.in_memory)

    def make_partition(self) -> dict[str, np.ndarray]:
        """Indices into the training store: train, val and (for pool policies) test."""
        group = open_dataset(self.specs["train"].path(self.data_dir))
        pool = self.select("train", group)
        labels = {k: group[k][...] for k in group.array_keys() if group[k].ndim == 1}
        trainable, test = self.test_pool.split(pool, labels)
        order = np.random.default_rng(self.val_seed).permutation(len(trainable))
        n_val = int(round(self.val_fraction * len(trainable)))
        require(
            len(trainable) - n_val >= 1,
            "val_fraction",
            f"a split that leaves training samples (the trainable pool has {len(trainable)})",
            self.val_fraction,
        )
        parts = {"train": np.sort(trainable[order[n_val:]]), "val": np.sort(trainable[order[:n_val]])}
        if test is not None:
            parts["test"] = np.sort(test)
        return parts

    def setup(self, stage: str | None = None) -> None:
        if not self.partition:
            self.partition = self.make_partition()
        if "train" not in self.datasets and stage in (None, "fit", "validate"):
            self.datasets["train"] = self._dataset("train", self.partition["train"])
            self.datasets["val"] = self._dataset("train", self.partition["val"])
        if stage in (None, "test", "predict"):
            if "test" in self.partition:
                self.datasets.setdefault("test", self._dataset("train", self.partition["test"]))
            for name in self.test_stream_names:
                if name not in self.datasets:
                    self.datasets[name] = self._dataset(name)

    def _loader(self, name: str, shuffle: bool = False, sampler: Any = None, batch_sampler: Any = None) -> DataLoader:
        if batch_sampler is not None:  # it owns batch size, order and shuffling
            return DataLoader(
                self.datasets[name],
                batch_sampler=batch_sampler,
                num_workers=self.num_workers,
                pin_memory=self.pin_memory,
                persistent_workers=self.num_workers > 0,
            )
        return DataLoader(
            self.datasets[name],
            batch_size=self.batch_size,
            shuffle=shuffle and sampler is None,
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            generator=torch.Generator().manual_seed(self.seed) if shuffle and sampler is None else None,
        )

    def _train_labels(self, key: str) -> np.ndarray:
        """A per-sample label of the training partition, stored or derived."""
        group = open_dataset(self.specs["train"].path(self.data_dir))
        if key in group:
            return group[key][...][self.partition["train"]]
        raw = {k: group[k][...][self.partition["train"]] for k in group.array_keys() if group[k].ndim == 1}
        return np.asarray(self.spec.derived[key](raw, self.derivation_params()))

    def train_dataloader(self) -> DataLoader:
        if self.stratify_batches:
            world = self.trainer.world_size if self.trainer is not None else 1
            require(world == 1, "data.stratify_batches",
                    f"true only on one device (this run has {world} processes; DDP shards batches itself)", True)
            labels = self._train_labels(self.target_spec.source)
            return self._loader("train", batch_sampler=StratifiedBatchSampler(labels, self.batch_size, self.seed))
        sampler = None
        if self.balance_by is not None:
            sampler = balanced_sampler(self._train_labels(self.balance_by), self.seed)
        return self._loader("train", shuffle=True, sampler=sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> list[DataLoader]:
        return [self._loader(name) for name in self.test_stream_names]

    def predict_dataloader(self) -> list[DataLoader]:
        return self.test_dataloader()

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Batch transforms (augmentation) run on the device, in training only."""
        trainer = self.trainer
        if not self.batch_transforms or trainer is None or not trainer.training:
            return batch
        if not hasattr(self, "_augment_rng"):
            device = batch["input"].device
            self._augment_rng = torch.Generator(device=device).manual_seed(self.seed)
        for transform in self.batch_transforms:
            batch = transform(batch, self._augment_rng)
        return batch
