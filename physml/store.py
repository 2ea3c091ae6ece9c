"""The sharded Zarr v3 dataset store.

One dataset = one Zarr group at ``<data_dir>/<system>/<fingerprint>.zarr``. Every array has
one-sample chunks (random access for training) inside shards of ``shard_units`` units
(the unit of writing and of parallel generation). Shard ``k`` is produced by one call of
the simulator with ``SeedSequence(seed, spawn_key=(split_id, k))`` and written whole; its
completion marker is written atomically afterwards. So:

* an interrupted generation resumes by regenerating only shards without a marker, and the
  result is byte-identical to an uninterrupted run;
* separate processes or cluster jobs may fill different shards of one store at once;
* complete shards are never rewritten, except by an explicit :func:`repair`.

Integrity. A shard's marker records the SHA-256 and size of every file that holds the
shard (or that the file is absent: zarr writes no chunk equal to the fill value) and a
SHA-256 of the decoded data; ``_complete/metadata.json`` records every ``zarr.json``
(and carries its own checksum). :func:`verify_path` checks both byte for byte and names
each bad shard and metadata file; :func:`require_complete` does it once per marker before
training (cached under ``_verified/``); :func:`repair` rewrites exactly what is bad, to
the bytes a clean generation writes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import itertools
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

from physml.errors import ConfigError, DataIntegrityError, require
from physml.simulator import ArraySpec, Simulator

FORMAT_VERSION = 1
#: version of the integrity records (file hashes in markers, the metadata record)
INTEGRITY_VERSION = 1
MARKER_DIR = "_complete"
#: the record of every zarr.json, inside MARKER_DIR (not a shard marker: its stem is not a number)
METADATA_RECORD = "metadata.json"
#: per-shard verification results, keyed by the marker's digest and the files' stat
VERIFIED_DIR = "_verified"
KNOWN_SPLITS = {"train": 0, "test": 1}
#: how to repair a store that cannot rebuild its own simulator (written before it recorded the class)
SIMULATE_REPAIR = "physml simulate <the overrides that made this dataset> repair=true"

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


def _class_path(obj: object) -> str:
    """``module:QualName`` of an object's class, so a store can rebuild its simulator."""
    return f"{type(obj).__module__}:{type(obj).__qualname__}"


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


# ---- files, hashes and atomic writes ---------------------------------------------------
def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _file_record(path: Path) -> dict[str, Any] | None:
    """SHA-256 and size of a file, or None when it does not exist (a fill-valued chunk)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    return {"sha256": _sha256_file(path), "size": size}


def _check_file(root: Path, key: str, expected: dict[str, Any] | None, record: str) -> str | None:
    """What is wrong with file ``key`` compared with ``record``'s entry for it, or None."""
    path = root / key
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None if expected is None else f"{key} is missing"
    except OSError as exc:
        return f"{key} cannot be read ({exc.strerror})"
    if expected is None:
        return f"{key} exists, but {record} records it as absent (all fill value)"
    if size != expected["size"]:
        return f"{key} has {size} bytes, {record} says {expected['size']}"
    try:
        if _sha256_file(path) != expected["sha256"]:
            return f"{key}: SHA-256 differs from {record}"
    except OSError as exc:
        return f"{key} cannot be read ({exc.strerror})"
    return None


def _write_atomic(path: Path, data: bytes) -> None:
    """Write a file so that readers see the old or the new bytes, never a part."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _json_digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _short(exc: BaseException) -> str:
    """One line naming an exception, for reports (never a traceback)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def _marker_shards(root: Path) -> list[int]:
    """Shard numbers that have a completion marker (temporary and metadata files excluded)."""
    marker_dir = root / MARKER_DIR
    if not marker_dir.is_dir():
        return []
    return sorted(int(p.stem) for p in marker_dir.glob("*.json") if p.stem.isdigit())


def _metadata_keys(names: Iterable[str]) -> list[str]:
    return ["zarr.json", *(f"{name}/zarr.json" for name in sorted(names))]


def _arrays(group: zarr.Group) -> dict[str, zarr.Array]:
    """Every array of a group, opened once (opening reads its zarr.json)."""
    return {name: group[name] for name in sorted(group.array_keys())}


def _shard_keys(arrays: dict[str, zarr.Array], start: int, stop: int) -> list[str]:
    """Store-relative paths of the files (shards, or chunks of unsharded arrays) holding samples start:stop."""
    keys = []
    for name, array in sorted(arrays.items()):
        meta = array.metadata
        outer = meta.chunk_grid.chunk_shape
        grid = [range(-(-size // c)) for size, c in zip(meta.shape, outer, strict=True)]
        grid[0] = range(start // outer[0], -(-stop // outer[0]))
        keys.extend(f"{name}/{meta.encode_chunk_key(coords)}" for coords in itertools.product(*grid))
    return keys


def _dump_marker(marker: dict[str, Any]) -> bytes:
    return json.dumps(marker).encode()


def _dump_record(record: dict[str, Any]) -> bytes:
    return json.dumps(record, indent=1).encode()


def _load_exact(raw: bytes, dump: Any) -> Any:
    """Parse a record and insist that it is byte for byte what ``dump`` writes for its content.

    So a change that JSON would forgive (whitespace, an escaped character) still counts.
    """
    value = json.loads(raw)
    if not isinstance(value, dict) or dump(value) != raw:
        raise ValueError("its bytes are not those written for its content")
    return value


def _read_record(root: Path) -> dict[str, Any] | None:
    """The metadata record if it exists, is exactly as written and its own checksum holds, else None."""
    try:
        record = _load_exact((root / MARKER_DIR / METADATA_RECORD).read_bytes(), _dump_record)
        body = {k: v for k, v in record.items() if k != "sha256"}
        return record if record.get("sha256") == _json_digest(body) else None
    except (OSError, ValueError):
        return None


def _read_group_attrs(root: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads((root / "zarr.json").read_text())["attributes"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def repair_command(path: str | os.PathLike) -> str:
    """The command that repairs the dataset at ``path``.

    ``physml repair PATH`` needs the simulator's class, which stores record since the
    integrity records were added; older stores are repaired from the config that made them.
    """
    root = Path(path)
    record, attrs = _read_record(root), _read_group_attrs(root)
    if (record and record.get("simulator_class")) or (attrs and attrs.get("simulator_class")):
        return f"physml repair {root}"
    return SIMULATE_REPAIR


class ShardedStore:
    """Create, fill, verify and repair one dataset on disk."""

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
                raise DataIntegrityError(
                    f"dataset {self.path}: the directory exists but its metadata zarr.json is missing; "
                    f"repair it with: {repair_command(self.path)}"
                ) from None
        self._check_identity()

    def _write_metadata(self, where: Path, package_version: str | None = None) -> None:
        spec = self.spec
        schema = spec.simulator.schema()
        group = zarr.open_group(str(where), mode="w", zarr_format=3)
        group.attrs.update(
            {
                "physml": spec.identity(),
                "fingerprint": spec.fingerprint,
                "package_version": package_version or _package_version(),
                "num_samples": spec.num_samples,
                "num_units": spec.num_units,
                "num_points": spec.simulator.num_points,
                "samples_per_unit": spec.simulator.samples_per_unit,
                "num_shards": spec.num_shards,
                "seed_policy": "SeedSequence(seed, spawn_key=(split_id, shard))",
                "split_id": split_id(spec.split),
                "schema": {k: {"shape": list(v.shape), "dtype": v.dtype} for k, v in schema.items()},
                "simulator_class": _class_path(spec.simulator),
                "integrity": INTEGRITY_VERSION,
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
        body = {
            "integrity": INTEGRITY_VERSION,
            "fingerprint": spec.fingerprint,
            "identity": spec.identity(),
            "simulator_class": _class_path(spec.simulator),
            "package_version": package_version or _package_version(),
            "num_shards": spec.num_shards,
            "files": {key: _file_record(where / key) for key in _metadata_keys(schema)},
        }
        record = {**body, "sha256": _json_digest(body)}
        (where / MARKER_DIR / METADATA_RECORD).write_bytes(_dump_record(record))

    def _check_identity(self) -> None:
        try:
            attrs = dict(zarr.open_group(str(self.path), mode="r").attrs)
        except Exception as exc:  # noqa: BLE001 - any failure to read the metadata is damage
            raise DataIntegrityError(
                f"dataset {self.path}: its metadata zarr.json cannot be read ({_short(exc)}); "
                f"repair it with: {repair_command(self.path)}"
            ) from None
        if attrs.get("fingerprint") != self.spec.fingerprint:
            raise RuntimeError(
                f"{self.path} holds dataset {attrs.get('fingerprint')!r}, not {self.spec.fingerprint!r}"
            )

    def rebuild_metadata(self) -> list[str]:
        """Rewrite every metadata file that differs from what the spec produces; returns them.

        The package version recorded at creation is kept, so an undamaged file compares
        equal and is left alone, and the result equals a clean generation's bytes.
        """
        record, attrs = _read_record(self.path), _read_group_attrs(self.path)
        version = (record or {}).get("package_version") or (attrs or {}).get("package_version")
        tmp = self.path.with_name(f".{self.path.name}.meta-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            self._write_metadata(tmp, package_version=version)
            keys = [*_metadata_keys(self.spec.simulator.schema()), f"{MARKER_DIR}/{METADATA_RECORD}"]
            rewritten = []
            for key in keys:
                fresh, target = (tmp / key).read_bytes(), self.path / key
                try:
                    same = target.read_bytes() == fresh
                except OSError:
                    same = False
                if not same:
                    if target.is_dir():
                        shutil.rmtree(target)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    _write_atomic(target, fresh)
                    rewritten.append(key)
            return rewritten
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # ---- shards ---------------------------------------------------------------------
    def _marker(self, shard: int) -> Path:
        return self.path / MARKER_DIR / f"{shard:07d}.json"

    def is_complete(self, shard: int) -> bool:
        return self._marker(shard).exists()

    def missing_shards(self, shards: Iterable[int] | None = None) -> list[int]:
        wanted = range(self.spec.num_shards) if shards is None else shards
        done = set(_marker_shards(self.path))
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
        # zarr replaces each file atomically, so a concurrent writer of the same shard
        # (same seed, same bytes) can never make these hashes describe a partial file
        files = {key: _file_record(self.path / key) for key in _shard_keys(_arrays(group), start, stop)}
        marker = {"shard": shard, "start": start, "stop": stop, "sha256": _checksum(data), "files": files}
        _write_atomic(self._marker(shard), _dump_marker(marker))
        return stop - start

    def discard_shard(self, shard: int) -> None:
        """Forget a shard: marker first (so an interruption leaves it 'missing'), then its files."""
        self._marker(shard).unlink(missing_ok=True)
        (self.path / VERIFIED_DIR / f"{shard:07d}.json").unlink(missing_ok=True)
        units = self.spec.shard_units_range(shard)
        spu = self.spec.simulator.samples_per_unit
        group = zarr.open_group(str(self.path), mode="r")
        for key in _shard_keys(_arrays(group), units.start * spu, units.stop * spu):
            target = self.path / key
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)


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


# ---- verification ----------------------------------------------------------------------
@dataclasses.dataclass
class IntegrityReport:
    """What :func:`verify_path` found: bad shards and metadata files, each with its first problem."""

    path: Path
    num_shards: int | None
    checked: list[int]
    bad_shards: dict[int, str]
    bad_metadata: dict[str, str]
    #: shards that have no marker yet (not generated): not an integrity problem
    missing: list[int]
    #: shards whose markers predate file records and whose data cannot be decoded while the metadata is damaged
    unchecked: list[int]
    #: True when some markers predate file records (those shards are checked by their data checksum only)
    legacy: bool

    @property
    def ok(self) -> bool:
        return not self.bad_shards and not self.bad_metadata

    def problems(self, limit: int = 10) -> list[str]:
        """One line per bad metadata file and per bad shard (the first ``limit`` shards)."""
        lines = [f"metadata: {why}" for _, why in sorted(self.bad_metadata.items())]
        shards = sorted(self.bad_shards)
        lines += [f"shard {k}: {self.bad_shards[k]}" for k in shards[:limit]]
        if len(shards) > limit:
            lines.append(f"... and {len(shards) - limit} more bad shards")
        if self.unchecked:
            lines.append(f"{len(self.unchecked)} shards (old markers without file records) cannot be checked until the metadata is repaired")
        return lines

    def error_message(self, what: str | None = None) -> str:
        """The text of the DataIntegrityError: the dataset, every bad shard by number, the repair."""
        name = what or f"dataset {self.path}"
        parts = []
        if self.bad_shards:
            parts.append(f"{len(self.bad_shards)} corrupt shard(s): {', '.join(map(str, sorted(self.bad_shards)))}")
        if self.bad_metadata:
            parts.append(f"damaged metadata: {', '.join(sorted(self.bad_metadata))}")
        details = "\n".join(f"  {line}" for line in self.problems())
        return (
            f"{name} is corrupt ({'; '.join(parts)})\n{details}\n"
            f"repair it (rewrites only what is bad, byte-identical to a clean generation): {repair_command(self.path)}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "corrupt_shards": sorted(self.bad_shards),
            "shard_problems": {str(k): v for k, v in sorted(self.bad_shards.items())},
            "damaged_metadata": dict(sorted(self.bad_metadata.items())),
            "checked_shards": len(self.checked),
            "missing_shards": self.missing,
            "unchecked_shards": self.unchecked,
            "legacy_markers": self.legacy,
        }


def _verify_metadata(root: Path) -> tuple[dict[str, str], dict[str, zarr.Array] | None]:
    """Problems of the metadata files by name, and the opened arrays when they can be trusted."""
    problems: dict[str, str] = {}
    record_key = f"{MARKER_DIR}/{METADATA_RECORD}"
    record = None
    if (root / record_key).exists():
        record = _read_record(root)
        if record is None:
            problems[record_key] = f"{record_key} is damaged (unreadable, or its own checksum does not match)"
        else:
            for key, expected in record.get("files", {}).items():
                if problem := _check_file(root, key, expected, "the metadata record"):
                    problems[key] = problem
    # whatever the record says, the metadata must open (for old stores this is the only check)
    try:
        group = zarr.open_group(str(root), mode="r")
        attrs = dict(group.attrs)
        names = list(attrs["schema"])
    except Exception as exc:  # noqa: BLE001 - any failure to read the group is damage
        problems.setdefault("zarr.json", f"zarr.json cannot be read as the dataset's group ({_short(exc)})")
        return problems, None
    if record is None and attrs.get("integrity") and record_key not in problems:
        problems[record_key] = f"{record_key} is missing"
    arrays = {}
    for name in names:
        try:
            arrays[name] = group[name]
        except Exception as exc:  # noqa: BLE001
            problems.setdefault(f"{name}/zarr.json", f"{name}/zarr.json cannot be read as array {name!r} ({_short(exc)})")
    return problems, (None if problems else dict(sorted(arrays.items())))


def _stat_key(root: Path, keys: Iterable[str]) -> dict[str, list[int] | None]:
    out: dict[str, list[int] | None] = {}
    for key in keys:
        try:
            st = (root / key).stat()
            out[key] = [st.st_ino, st.st_size, st.st_mtime_ns]
        except OSError:
            out[key] = None
    return out


@dataclasses.dataclass
class _ShardCheck:
    """One shard on its way through verification."""

    shard: int
    start: int = 0
    stop: int = 0
    digest: str = ""
    has_files: bool = True
    problem: str | None = None
    #: an old marker (no file records) while the metadata is damaged: nothing can be checked
    unchecked: bool = False
    #: settled without decoding: found in the cache, bad, or unchecked
    settled: bool = False
    cache_key: dict[str, Any] | None = None


def _valid_file_records(files: Any) -> bool:
    return isinstance(files, dict) and all(
        entry is None
        or (isinstance(entry, dict) and set(entry) == {"sha256", "size"} and isinstance(entry["size"], int))
        for entry in files.values()
    )


def _check_marker_and_files(
    root: Path, shard: int, arrays: dict[str, zarr.Array] | None, cache: bool, record: bool, modern: bool
) -> _ShardCheck:
    """Phase 1 for one shard: its marker is intact, its cache entry, its files byte for byte.

    ``cache``: accept a matching cache entry; ``record``: compute the key to record one.
    ``modern``: the store writes file records, so a marker without them is damaged (not old).
    """
    check = _ShardCheck(shard)
    marker_key = f"{MARKER_DIR}/{shard:07d}.json"
    try:
        raw = (root / marker_key).read_bytes()
        marker = _load_exact(raw, _dump_marker)
        check.start, check.stop, check.digest = int(marker["start"]), int(marker["stop"]), str(marker["sha256"])
        if int(marker["shard"]) != shard or not 0 <= check.start < check.stop:
            raise ValueError("its fields do not describe this shard")
        files = marker.get("files")
        if (files is not None or modern) and not _valid_file_records(files):
            raise ValueError("its file records are missing or malformed")
    except Exception as exc:  # noqa: BLE001 - a damaged marker is a bad shard
        check.problem, check.settled = f"marker {marker_key} is damaged ({_short(exc)})", True
        return check
    check.has_files = files is not None
    if files is None and arrays is None:
        check.unchecked = check.settled = True
        return check
    if (cache or record) and arrays is not None:
        keys = list(files) if files is not None else _shard_keys(arrays, check.start, check.stop)
        # stat before reading, so a change during verification invalidates what is recorded
        check.cache_key = {"marker_sha256": hashlib.sha256(raw).hexdigest(), "files": _stat_key(root, keys)}
        if cache:
            try:
                cached = json.loads((root / VERIFIED_DIR / f"{shard:07d}.json").read_text())
                check.settled = cached == check.cache_key
            except (OSError, ValueError):
                pass  # no usable cache entry: verify in full
            if check.settled:
                return check
    for key, expected in (files or {}).items():
        if problem := _check_file(root, key, expected, "the marker"):
            check.problem, check.settled = problem, True
            return check
    # files match byte for byte; without trusted metadata the data are decoded after a repair
    check.settled = arrays is None
    return check


def _decode_checks(arrays: dict[str, zarr.Array], checks: list[_ShardCheck]) -> None:
    """Phase 2: decode the shards' data and compare each with its marker's checksum.

    Contiguous shards are read together (one read per array per run, far fewer calls
    into zarr); a run that fails to decode is retried shard by shard, to name the bad one.
    """
    runs: list[list[_ShardCheck]] = []
    for check in sorted(checks, key=lambda c: c.start):
        if runs and runs[-1][-1].stop == check.start:
            runs[-1].append(check)
        else:
            runs.append([check])
    for run in runs:
        lo, hi = run[0].start, run[-1].stop
        try:
            data = {name: array[lo:hi] for name, array in arrays.items()}
        except Exception as exc:  # noqa: BLE001 - a chunk that does not decode is corruption
            if len(run) == 1:
                run[0].problem = f"cannot decode its data ({_short(exc)})"
            else:
                for check in run:
                    _decode_checks(arrays, [check])
            continue
        for check in run:
            part = {name: values[check.start - lo : check.stop - lo] for name, values in data.items()}
            if _checksum(part) != check.digest:
                check.problem = "decoded data differ from the marker's checksum"


def _window(arrays: dict[str, zarr.Array] | None, attrs: dict[str, Any], budget: int = 64 << 20) -> int:
    """How many shards to verify at a time so that one window's decoded data stay within ``budget`` bytes."""
    try:
        shard_samples = int(attrs["physml"]["shard_units"]) * int(attrs["samples_per_unit"])
        row = sum(a.dtype.itemsize * int(np.prod(a.shape[1:])) for a in (arrays or {}).values())
        return max(1, budget // max(1, shard_samples * row))
    except (KeyError, TypeError, ValueError):
        return 1


def verify_path(
    path: str | os.PathLike,
    shards: Iterable[int] | None = None,
    *,
    cache: bool = False,
    record: bool | None = None,
    progress: bool = False,
) -> IntegrityReport:
    """Check the metadata and every complete shard (or those of ``shards``) of a dataset.

    Files are compared byte for byte with the SHA-256 and size recorded at write time,
    and each shard's decoded data with its checksum; every exception while reading counts
    as corruption of the shard (or file) being read, never escapes. With ``cache`` a shard
    verified before, whose marker and files are unchanged (same marker digest; same inode,
    size and mtime of each file), is not read again. With ``record`` (default: ``cache``)
    results are recorded under ``_verified/``: a full check (``cache=False, record=True``)
    refreshes that cache.
    """
    record = cache if record is None else record
    root = Path(path)
    bad_metadata, arrays = _verify_metadata(root)
    attrs, meta_record = _read_group_attrs(root) or {}, _read_record(root) or {}
    num_shards = meta_record.get("num_shards", attrs.get("num_shards"))
    modern = bool(attrs.get("integrity") or meta_record.get("integrity"))
    present = _marker_shards(root)
    wanted: set[int] | None = set(shards) if shards is not None else None
    if wanted is None and isinstance(num_shards, int):
        wanted = set(range(num_shards))
    todo = [k for k in present if wanted is None or k in wanted]
    missing = sorted(wanted - set(present)) if wanted is not None else []
    checks: list[_ShardCheck] = []
    step = _window(arrays, attrs)
    with tqdm(total=len(todo), desc=f"verify {root.name}", unit="shard", disable=not progress or not todo, delay=0.5) as bar:
        for i in range(0, len(todo), step):
            window = [_check_marker_and_files(root, k, arrays, cache, record, modern) for k in todo[i : i + step]]
            if arrays is not None:
                _decode_checks(arrays, [c for c in window if not c.settled])
            for check in window:
                if not record or check.unchecked or (check.settled and check.problem is None):
                    continue  # nothing new to record: not asked to, not checkable, or found in the cache
                _record_verification(root, check)
            checks += window
            bar.update(len(window))
    bad = {c.shard: c.problem for c in checks if c.problem is not None}
    unchecked = [c.shard for c in checks if c.unchecked]
    legacy = any(not c.has_files for c in checks)
    return IntegrityReport(root, num_shards, todo, bad, bad_metadata, missing, unchecked, legacy)


def _record_verification(root: Path, check: _ShardCheck) -> None:
    """Cache a verified shard (keyed by its marker and files' stat); forget a bad one."""
    entry = root / VERIFIED_DIR / f"{check.shard:07d}.json"
    try:
        if check.problem is not None or check.cache_key is None:
            entry.unlink(missing_ok=True)
            return
        entry.parent.mkdir(exist_ok=True)
        _write_atomic(entry, json.dumps(check.cache_key, sort_keys=True).encode())
    except OSError:
        pass  # a read-only store is verified every time instead


def require_complete(
    spec: DatasetSpec, data_dir: str | os.PathLike, shards: Iterable[int] | None = None, progress: bool = True
) -> Path:
    """The path of a dataset whose every shard (or each of ``shards``) is complete and verified.

    Called when a dataset is first opened for training: each shard is verified against
    its marker once (cached, so re-runs are cheap). Raises DataIntegrityError naming the
    dataset, the bad shards and the repair command; ConfigError when shards are missing.
    """
    store = ShardedStore(spec, data_dir)
    wanted = list(range(spec.num_shards) if shards is None else shards)
    if not store.path.exists():
        raise ConfigError(f"dataset {spec.split!r} at {store.path} does not exist: run prepare_data / `physml simulate`")
    report = verify_path(store.path, wanted, cache=True, progress=progress)
    if not report.ok:
        raise DataIntegrityError(report.error_message(f"dataset {spec.split!r} at {store.path}"))
    if report.missing:
        raise ConfigError(
            f"dataset {spec.split!r} at {store.path} is incomplete ({len(report.missing)} of "
            f"{len(wanted)} shards missing): run prepare_data / `physml simulate`"
        )
    return store.path


@dataclasses.dataclass
class RepairResult:
    """What :func:`repair` rewrote."""

    path: Path
    shards_rewritten: list[int]
    metadata_rewritten: list[str]
    shards_filled: list[int]

    def summary(self) -> str:
        if not (self.shards_rewritten or self.metadata_rewritten or self.shards_filled):
            return f"{self.path}: nothing to repair, every shard and metadata file verifies"
        parts = []
        if self.metadata_rewritten:
            parts.append(f"metadata rewritten: {', '.join(self.metadata_rewritten)}")
        if self.shards_rewritten:
            parts.append(f"corrupt shards regenerated: {', '.join(map(str, self.shards_rewritten))}")
        if self.shards_filled:
            parts.append(f"missing shards generated: {len(self.shards_filled)}")
        return f"{self.path}: " + "; ".join(parts) + "; the dataset now verifies"


def repair(
    spec: DatasetSpec,
    data_dir: str | os.PathLike,
    shards: Iterable[int] | None = None,
    workers: int = 1,
    progress: bool = True,
) -> RepairResult:
    """Verify in full, then rewrite exactly what is bad: damaged metadata, corrupt shards.

    Damaged metadata is rebuilt from the spec first (the data can only be decoded through
    it); a corrupt shard is discarded (marker first) and regenerated from its seed, so the
    result equals a clean generation byte for byte; good shards are not touched. Shards
    never generated are filled too. Raises DataIntegrityError if the store still does not
    verify afterwards (e.g. a simulator that is not deterministic).
    """
    store = ShardedStore(spec, data_dir)
    wanted = list(range(spec.num_shards) if shards is None else shards)
    rewritten_meta: list[str] = []
    bad: list[int] = []
    if store.path.exists():
        # a full check (never trusting the cache), recorded so the final check need not repeat it
        report = verify_path(store.path, wanted, record=True, progress=progress)
        if report.bad_metadata or report.unchecked:
            rewritten_meta = store.rebuild_metadata()
            report = verify_path(store.path, wanted, record=True, progress=progress)
            if report.bad_metadata:
                raise DataIntegrityError(report.error_message() + "\n(the metadata rebuilt from the spec does not verify)")
        bad = sorted(report.bad_shards)
        for shard in bad:
            store.discard_shard(shard)
    filled = [k for k in store.missing_shards(wanted) if k not in bad]
    generate(spec, data_dir, shards=wanted, workers=workers, progress=progress)
    after = verify_path(store.path, wanted, cache=True, progress=progress)
    if not after.ok or after.missing:
        raise DataIntegrityError(
            after.error_message() + "\nrepair regenerated these shards but they still do not verify"
            " (is the simulator deterministic, is the disk healthy?)"
        )
    return RepairResult(store.path, bad, rewritten_meta, filled)


def spec_from_store(path: str | os.PathLike) -> tuple[DatasetSpec, Path]:
    """Rebuild a store's DatasetSpec (and its data_dir) from what the store records.

    The identity (simulator name, version, parameters, split, seed, shard size) and the
    simulator's class are read from the metadata record, or from the group attrs; the
    rebuilt spec must reproduce the store's fingerprint, else its bytes cannot be
    reproduced and DataIntegrityError says why.
    """
    root = Path(path)
    record, attrs = _read_record(root), _read_group_attrs(root)
    source = record if record is not None else (attrs or {})
    identity = source.get("identity", source.get("physml"))
    fingerprint = source.get("fingerprint")
    class_path = source.get("simulator_class")
    how = SIMULATE_REPAIR
    if not identity or not fingerprint:
        raise DataIntegrityError(f"{root}: neither its metadata record nor its zarr.json can be read; repair it with: {how}")
    if not class_path:
        raise DataIntegrityError(f"{root} predates stores that record their simulator class; repair it with: {how}")
    module_name, _, qualname = str(class_path).partition(":")
    try:
        cls: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError) as exc:
        raise DataIntegrityError(f"{root}: its simulator {class_path} cannot be imported ({_short(exc)}); repair it with: {how}") from None
    if str(cls.version) != str(identity["simulator_version"]):
        raise DataIntegrityError(
            f"{root} was written by {cls.name} v{identity['simulator_version']}, the installed one is v{cls.version}: "
            "its bytes cannot be reproduced; regenerate it (a new version makes a new dataset)"
        )
    names = {f.name for f in dataclasses.fields(cls.params_type)}
    simulator = cls.from_config(**{k: v for k, v in identity["params"].items() if k in names})
    spec = DatasetSpec(simulator, identity["units_per_point"], identity["split"], identity["seed"], identity["shard_units"])
    if spec.fingerprint != fingerprint:
        raise DataIntegrityError(
            f"{root}: the simulator rebuilt from its recorded parameters makes dataset {spec.fingerprint}, "
            f"not {fingerprint} (its inputs changed, e.g. the files of a cif_dir); its bytes cannot be reproduced"
        )
    data_dir = root.parent.parent
    if spec.path(data_dir).resolve() != root.resolve():
        raise DataIntegrityError(f"{root} is not at <data_dir>/{spec.simulator.name}/{fingerprint}.zarr; move it back there to repair it")
    return spec, data_dir


def open_dataset(path: str | os.PathLike) -> zarr.Group:
    """Open a dataset read-only (what DataLoader workers do, lazily, each on its own)."""
    return zarr.open_group(str(path), mode="r")


def describe(path: str | os.PathLike) -> dict[str, Any]:
    """Schema, parameters, completeness and label counts of a dataset, for `physml inspect`.

    Raises DataIntegrityError if the metadata cannot be read; label arrays that cannot
    be decoded are listed under ``unreadable`` instead of counted, and metadata files that
    differ from their record (a cheap check: a few small files) under ``damaged_metadata``.
    """
    try:
        group = open_dataset(path)
        attrs = dict(group.attrs)
        ident = attrs["physml"]
        spu, n_shards = attrs["samples_per_unit"], attrs["num_shards"]
    except Exception as exc:  # noqa: BLE001 - damaged metadata
        raise DataIntegrityError(
            f"dataset {path}: its metadata cannot be read ({_short(exc)}); "
            f"check it with `physml inspect {path} --verify`, repair it with: {repair_command(path)}"
        ) from None
    done = _marker_shards(Path(path))
    counts: dict[str, dict[str, int]] = {}
    unreadable: dict[str, str] = {}
    shard_samples = ident["shard_units"] * spu
    for name in group.array_keys():
        try:
            arr = group[name]
            if arr.ndim != 1 or not done or arr.dtype.kind not in "iuf":
                continue
            values = np.concatenate([arr[k * shard_samples : (k + 1) * shard_samples] for k in done])
        except Exception as exc:  # noqa: BLE001 - corrupt chunks: reported, not raised
            unreadable[name] = _short(exc)
            continue
        uniq, cnt = np.unique(values, return_counts=True)
        if len(uniq) <= 64:
            counts[name] = {f"{u:g}": int(c) for u, c in zip(uniq, cnt, strict=True)}
    return {
        "path": str(path),
        "fingerprint": attrs["fingerprint"],
        "simulator": ident["simulator"],
        "simulator_version": ident["simulator_version"],
        "split": ident["split"],
        "seed": ident["seed"],
        "params": ident["params"],
        "schema": attrs["schema"],
        "num_samples": attrs["num_samples"],
        "shards_complete": len(done),
        "num_shards": n_shards,
        "label_counts": counts,
        "unreadable": unreadable,
        "damaged_metadata": _verify_metadata(Path(path))[0],
    }
