"""The sharded Zarr store: fingerprints, determinism, resume, concurrency, integrity."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from physml.errors import ConfigError
from physml.store import DatasetSpec, ShardedStore, describe, generate, verify_path
from tests.store_helpers import NoiseParams, NoiseSimulator

ROOT = Path(__file__).resolve().parents[1]


def spec(
    delay: float = 0.0, units: int = 5, shard_units: int = 3, split: str = "train", seed: int = 7
) -> DatasetSpec:
    return DatasetSpec(NoiseSimulator(NoiseParams(delay=delay)), units, split, seed, shard_units)


def array_bytes(path: Path) -> dict[str, bytes]:
    """Every data/metadata file of the store except completion markers, by relative path."""
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and "_complete" not in p.parts
    }


def generator_script(delay: float, data_dir: Path) -> str:
    """Python source that fills the test store; argv[1:3] optionally restrict the shards."""
    return f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from tests.store_helpers import NoiseParams, NoiseSimulator
from physml.store import DatasetSpec, generate
s = DatasetSpec(NoiseSimulator(NoiseParams(delay={delay})), 8, "train", 7, 2)
shards = range(int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else None
generate(s, {str(data_dir)!r}, shards=shards, progress=False)
"""


def test_fingerprint_depends_on_everything_that_changes_bytes() -> None:
    base = spec()
    assert base.fingerprint == spec().fingerprint
    assert base.fingerprint != spec(seed=8).fingerprint
    assert base.fingerprint != spec(split="test").fingerprint
    assert base.fingerprint != spec(units=6).fingerprint
    assert base.fingerprint != spec(shard_units=4).fingerprint
    other = DatasetSpec(NoiseSimulator(NoiseParams(values=(0.0, 1.5))), 5, "train", 7, 3)
    assert base.fingerprint != other.fingerprint


def test_layout_chunks_and_shards(tmp_path: Path) -> None:
    s = spec()
    path = generate(s, tmp_path, progress=False)
    group = zarr.open_group(str(path), mode="r")
    assert path == tmp_path / "noise" / f"{s.fingerprint}.zarr"
    x = group["x"]
    assert x.shape == (s.num_samples, 8, 8) == (30, 8, 8)
    assert x.chunks == (1, 8, 8)
    assert x.shards == (6, 8, 8)
    assert group.attrs["physml"]["params"]["values"] == [0.0, 1.0, 2.0]
    # point-major order: unit u belongs to point u // units_per_point
    np.testing.assert_array_equal(group["v"][:], np.repeat([0.0, 1.0, 2.0], 10))


def test_data_equals_direct_simulator_calls_with_shard_seeds(tmp_path: Path) -> None:
    s = spec()
    group = zarr.open_group(str(generate(s, tmp_path, progress=False)), mode="r")
    for k in range(s.num_shards):
        units = s.shard_units_range(k)
        direct = s.simulator.generate(np.arange(units.start, units.stop) // 5, s.shard_rng(k))
        np.testing.assert_array_equal(group["x"][units.start * 2 : units.stop * 2], direct["x"])


def test_test_stream_is_independent_of_training_stream(tmp_path: Path) -> None:
    a = zarr.open_group(str(generate(spec(split="train"), tmp_path, progress=False)), mode="r")[
        "x"
    ][:]
    b = zarr.open_group(str(generate(spec(split="test"), tmp_path, progress=False)), mode="r")["x"][
        :
    ]
    assert not np.allclose(a, b)


def test_partial_shard_is_regenerated_and_complete_shards_untouched(tmp_path: Path) -> None:
    s = spec()
    reference = array_bytes(generate(s, tmp_path / "ref", progress=False))
    store = ShardedStore(s, tmp_path / "run")
    store.ensure_created()
    store.write_shard(0)
    store.write_shard(2)
    # a half-written shard 1: garbage data, no marker (what a crash mid-write leaves)
    group = zarr.open_group(str(store.path), mode="r+")
    group["x"][6:9] = np.full((3, 8, 8), 99.0, dtype=np.float32)
    assert store.missing_shards() == [1, 3, 4]
    shard0 = store.path / "x" / "c" / "0" / "0" / "0"
    before = shard0.stat().st_mtime_ns
    generate(s, tmp_path / "run", progress=False)
    assert shard0.stat().st_mtime_ns == before, "a complete shard was rewritten"
    assert array_bytes(store.path) == reference
    assert verify_path(store.path).ok


def test_generation_killed_mid_shard_resumes_byte_identical(tmp_path: Path) -> None:
    s = spec(delay=0.15, units=8, shard_units=2)
    reference = array_bytes(generate(s, tmp_path / "ref", progress=False))
    script = generator_script(0.15, tmp_path / "run")
    proc = subprocess.Popen([sys.executable, "-c", script])
    store = ShardedStore(s, tmp_path / "run")
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if store.path.exists() and len(store.missing_shards()) <= s.num_shards - 2:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    missing = store.missing_shards()
    assert 0 < len(missing) < s.num_shards, "kill should land part-way through the dataset"
    generate(s, tmp_path / "run", progress=False)
    assert store.missing_shards() == []
    assert array_bytes(store.path) == reference


def test_two_processes_fill_different_shards_of_one_store(tmp_path: Path) -> None:
    s = spec(delay=0.05, units=8, shard_units=2)
    reference = array_bytes(generate(s, tmp_path / "ref", progress=False))
    script = generator_script(0.05, tmp_path / "run")
    procs = [
        subprocess.Popen([sys.executable, "-c", script, a, b]) for a, b in (("0", "6"), ("6", "12"))
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = ShardedStore(s, tmp_path / "run")
    assert store.missing_shards() == []
    assert array_bytes(store.path) == reference
    assert describe(store.path)["shards_complete"] == s.num_shards


def test_process_pool_generation_matches_serial(tmp_path: Path) -> None:
    s = spec(units=4, shard_units=2)
    serial = array_bytes(generate(s, tmp_path / "a", progress=False))
    parallel = array_bytes(generate(s, tmp_path / "b", workers=2, progress=False))
    assert serial == parallel


def test_corruption_is_detected(tmp_path: Path) -> None:
    """Data rewritten through zarr (valid chunks, wrong values) is caught; tests/test_integrity.py
    covers damaged files, metadata, repair and the fuzz test."""
    path = generate(spec(), tmp_path, progress=False)
    group = zarr.open_group(str(path), mode="r+")
    group["x"][0] = np.zeros((8, 8), np.float32)
    assert sorted(verify_path(path).bad_shards) == [0]


def test_bad_store_parameters_are_named() -> None:
    with pytest.raises(ConfigError, match="units_per_point"):
        spec(units=0)
    with pytest.raises(ConfigError, match="shard_units"):
        spec(shard_units=0)
