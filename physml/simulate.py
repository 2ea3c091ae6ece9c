"""`physml simulate`: fill a dataset's shards without training (locally or as sweep jobs)."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from physml.build import build_datamodule
from physml.config import register_resolvers, validate
from physml.errors import ConfigError
from physml.launch import pin_job
from physml.store import generate

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
    metadata once, whoever comes first), and shards already complete are skipped.
    """
    validate(cfg)
    pin_job(cfg)  # with hardware=local_parallel: this job's share of the cores
    datamodule = build_datamodule(cfg)
    names = list(datamodule.specs) if cfg.split == "all" else [cfg.split]
    for name in names:
        if name not in datamodule.specs:
            raise ConfigError(field="split", value=name, allowed=f"'all' or one of {sorted(datamodule.specs)}")
    paths = []
    for name in names:
        spec = datamodule.specs[name]
        shards = parse_shards(cfg.shards, spec.num_shards)
        path = generate(spec, cfg.paths.data_dir, shards=shards, workers=int(cfg.workers))
        print(f"{name}: {path} (shards {shards.start}..{shards.stop - 1} of {spec.num_shards})")
        paths.append(path)
    return paths


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="simulate")
def hydra_main(cfg: DictConfig) -> None:
    try:
        simulate(cfg)
    except ConfigError as exc:
        print(f"physml: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)


register_resolvers()
