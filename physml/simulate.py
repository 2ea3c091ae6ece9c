"""`physml simulate`: fill a dataset's shards without training (locally or as sweep jobs)."""

from __future__ import annotations

import shlex
from pathlib import Path

import hydra
from omegaconf import DictConfig

from physml.build import build_datamodule
from physml.config import register_resolvers, validate
from physml.errors import ConfigError, DataIntegrityError, check_bool
from physml.launch import pin_job
from physml.store import generate, repair, require_complete
from physml.sweep import end_with_error

CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")


def parse_shards(text: str | None, num_shards: int) -> range:
    """``None`` -> all shards; ``"a:b"`` -> range(a, b) clipped to the dataset; ``"k"`` -> one shard."""
    if text in (None, "", "all"):
        return range(num_shards)
    parts = str(text).split(":")
    try:
        if len(parts) == 1:
            start, stop = int(parts[0]), int(parts[0]) + 1
        elif len(parts) == 2:
            start, stop = int(parts[0] or 0), int(parts[1] or num_shards)
        else:
            raise ValueError
    except ValueError:
        raise ConfigError(f"shards={text!r} is invalid: allowed null, 'k' or 'a:b' with integers") from None
    if not 0 <= start < stop or start >= num_shards:
        raise ConfigError(f"shards={text!r} is invalid: allowed ranges inside 0:{num_shards}")
    return range(start, min(stop, num_shards))


def simulate(cfg: DictConfig) -> list[Path]:
    """Fill the shards ``cfg.shards`` of ``cfg.split``; one job of ``physml simulate -m shards=a:b,...``.

    Jobs of a sweep write disjoint shard ranges of the same stores (the store creates its
    metadata once, whoever comes first), and shards already complete are skipped. Then
    the job's shards are verified against their markers (cached: a shard verified before
    is not read again); a corrupt one stops the job with a DataIntegrityError unless
    ``repair=true``, which rewrites exactly the corrupt shards and damaged metadata.
    """
    validate(cfg)
    fix = check_bool(cfg.get("repair", False), "repair")
    pin_job(cfg)  # with hardware=local_parallel: this job's share of the cores
    datamodule = build_datamodule(cfg)
    if cfg.split != "all" and cfg.split not in datamodule.specs:
        datamodule.resolve_streams()  # streams that follow from the training pool (e.g. fixed p_c(L))
    if cfg.split != "all" and cfg.split not in datamodule.specs:
        raise ConfigError(field="split", value=cfg.split, allowed=f"'all' or one of {sorted(datamodule.specs)}")
    paths = []
    done: set[str] = set()
    while todo := [n for n in datamodule.specs if n not in done and cfg.split in ("all", n)]:
        name = todo[0]
        done.add(name)
        spec = datamodule.specs[name]
        shards = parse_shards(cfg.shards, spec.num_shards)
        where = f"shards {shards.start}..{shards.stop - 1} of {spec.num_shards}"
        if fix:
            result = repair(spec, cfg.paths.data_dir, shards=shards, workers=int(cfg.workers))
            print(f"{name}: {result.summary()} ({where})")
            paths.append(result.path)
            continue
        path = generate(spec, cfg.paths.data_dir, shards=shards, workers=int(cfg.workers))
        require_complete(spec, cfg.paths.data_dir, shards=shards)
        print(f"{name}: {path} ({where}, verified)")
        paths.append(path)
        if name == "train":
            try:
                datamodule.resolve_streams()
            except ConfigError:
                pass  # the pool is not complete yet (other jobs fill other shards)
    return paths


def _repair_hint() -> str:
    """This very command with ``repair=true``: the exact repair for what it found."""
    try:
        from hydra.core.hydra_config import HydraConfig

        overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("repair=")]
    except Exception:  # noqa: BLE001 - called outside a Hydra run
        return "physml simulate <your overrides> repair=true"
    return " ".join(["physml simulate", *map(shlex.quote, overrides), "repair=true"])


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="simulate")
def hydra_main(cfg: DictConfig) -> None:
    try:
        simulate(cfg)
    except ConfigError as exc:
        end_with_error("configuration error", exc, 2, cfg.paths.get("output_dir"))
    except DataIntegrityError as exc:
        message = f"{exc}\nor, with this command's settings: {_repair_hint()}"
        end_with_error("data error", DataIntegrityError(message), 3, cfg.paths.get("output_dir"))


register_resolvers()
