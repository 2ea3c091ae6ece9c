"""Data integrity: corruption is found, named and repaired (issue 11, section 2).

The expected values here never come from the code under test: file hashes are computed
with hashlib from the bytes on disk, and "repaired" means byte-identical, file by file, to
a clean generation of the same spec in another directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from physml.errors import ConfigError, DataIntegrityError
from physml.store import (
    MARKER_DIR,
    METADATA_RECORD,
    VERIFIED_DIR,
    DatasetSpec,
    ShardedStore,
    generate,
    repair,
    require_complete,
    spec_from_store,
    verify_path,
)
from tests.store_helpers import NoiseParams, NoiseSimulator

ROOT = Path(__file__).resolve().parents[1]
RECORD = f"{MARKER_DIR}/{METADATA_RECORD}"
#: bytes at the end of one x shard file: 6 inner chunks x (offset, nbytes) x 8 bytes + CRC32C
INDEX_BYTES = 6 * 16 + 4


def noise_spec() -> DatasetSpec:
    """5 shards; ``x`` sharded (one file per shard), ``v`` and ``pid`` one chunk per shard.

    Point 0 has value 0.0, so shard 0 of ``v`` and every shard of ``pid`` equal the fill
    value and zarr writes no file for them: the markers must record them as absent.
    """
    return DatasetSpec(NoiseSimulator(NoiseParams()), units_per_point=5, split="train", seed=7, shard_units=3)


def files_of(path: Path) -> dict[str, bytes]:
    """Every file of a store by relative path, except the verification cache."""
    return {
        p.relative_to(path).as_posix(): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and VERIFIED_DIR not in p.relative_to(path).parts
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean generation, never modified: the bytes every repair must reproduce."""
    return generate(noise_spec(), tmp_path_factory.mktemp("ref"), progress=False)


@pytest.fixture()
def store(reference: Path, tmp_path: Path) -> Path:
    """A copy of the reference store at its canonical place under ``tmp_path/data``."""
    target = tmp_path / "data" / reference.parent.name / reference.name
    shutil.copytree(reference, target)
    return target


def flip(path: Path, offset: int, mask: int = 0xFF) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= mask
    path.write_bytes(bytes(data))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``physml ...`` in a subprocess that can import tests.store_helpers (the store's simulator)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "physml.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


# ---- what is recorded at write time -------------------------------------------------------
def test_markers_record_every_file_of_their_shard_and_absent_chunks(store: Path) -> None:
    on_disk = {p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file()}
    recorded: dict[str, object] = {}
    for k in range(5):
        marker = json.loads((store / MARKER_DIR / f"{k:07d}.json").read_text())
        assert set(marker["files"]) == {f"x/c/{k}/0/0", f"v/c/{k}", f"pid/c/{k}"}
        recorded.update(marker["files"])
    for key, entry in recorded.items():
        if key in on_disk:
            raw = (store / key).read_bytes()
            assert entry == {"sha256": hashlib.sha256(raw).hexdigest(), "size": len(raw)}
        else:
            assert entry is None, f"{key} is absent but recorded as present"
    # the fill-valued chunks really are absent, and recorded so
    assert recorded["v/c/0"] is None and all(recorded[f"pid/c/{k}"] is None for k in range(5))
    assert recorded["v/c/1"] is not None
    # every data file on disk belongs to exactly one shard's record
    data_files = {f for f in on_disk if "/c/" in f}
    assert data_files <= set(recorded)


def test_metadata_record_covers_every_zarr_json(store: Path) -> None:
    record = json.loads((store / RECORD).read_text())
    zarr_jsons = {p.relative_to(store).as_posix() for p in store.rglob("zarr.json")}
    assert set(record["files"]) == zarr_jsons == {"zarr.json", "x/zarr.json", "v/zarr.json", "pid/zarr.json"}
    for key, entry in record["files"].items():
        assert entry["sha256"] == hashlib.sha256((store / key).read_bytes()).hexdigest()
    attrs = json.loads((store / "zarr.json").read_text())["attributes"]
    assert attrs["simulator_class"] == "tests.store_helpers:NoiseSimulator"
    assert "simulator_class" not in attrs["physml"], "the class path must stay outside the hashed identity"


# ---- detection: each kind of damage, named ------------------------------------------------
def _damage(store: Path, kind: str) -> None:
    x3 = store / "x/c/3/0/0"
    if kind == "zstd byte flip":
        flip(x3, 40)  # inside the first compressed inner chunk
    elif kind == "shard index flip":
        flip(x3, x3.stat().st_size - INDEX_BYTES + 3)
    elif kind == "truncated shard file":
        with open(x3, "r+b") as fh:
            fh.truncate(x3.stat().st_size // 2)
    elif kind == "deleted shard file":
        x3.unlink()
    elif kind == "deleted chunk file":
        (store / "v/c/3").unlink()
    elif kind == "file where the marker records none":
        (store / "pid/c").mkdir(exist_ok=True)
        (store / "pid/c/3").write_bytes((store / "v/c/3").read_bytes())
    elif kind == "damaged marker":
        (store / MARKER_DIR / "0000003.json").write_text('{"shard": 3, "sta')


DAMAGE = [
    "zstd byte flip",
    "shard index flip",
    "truncated shard file",
    "deleted shard file",
    "deleted chunk file",
    "file where the marker records none",
    "damaged marker",
]


@pytest.mark.parametrize("kind", DAMAGE)
def test_verify_names_the_bad_shard(store: Path, kind: str) -> None:
    _damage(store, kind)
    report = verify_path(store)
    assert not report.ok
    assert set(report.bad_shards) == {3}, report.bad_shards
    assert report.bad_metadata == {}


@pytest.mark.parametrize(
    "key, how", [("zarr.json", "flip"), ("x/zarr.json", "flip"), ("v/zarr.json", "delete"), (RECORD, "flip")]
)
def test_verify_names_the_damaged_metadata_file(store: Path, key: str, how: str) -> None:
    if how == "flip":
        flip(store / key, 20, 0x01)
    else:
        (store / key).unlink()
    report = verify_path(store)
    assert key in report.bad_metadata, report.bad_metadata
    assert report.bad_shards == {}, "shards whose files match their markers are not blamed for metadata damage"


def test_inspect_verify_reports_every_bad_shard_without_a_traceback(store: Path) -> None:
    flip(store / "x/c/1/0/0", 40)  # zstd-breaking
    (store / "x/c/4/0/0").unlink()
    flip(store / "v/zarr.json", 30, 0x01)
    result = run_cli("inspect", str(store), "--verify")
    out = result.stdout + result.stderr
    assert result.returncode == 3, out
    assert "Traceback" not in out
    assert "corrupt     shards 1, 4" in out
    assert "shard 1: x/c/1/0/0" in out and "shard 4: x/c/4/0/0 is missing" in out
    assert "v/zarr.json" in out
    assert f"physml repair {store}" in out
    as_json = json.loads(run_cli("inspect", str(store), "--verify", "--json").stdout)
    assert as_json["corrupt_shards"] == [1, 4]


def test_inspect_without_metadata_is_a_data_error_not_a_traceback(store: Path) -> None:
    (store / "zarr.json").unlink()
    plain = run_cli("inspect", str(store))
    assert plain.returncode == 3 and "Traceback" not in plain.stderr
    assert "physml: data error" in plain.stderr
    verified = run_cli("inspect", str(store), "--verify")
    assert verified.returncode == 3 and "Traceback" not in verified.stderr
    assert "zarr.json is missing" in verified.stderr


def test_clean_store_verifies_with_exit_0(store: Path) -> None:
    result = run_cli("inspect", str(store), "--verify")
    assert result.returncode == 0, result.stderr
    assert "corrupt     none: metadata and 5 complete shards match" in result.stdout
    assert not (store / VERIFIED_DIR).exists(), "inspect --verify must not write into the dataset"


# ---- repair ----------------------------------------------------------------------------------
def test_repair_cli_rewrites_exactly_the_bad_shards_byte_identical(store: Path, reference: Path) -> None:
    flip(store / "x/c/2/0/0", 40)
    with open(store / "v/c/4", "r+b") as fh:
        fh.truncate(3)
    good = {k: (store / f"x/c/{k}/0/0").stat() for k in (0, 1, 3)}
    result = run_cli("repair", str(store))
    assert result.returncode == 0, result.stderr
    assert "corrupt shards regenerated: 2, 4" in result.stdout
    assert files_of(store) == files_of(reference)
    for k, before in good.items():
        after = (store / f"x/c/{k}/0/0").stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), f"good shard {k} touched"
    assert verify_path(store).ok


def test_repair_rebuilds_damaged_metadata_byte_identical(store: Path, reference: Path) -> None:
    (store / "zarr.json").unlink()
    flip(store / "x/zarr.json", 25, 0x01)
    spec, data_dir = spec_from_store(store)
    result = repair(spec, data_dir, progress=False)
    assert set(result.metadata_rewritten) == {"zarr.json", "x/zarr.json"}
    assert result.shards_rewritten == []
    assert files_of(store) == files_of(reference)


def test_repair_of_a_clean_store_changes_nothing(store: Path, reference: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}
    result = repair(noise_spec(), store.parents[1], progress=False)
    assert (result.shards_rewritten, result.metadata_rewritten, result.shards_filled) == ([], [], [])
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())


def test_repair_refuses_a_store_it_cannot_reproduce(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(NoiseSimulator, "version", "2")
    with pytest.raises(DataIntegrityError, match="v1, the installed one is v2"):
        spec_from_store(store)


# ---- the corruption fuzz test ------------------------------------------------------------------
def _targets(store: Path) -> list[tuple[str, str]]:
    """(file, region) pairs to damage: shard data, shard index, unsharded chunks, metadata, markers."""
    out = []
    for p in sorted(store.rglob("*")):
        key = p.relative_to(store).as_posix()
        if not p.is_file():
            continue
        if key.startswith("x/c/"):
            out += [(key, "data"), (key, "index")]
        else:
            out.append((key, "whole"))
    return out


def _mutate(rng: random.Random, path: Path, region: str) -> str:
    size = path.stat().st_size
    action = rng.choice(["flip", "truncate", "delete"])
    if action == "flip":
        lo = size - INDEX_BYTES if region == "index" else 0
        hi = size - INDEX_BYTES if region == "data" else size
        flip(path, rng.randrange(lo, hi), rng.randrange(1, 256))
    elif action == "truncate":
        with open(path, "r+b") as fh:
            fh.truncate(rng.randrange(0, size))
    else:
        path.unlink()
    return action


def _shard_of(key: str) -> int | None:
    """The shard a data file or marker belongs to (None for metadata)."""
    if "/c/" in key:
        return int(key.split("/")[2])
    if key.startswith(MARKER_DIR + "/0"):
        return int(Path(key).stem)
    return None


def test_fuzz_every_corruption_is_detected_named_and_repaired(reference: Path, tmp_path: Path) -> None:
    """Random byte flips, truncations and deletions of shard data, shard indices, chunk files,
    markers and metadata files (1 to 3 at a time, seeded): verify detects 100 % and names each
    damaged shard and metadata file; repair restores the clean generation byte for byte.

    A deleted marker is not corruption but an unfinished shard: it must be reported missing."""
    rng = random.Random(20251)
    spec, clean = noise_spec(), files_of(reference)
    trials, missed, misnamed, unrepaired = 40, [], [], []
    for trial in range(trials):
        store = tmp_path / f"t{trial}" / "noise" / reference.name
        shutil.copytree(reference, store)
        picked = rng.sample(_targets(store), 1 if rng.random() < 0.6 else rng.randint(2, 3))
        damage = [(key, _mutate(rng, store / key, region)) for key, region in picked if (store / key).exists()]
        report = verify_path(store)
        deleted_markers = {_shard_of(k) for k, action in damage if k.startswith(MARKER_DIR + "/0") and action == "delete"}
        expected_shards = {_shard_of(k) for k, _ in damage if _shard_of(k) is not None} - deleted_markers
        expected_meta = {k for k, _ in damage if _shard_of(k) is None}
        if report.ok and not (deleted_markers and deleted_markers <= set(report.missing)):
            missed.append(damage)
            continue
        record_lost = RECORD in expected_meta
        named = expected_shards <= set(report.bad_shards) and deleted_markers <= set(report.missing)
        named = named and (expected_meta <= set(report.bad_metadata) or (record_lost and RECORD in report.bad_metadata))
        if not named:
            misnamed.append((damage, report.problems(), report.missing))
        repair(spec, store.parents[1], progress=False)  # raises unless the result verifies
        if files_of(store) != clean:
            unrepaired.append(damage)
    assert missed == [], f"{len(missed)} of {trials} corruptions not detected: {missed}"
    assert misnamed == [], misnamed
    assert unrepaired == [], unrepaired


def test_marker_edits_that_json_forgives_are_detected(store: Path) -> None:
    """Whitespace in a marker, or a renamed key, leaves valid JSON: still a damaged shard."""
    marker = store / MARKER_DIR / "0000002.json"
    text = marker.read_text()
    marker.write_text(text.replace(", ", ",\t", 1))
    assert set(verify_path(store).bad_shards) == {2}
    marker.write_text(text.replace('"files"', '"filez"'))
    assert set(verify_path(store).bad_shards) == {2}


# ---- training: require_complete verifies once, caches by marker --------------------------------
def test_require_complete_names_dataset_shards_and_repair(store: Path) -> None:
    flip(store / "x/c/1/0/0", 40)
    (store / "x/c/3/0/0").unlink()
    with pytest.raises(DataIntegrityError) as err:
        require_complete(noise_spec(), store.parents[1], progress=False)
    message = str(err.value)
    assert str(store) in message
    assert "2 corrupt shard(s): 1, 3" in message
    assert f"physml repair {store}" in message


def test_require_complete_verifies_each_shard_once(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import physml.store as store_module

    hashed: list[str] = []  # data files read to hash them (metadata files are checked every time: tiny)
    real = store_module._sha256_file

    def counting(path: Path) -> str:
        if "/c/" in path.as_posix():
            hashed.append(path.relative_to(store).as_posix())
        return real(path)

    monkeypatch.setattr(store_module, "_sha256_file", counting)
    spec, data_dir = noise_spec(), store.parents[1]
    require_complete(spec, data_dir, progress=False)
    assert sorted(hashed) == sorted(["v/c/1", "v/c/2", "v/c/3", "v/c/4", *(f"x/c/{k}/0/0" for k in range(5))])
    assert len(list((store / VERIFIED_DIR).glob("*.json"))) == 5
    hashed.clear()
    require_complete(spec, data_dir, progress=False)
    assert hashed == [], "a re-run read verified shards again"
    # a file that changed since (its size, inode or mtime) is verified again, and fails
    target = store / "x/c/2/0/0"
    before = target.stat()
    flip(target, 40)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))  # a coarse clock may not tick
    with pytest.raises(DataIntegrityError, match="shard 2"):
        require_complete(spec, data_dir, progress=False)
    assert sorted(hashed) == ["v/c/2", "x/c/2/0/0"]  # shard 2 only (its first file already differs)
    # a repair rewrites shard 2 and its marker and verifies it; the cache then holds again
    repair(spec, data_dir, progress=False)
    hashed.clear()
    require_complete(spec, data_dir, progress=False)
    assert hashed == []
    (store / VERIFIED_DIR / "0000002.json").unlink()
    require_complete(spec, data_dir, progress=False)
    assert sorted(hashed) == ["v/c/2", "x/c/2/0/0"]


def test_rot_that_keeps_inode_size_and_mtime_passes_the_cache_but_not_verify_or_repair(store: Path) -> None:
    """The documented limit of the training cache: bytes that change under an unchanged stat
    (bit rot) are found only by a full check, which ``inspect --verify`` and repair always do."""
    spec, data_dir = noise_spec(), store.parents[1]
    require_complete(spec, data_dir, progress=False)
    target = store / "x/c/1/0/0"
    before = target.stat()
    flip(target, 40)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert target.stat().st_ino == before.st_ino
    require_complete(spec, data_dir, progress=False)  # cached: not read again
    assert set(verify_path(store).bad_shards) == {1}
    assert repair(spec, data_dir, progress=False).shards_rewritten == [1]
    assert verify_path(store).ok


def test_require_complete_reports_missing_shards_as_incomplete(tmp_path: Path) -> None:
    spec = noise_spec()
    store = ShardedStore(spec, tmp_path)
    store.ensure_created()
    store.write_shard(0)
    with pytest.raises(ConfigError, match="incomplete"):
        require_complete(spec, tmp_path, progress=False)


def test_training_datamodule_refuses_corrupt_data(tmp_path: Path) -> None:
    """The datamodule's setup (what train.py runs) stops on a corrupt shard, naming it."""
    from physml.build import build_datamodule
    from tests.conftest import TINY, compose_config

    cfg = compose_config(["system=percolation", *TINY], tmp_path)
    datamodule = build_datamodule(cfg)
    datamodule.progress = False
    datamodule.prepare_data()
    path = datamodule.specs["train"].path(cfg.paths.data_dir)
    shard_file = sorted((path / "x" / "c").rglob("*"))[-1]
    with open(shard_file, "r+b") as fh:
        fh.truncate(10)
    with pytest.raises(DataIntegrityError, match=f"{path}.*corrupt"):
        datamodule.setup("fit")


# ---- physml simulate: refuse, then repair=true ---------------------------------------------------
def test_simulate_refuses_corrupt_data_and_repairs_it(tmp_path: Path) -> None:
    from physml.simulate import simulate
    from tests.conftest import compose_config

    overrides = ["system=percolation", "debug=tiny", "split=train", "system.L=8"]
    cfg = compose_config(overrides, tmp_path, config_name="simulate")
    (path,) = simulate(cfg)
    clean = files_of(path)
    victim = sorted(k for k in clean if k.startswith("x/c/"))[1]
    flip(path / victim, 30)
    with pytest.raises(DataIntegrityError, match="corrupt shard"):
        simulate(cfg)
    fixed = compose_config([*overrides, "repair=true"], tmp_path, config_name="simulate")
    simulate(fixed)
    assert files_of(path) == clean


def test_percolation_store_repairs_itself_from_its_own_attrs(tmp_path: Path) -> None:
    """A real simulator is rebuilt from the stored class path and parameters (physml repair)."""
    from simulators.percolation import PercolationSimulator

    spec = DatasetSpec(PercolationSimulator.from_config(L=8, p_values=[0.3, 0.6]), 4, "train", 3, 2)
    path = generate(spec, tmp_path / "data", progress=False)
    clean = files_of(path)
    (path / "x/c/1/0/0").unlink()
    flip(path / "zarr.json", 50, 0x01)
    rebuilt, data_dir = spec_from_store(path)
    assert rebuilt.fingerprint == spec.fingerprint and data_dir == tmp_path / "data"
    result = repair(rebuilt, data_dir, progress=False)
    assert result.shards_rewritten == [1] and result.metadata_rewritten == ["zarr.json"]
    assert files_of(path) == clean


# ---- stores written before the integrity records ---------------------------------------------------
def _make_legacy(store: Path) -> None:
    """Strip what this change added: file records, the metadata record, the class path."""
    for marker in (store / MARKER_DIR).glob("0*.json"):
        data = json.loads(marker.read_text())
        del data["files"]
        marker.write_text(json.dumps(data))
    (store / RECORD).unlink()
    meta = json.loads((store / "zarr.json").read_text())
    del meta["attributes"]["simulator_class"], meta["attributes"]["integrity"]
    (store / "zarr.json").write_text(json.dumps(meta, indent=2))


@pytest.mark.parametrize("kind", ["zstd byte flip", "truncated shard file", "deleted shard file", "deleted chunk file"])
def test_old_stores_verify_by_data_checksum(store: Path, reference: Path, kind: str) -> None:
    _make_legacy(store)
    clean = verify_path(store)
    assert clean.ok and clean.legacy
    _damage(store, kind)
    report = verify_path(store)
    assert set(report.bad_shards) == {3}
    with pytest.raises(DataIntegrityError, match="repair=true"):
        spec_from_store(store)  # no class path: repair goes through physml simulate
    repair(noise_spec(), store.parents[1], progress=False)
    assert verify_path(store).ok
    assert (store / "x/c/3/0/0").read_bytes() == (reference / "x/c/3/0/0").read_bytes()


def test_old_store_with_damaged_metadata_does_not_crash(store: Path) -> None:
    _make_legacy(store)
    (store / "x/zarr.json").write_text("{not json")
    report = verify_path(store)
    assert "x/zarr.json" in report.bad_metadata and len(report.unchecked) == 5
    repair(noise_spec(), store.parents[1], progress=False)
    assert verify_path(store).ok


def test_cif_dir_store_is_not_reused_or_repaired_after_the_cifs_change(tmp_path: Path) -> None:
    """A LACBED ``source=cif_dir`` dataset hashes the CIF bytes into its identity: after an edit
    the same config makes a new store (never fills the old one with another crystal set), and
    the old store refuses a repair that could no longer reproduce it."""
    from simulators.lacbed import LACBEDSimulator
    from simulators.lacbed.crystals import builtin_crystal

    cifs = tmp_path / "cifs"
    cifs.mkdir()
    (cifs / "si.cif").write_text(builtin_crystal("Si").cif)
    before = DatasetSpec(LACBEDSimulator.from_config(source="cif_dir", cif_dir=str(cifs), n=8), 2, "train", 0, 1)
    ShardedStore(before, tmp_path / "data").ensure_created()
    old = before.path(tmp_path / "data")
    assert spec_from_store(old)[0].fingerprint == before.fingerprint
    (cifs / "si.cif").write_text(builtin_crystal("Si").cif.replace("5.4309", "5.4310"))
    after = DatasetSpec(LACBEDSimulator.from_config(source="cif_dir", cif_dir=str(cifs), n=8), 2, "train", 0, 1)
    assert after.path(tmp_path / "data") != old
    with pytest.raises(DataIntegrityError, match="cannot be reproduced"):
        spec_from_store(old)
