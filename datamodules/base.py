"""The shared LightningDataModule over sharded Zarr datasets.

A system's datamodule only says which array is the input, how a target is derived, which
subset to use and how a raw sample becomes a tensor; everything else lives here: making
sure the datasets exist (generation with a progress bar, resumable), the deterministic
train/validation split of the training pool, the separate test pool(s), and one
dataloader factory for every split.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from physml.errors import ConfigError, require
from physml.simulator import Simulator
from physml.store import DatasetSpec, ShardedStore, generate, open_dataset


@dataclass(frozen=True)
class TestStream:
    """An extra, independently seeded test pool (e.g. states at fixed p = p_c(L))."""

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
        input_key: str,
        label_keys: list[str],
        to_sample: Callable[[dict[str, Any]], dict[str, Any]],
        in_memory: bool,
    ) -> None:
        self.path = path
        self.indices = np.asarray(indices, dtype=np.int64)
        self.input_key = input_key
        self.label_keys = label_keys
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
            keys = [self.input_key, *self.label_keys]
            self._arrays = {k: group[k][...] if self.in_memory else group[k] for k in keys}
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
    """Base datamodule: subclasses define ``input_key``, ``targets`` and ``make_input``."""

    input_key: str = "x"
    #: target name -> (array it is read from, "class" | "regression")
    targets: Mapping[str, tuple[str, str]] = {}

    def __init__(
        self,
        simulator: Simulator,
        target: str,
        data_dir: str,
        train_units_per_point: int,
        test_units_per_point: int,
        extra_test: Mapping[str, TestStream | Mapping[str, Any]] | None = None,
        seed: int = 0,
        shard_units: int = 64,
        val_fraction: float = 0.1,
        batch_size: int = 64,
        num_workers: int = 0,
        generation_workers: int = 1,
        in_memory: bool = True,
        pin_memory: bool = False,
        progress: bool = True,
    ) -> None:
        super().__init__()
        require(target in self.targets, "system.target", f"one of {sorted(self.targets)}", target)
        require(0.0 <= val_fraction < 1.0, "data.val_fraction", "values in [0, 1)", val_fraction)
        require(batch_size >= 1, "data.batch_size", "integers >= 1", batch_size)
        require(num_workers >= 0, "data.num_workers", "integers >= 0", num_workers)
        self.simulator = simulator
        self.target = target
        self.data_dir = data_dir
        self.seed = seed
        self.val_fraction = val_fraction
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.generation_workers = generation_workers
        self.in_memory = in_memory
        self.pin_memory = pin_memory
        self.progress = progress
        self.specs: dict[str, DatasetSpec] = {
            "train": DatasetSpec(simulator, train_units_per_point, "train", seed, shard_units),
            "test": DatasetSpec(simulator, test_units_per_point, "test", seed, shard_units),
        }
        for name, stream in (extra_test or {}).items():
            if isinstance(stream, Mapping):
                stream = TestStream(**stream)
            self.specs[f"test_{name}"] = DatasetSpec(
                stream.simulator, stream.units_per_point, f"test_{name}", seed, shard_units
            )
        self.datasets: dict[str, ZarrSampleDataset] = {}

    # ---- what a system overrides ------------------------------------------------------
    def make_input(self, x: np.ndarray) -> torch.Tensor:
        """Raw stored input -> float tensor (channels first)."""
        return torch.as_tensor(x, dtype=torch.float32).unsqueeze(0)

    def select(self, split: str, group: Any) -> np.ndarray:
        """Indices of the samples of ``split`` to use (all by default)."""
        return np.arange(group.attrs["num_samples"])

    @property
    def target_kind(self) -> str:
        return self.targets[self.target][1]

    @property
    def num_classes(self) -> int:
        """Number of classes of a classification target, read from the simulator grid."""
        raise NotImplementedError

    # ---- shared machinery -------------------------------------------------------------
    @property
    def test_stream_names(self) -> list[str]:
        return [name for name in self.specs if name.startswith("test")]

    def dataset_paths(self) -> dict[str, Path]:
        return {name: spec.path(self.data_dir) for name, spec in self.specs.items()}

    def fingerprints(self) -> dict[str, str]:
        return {name: spec.fingerprint for name, spec in self.specs.items()}

    def prepare_data(self) -> None:
        for spec in self.specs.values():
            generate(spec, self.data_dir, workers=self.generation_workers, progress=self.progress)

    def _label_keys(self, group: Any) -> list[str]:
        return [k for k in group.array_keys() if group[k].ndim == 1 and group[k].dtype.kind in "iufb"]

    def _to_sample(self, raw: dict[str, Any]) -> dict[str, Any]:
        source, kind = self.targets[self.target]
        sample: dict[str, Any] = {"input": self.make_input(raw.pop(self.input_key))}
        dtype = torch.long if kind == "class" else torch.float32
        sample["target"] = torch.as_tensor(raw[source], dtype=dtype)
        for key, value in raw.items():
            sample[key] = torch.as_tensor(value)
        return sample

    def _dataset(self, name: str, indices: np.ndarray | None = None) -> ZarrSampleDataset:
        path = self.specs[name].path(self.data_dir)
        if not (path / "zarr.json").exists() or ShardedStore(self.specs[name], self.data_dir).missing_shards():
            raise ConfigError(f"dataset {name!r} at {path} is incomplete: run prepare_data / `physml simulate`")
        group = open_dataset(path)
        if indices is None:
            indices = self.select(name, group)
        return ZarrSampleDataset(
            path, indices, self.input_key, self._label_keys(group), self._to_sample, self.in_memory
        )

    def setup(self, stage: str | None = None) -> None:
        if "train" not in self.datasets and stage in (None, "fit", "validate"):
            group = open_dataset(self.specs["train"].path(self.data_dir))
            pool = self.select("train", group)
            order = np.random.default_rng(self.seed).permutation(len(pool))
            n_val = int(round(self.val_fraction * len(pool)))
            self.datasets["val"] = self._dataset("train", np.sort(pool[order[:n_val]]))
            self.datasets["train"] = self._dataset("train", np.sort(pool[order[n_val:]]))
        if stage in (None, "test", "predict"):
            for name in self.test_stream_names:
                self.datasets.setdefault(name, self._dataset(name))

    def _dataloader_factory(self, name: str, shuffle: bool = False) -> DataLoader:
        return DataLoader(
            self.datasets[name],
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            generator=torch.Generator().manual_seed(self.seed) if shuffle else None,
        )

    def train_dataloader(self) -> DataLoader:
        return self._dataloader_factory("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._dataloader_factory("val")

    def test_dataloader(self) -> list[DataLoader]:
        return [self._dataloader_factory(name) for name in self.test_stream_names]

    def predict_dataloader(self) -> list[DataLoader]:
        return self.test_dataloader()
