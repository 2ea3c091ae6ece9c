"""Run provenance: every attempt's config is kept, the run's own is never overwritten.

Hydra writes each attempt's composed config into its own folder,
``<run>/.hydra/attempts/<time>_<id>/`` (``hydra.output_subdir``), so a re-run in an
existing run directory adds a folder and overwrites nothing. Once an attempt has passed
validation, :func:`record_attempt` makes its config the run's config
(``<run>/.hydra/config.yaml``, what reports read) if the run has none yet; a rejected
attempt gets a ``rejected.txt`` with its error and changes nothing else.

Resuming (``ckpt_path=last``) must continue the same experiment: :func:`check_resume`
compares the new config with the run's and refuses any change outside
:data:`SAFE_ON_RESUME`, listing the fields that differ.
"""

from __future__ import annotations

import fnmatch
import shutil
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from physml.errors import ConfigError

#: fields that may change when a run is resumed: how long and where it runs, how it is
#: logged and shown; nothing that changes what is learnt from which data
SAFE_ON_RESUME = (
    "trainer.max_epochs",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
    "trainer.log_every_n_steps",
    "trainer.accelerator",
    "trainer.devices",
    "trainer.strategy",
    "trainer.num_nodes",
    "trainer.precision",
    "trainer.default_root_dir",
    "hardware.*",
    "logger",
    "logger.*",
    "paths.*",
    "data.num_workers",
    "data.generation_workers",
    "system.datamodule.num_workers",
    "system.datamodule.generation_workers",
    "system.datamodule.data_dir",
    "callbacks.model_checkpoint.dirpath",
    "callbacks.requeue",
    "callbacks.requeue.*",
    "callbacks.throughput",
    "callbacks.throughput.*",
    "ckpt_path",
    "stage",
    "dry_run",
    "optimized_metric",
)


def _hydra_output_subdir() -> Path | None:
    """This attempt's folder (``<run>/.hydra/attempts/...``), or None outside a Hydra app."""
    try:
        from hydra.core.hydra_config import HydraConfig

        hc = HydraConfig.get()
    except (ImportError, ValueError):
        return None
    if hc.output_subdir is None:
        return None
    return Path(hc.runtime.output_dir) / hc.output_subdir


def record_attempt(run_dir: str | Path) -> None:
    """After validation: make this attempt's config the run's config if the run has none."""
    attempt = _hydra_output_subdir()
    hydra_dir = Path(run_dir) / ".hydra"
    if attempt is None or not (attempt / "config.yaml").exists() or attempt == hydra_dir:
        return
    (attempt / "accepted.txt").write_text("validated\n")
    if (hydra_dir / "config.yaml").exists():
        return
    for name in ("config.yaml", "overrides.yaml", "hydra.yaml"):
        if (attempt / name).exists():
            tmp = hydra_dir / f".{name}.tmp"
            shutil.copyfile(attempt / name, tmp)
            tmp.replace(hydra_dir / name)


def record_rejection(message: str) -> None:
    """Keep a rejected attempt's error next to its config (the run's own config is untouched)."""
    attempt = _hydra_output_subdir()
    if attempt is not None and attempt.exists():
        (attempt / "rejected.txt").write_text(message.rstrip() + "\n")


def _leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_leaves(value, f"{prefix}.{key}" if prefix else str(key)))
        return out or {prefix: {}}
    return {prefix: node}


def _safe(key: str) -> bool:
    return any(key == pattern or fnmatch.fnmatch(key, pattern) for pattern in SAFE_ON_RESUME)


def config_diff(old: DictConfig, new: DictConfig) -> list[tuple[str, Any, Any]]:
    """(field, old, new) for every leaf that differs, interpolations compared as written."""
    a = _leaves(OmegaConf.to_container(old, resolve=False))
    b = _leaves(OmegaConf.to_container(new, resolve=False))
    missing = object()
    rows = []
    for key in sorted(set(a) | set(b)):
        if key.startswith("hydra.") or key == "hydra":
            continue
        va, vb = a.get(key, missing), b.get(key, missing)
        if va != vb:
            rows.append((key, "(absent)" if va is missing else va, "(absent)" if vb is missing else vb))
    return rows


def check_resume(run_dir: str | Path, cfg: DictConfig) -> None:
    """Refuse to resume a run with a config that changes more than SAFE_ON_RESUME allows."""
    path = Path(run_dir) / ".hydra" / "config.yaml"
    if not path.exists():
        return
    changed = [row for row in config_diff(OmegaConf.load(path), cfg) if not _safe(row[0])]
    if changed:
        diff = "; ".join(f"{key}: {old!r} -> {new!r}" for key, old, new in changed[:12])
        more = f" (and {len(changed) - 12} more)" if len(changed) > 12 else ""
        raise ConfigError(
            f"ckpt_path=last cannot resume {run_dir} with a different configuration: {diff}{more}. "
            "Allowed to change on resume: trainer.max_epochs, loggers, hardware, paths and display settings "
            "(physml.provenance.SAFE_ON_RESUME); start a new run for anything else"
        )
