"""The sharded Zarr v3 dataset store.

One dataset = one Zarr group at ``<data_dir>/<system>/<fingerprint>.zarr``. Every array has
one-sample chunks (random access for training) inside shards of ``shard_units`` units
(the unit of writing and of parallel generation). Shard ``k`` is produced by one call of
the simulator with ``SeedSequence(seed, spawn_key=(split_id, k))`` and written whole; its
completion marker (with a checksum of the data) is written atomically afterwards. So:

* an interrupted generation resumes by regenerating only shards without a marker, and the
  result is byte-identical to an uninterrupted run;
* separate processes or cluster jobs may fill different shards of one store at once;
* complete shards are never rewritten.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import warnings
import zlib
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from tqdm.auto import tqdm

from physml.errors import ConfigError, require
from physml.simulator import ArraySpec, Simulator

FORMAT_VERSION = 1
MARKER_DIR = "_complete"
KNOWN_SPLITS = {"train": 0, "test": 1}

warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
warnings.filterwarnings("ignore", message=".*is not recognized as a component of a Zarr hierarchy.*")


def split_id(split: str) -> int:
    """Stable integer for a split name: train 0, test 1, any other name a CRC of it."""
    return KNOWN_SPLITS.get(split, 2 + zlib.crc32(split.encode()) % 1_000_000)


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("physml")
    except Exception:  # noqa: BLE001 - running from a source tree without install
        return "0+source"


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Everything that determines a dataset's bytes; hashed into its fingerprint."""

    simulator: Simulator
    units_per_point: int
    split: str = "train"
    seed: int = 0
    shard_units: int = 64

    def __post_init__(self) -> None:
        require(self.units_per_point >= 1, "units_per_point", "integers >= 1", self.units_per_point)
        require(self.shard_units >= 1, "shard_units", "integers >= 1", self.shard_units)

    @property
    def num_units(self) -> int:
        return self.simulator.num_points * self.units_per_point

    @property
    def num_samples(self) -> int:
        return self.num_units * self.simulator.samples_per_unit

    @property
    def num_shards(self) -> int:
        return -(-self.num_units // self.shard_units)

    def identity(self) -> dict[str, Any]:
        sim = self.simulator
        return {
            "simulator": sim.name,
            "simulator_version": sim.version,
            "params": sim.config(),
            "units_per_point": self.units_per_point,
            "split": self.split,
            "seed": self.seed,
            "shard_units": self.shard_units,
            "format": FORMAT_VERSION,
        }

    @property
    def fingerprint(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def path(self, data_dir: str | os.PathLike) -> Path:
        return Path(data_dir) / self.simulator.name / f"{self.fingerprint}.zarr"

    def shard_units_range(self, shard: int) -> range:
        start = shard * self.shard_units
        return range(start, min(start + self.shard_units, self.num_units))

    def shard_rng(self, shard: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(split_id(self.split), shard)))


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(arrays[name]).tobytes())
    return digest.hexdigest()


class ShardedStore:
    """Create, fill, verify and describe one dataset on disk."""

    def __init__(self, spec: DatasetSpec, data_dir: str | os.PathLike) -> None:
        self.spec = spec
        self.path = spec.path(data_dir)

    # ---- metadata -------------------------------------------------------------------
    def ensure_created(self) -> None:
        """Create the group and its arrays once; safe when many processes race to do it.

        The metadata is built in a private temporary directory and renamed into place:
        exactly one rename wins, the others find the finished store and use it.
        """
        if (self.path / "zarr.json").exists():
            self._check_identity()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        self._write_metadata(tmp)
        try:
            os.rename(tmp, self.path)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not (self.path / "zarr.json").exists():
                raise
        self._check_identity()

    def _write_metadata(self, where: Path) -> None:
        spec = self.spec
        schema = spec.simulator.schema()
        group = zarr.open_group(str(where), mode="w", zarr_format=3)
        group.attrs.update(
            {
                "physml": spec.identity(),
                "fingerprint": spec.fingerprint,
                "package_version": _package_version(),
                "num_samples": spec.num_samples,
                "num_units": spec.num_units,
                "num_points": spec.simulator.num_points,
                "samples_per_unit": spec.simulator.samples_per_unit,
                "num_shards": spec.num_shards,
                "seed_policy": "SeedSequence(seed, spawn_key=(split_id, shard))",
                "split_id": split_id(spec.split),
                "schema": {k: {"shape": list(v.shape), "dtype": v.dtype} for k, v in schema.items()},
            }
        )
        spu = spec.simulator.samples_per_unit
        shard_samples = spec.shard_units * spu
        for name, aspec in schema.items():
            # Per-sample arrays get one-sample chunks inside shards (random access);
            # scalar labels are tiny, so one chunk per shard avoids thousands of 4-byte chunks.
            per_sample = len(aspec.shape) > 0
            group.create_array(
                name,
                shape=(spec.num_samples, *aspec.shape),
                chunks=(1, *aspec.shape) if per_sample else (shard_samples,),
                shards=(shard_samples, *aspec.shape) if per_sample else None,
                dtype=aspec.dtype,
                fill_value=None,
            )
        (where / MARKER_DIR).mkdir()

    def _check_identity(self) -> None:
        attrs = dict(zarr.open_group(str(self.path), mode="r").attrs)
        if attrs.get("fingerprint") != self.spec.fingerprint:
            raise RuntimeError(
                f"{self.path} holds dataset {attrs.get('fingerprint')!r}, not {self.spec.fingerprint!r}"
            )

    # ---- shards ---------------------------------------------------------------------
    def _marker(self, shard: int) -> Path:
        return self.path / MARKER_DIR / f"{shard:07d}.json"

    def is_complete(self, shard: int) -> bool:
        return self._marker(shard).exists()

    def missing_shards(self, shards: Iterable[int] | None = None) -> list[int]:
        wanted = range(self.spec.num_shards) if shards is None else shards
        done = set()
        marker_dir = self.path / MARKER_DIR
        if marker_dir.exists():
            done = {int(p.stem) for p in marker_dir.glob("*.json")}
        return [k for k in wanted if k not in done]

    def write_shard(self, shard: int) -> int:
        """Simulate shard ``shard``, write every array whole, then its marker. Returns samples."""
        spec = self.spec
        if not 0 <= shard < spec.num_shards:
            raise ConfigError(field="shard", value=shard, allowed=f"0..{spec.num_shards - 1}")
        units = spec.shard_units_range(shard)
        points = np.arange(units.start, units.stop) // spec.units_per_point
        data = spec.simulator.generate(points, spec.shard_rng(shard))
        spu = spec.simulator.samples_per_unit
        start, stop = units.start * spu, units.stop * spu
        _validate(data, spec.simulator.schema(), stop - start)
        group = zarr.open_group(str(self.path), mode="r+")
        for name, values in data.items():
            group[name][start:stop] = values
        marker = {"shard": shard, "start": start, "stop": stop, "sha256": _checksum(data)}
        tmp = self._marker(shard).with_suffix(f".tmp-{os.getpid()}")
        tmp.write_text(json.dumps(marker))
        os.replace(tmp, self._marker(shard))
        return stop - start


def _validate(data: dict[str, np.ndarray], schema: dict[str, ArraySpec], n: int) -> None:
    if set(data) != set(schema):
        raise RuntimeError(f"simulator returned arrays {sorted(data)}, schema says {sorted(schema)}")
    for name, spec in schema.items():
        arr = data[name]
        if arr.shape != (n, *spec.shape) or arr.dtype != np.dtype(spec.dtype):
            raise RuntimeError(
                f"array {name!r}: got {arr.shape} {arr.dtype}, schema wants {(n, *spec.shape)} {spec.dtype}"
            )


def _write_shard_job(spec: DatasetSpec, data_dir: str, shard: int) -> int:
    return ShardedStore(spec, data_dir).write_shard(shard)


def generate(
    spec: DatasetSpec,
    data_dir: str | os.PathLike,
    shards: Iterable[int] | None = None,
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """Ensure the dataset exists: create it if needed and fill every missing shard.

    ``shards`` restricts the work to a range (for a cluster job); ``workers`` > 1 fills
    shards in that many local processes. Finished shards are skipped, so re-running after
    an interruption continues where it stopped.
    """
    store = ShardedStore(spec, data_dir)
    store.ensure_created()
    todo = store.missing_shards(shards)
    spu = spec.simulator.samples_per_unit
    total = sum(len(spec.shard_units_range(k)) * spu for k in todo)
    bar = tqdm(total=total, unit="samples", desc=f"{spec.simulator.name}/{spec.split}", disable=not progress or total == 0)
    with bar:
        if workers <= 1 or len(todo) <= 1:
            for shard in todo:
                bar.update(store.write_shard(shard))
        else:
            import multiprocessing as mp

            with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
                futures = [pool.submit(_write_shard_job, spec, str(data_dir), k) for k in todo]
                for fut in as_completed(futures):
                    bar.update(fut.result())
    return store.path


def require_complete(spec: DatasetSpec, data_dir: str | os.PathLike) -> Path:
    """The path of a dataset that exists with every shard complete, else a ConfigError saying how to make it."""
    store = ShardedStore(spec, data_dir)
    if not (store.path / "zarr.json").exists() or store.missing_shards():
        raise ConfigError(f"dataset {spec.split!r} at {store.path} is incomplete: run prepare_data / `physml simulate`")
    return store.path


def open_dataset(path: str | os.PathLike) -> zarr.Group:
    """Open a dataset read-only (what DataLoader workers do, lazily, each on its own)."""
    return zarr.open_group(str(path), mode="r")


def describe(path: str | os.PathLike) -> dict[str, Any]:
    """Schema, parameters, completeness and label counts of a dataset, for `physml inspect`."""
    group = open_dataset(path)
    attrs = dict(group.attrs)
    n_shards = attrs["num_shards"]
    marker_dir = Path(path) / MARKER_DIR
    done = sorted(int(p.stem) for p in marker_dir.glob("*.json")) if marker_dir.exists() else []
    counts: dict[str, dict[str, int]] = {}
    spu = attrs["samples_per_unit"]
    shard_samples = attrs["physml"]["shard_units"] * spu
    for name in group.array_keys():
        arr = group[name]
        if arr.ndim != 1 or not done or arr.dtype.kind not in "iuf":
            continue
        values = np.concatenate([arr[k * shard_samples : (k + 1) * shard_samples] for k in done])
        uniq, cnt = np.unique(values, return_counts=True)
        if len(uniq) <= 64:
            counts[name] = {f"{u:g}": int(c) for u, c in zip(uniq, cnt, strict=True)}
    return {
        "path": str(path),
        "fingerprint": attrs["fingerprint"],
        "simulator": attrs["physml"]["simulator"],
        "simulator_version": attrs["physml"]["simulator_version"],
        "split": attrs["physml"]["split"],
        "seed": attrs["physml"]["seed"],
        "params": attrs["physml"]["params"],
        "schema": attrs["schema"],
        "num_samples": attrs["num_samples"],
        "shards_complete": len(done),
        "num_shards": n_shards,
        "label_counts": counts,
    }


def verify_path(path: str | os.PathLike) -> list[int]:
    """Checksum every complete shard of the dataset at ``path``; returns the corrupt ones."""
    group = open_dataset(path)
    marker_dir = Path(path) / MARKER_DIR
    bad = []
    for marker_path in sorted(marker_dir.glob("*.json")):
        marker = json.loads(marker_path.read_text())
        data = {name: group[name][marker["start"] : marker["stop"]] for name in group.array_keys()}
        if _checksum(data) != marker["sha256"]:
            bad.append(int(marker["shard"]))
    return bad
