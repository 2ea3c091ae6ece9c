"""Experiment tracking shared by every logger: who a run is, what it logs, where to find it, clean shutdown.

A physicist with thousands of jobs finds them in a tracker by what was varied, so every job gets:

- a **name** from its overrides (``model.lr=0.003,seed=1``; where and how it ran, such as
  ``paths.*`` or ``hardware``, is left out), or ``task_name`` when it has none;
- a **group** from its sweep (``train/multirun_<time>_<id>``; none for a single run), so
  the jobs of one sweep or Optuna study sit together and are never merged;
- **tags** from its system and model (``system:percolation``, ``model:resnet18``);
- one **wandb run id** for the life of its run directory (``<run>/wandb_run_id``), so a
  requeued or resumed job continues the same wandb run (``resume: allow``).

TensorBoard gets the same name: ``<run>/tensorboard/<name>/version_N``, one version per attempt.
:func:`identify_loggers` fills these into the logger configs (only where a field is null, so
a name set by hand wins); :func:`tracker_links` tells ``summary.json`` (and so
``physml report``) where each tracker keeps the run.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import os
import re
import sys
import uuid
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from physml.sweep import job_overrides

#: overrides that say where or how a job ran, not what it learnt: not part of its name
NOT_IN_NAME = (
    "hydra.*",
    "paths.*",
    "hardware",
    "hardware.*",
    "logger",
    "logger.*",
    "ckpt_path",
    "stage",
    "dry_run",
    "optimized_metric",
    "trainer.enable_progress_bar",
    "data.num_workers",
    "data.generation_workers",
)
WANDB_ID_FILE = "wandb_run_id"
#: longest run name used as a directory (TensorBoard); longer ones keep a hash of the rest
MAX_DIR_NAME = 120


def run_name(overrides: list[str], default: str) -> str:
    """``key=value,...`` of the overrides that change what is learnt, in the order given."""
    kept = []
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if not any(key == p or fnmatch.fnmatch(key, p) for p in NOT_IN_NAME):
            kept.append(override.lstrip("+"))
    return ",".join(kept) or default


def _multirun_dir() -> str | None:
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
    except (ImportError, ValueError):
        return None
    return str(hc.sweep.dir) if hc.mode == RunMode.MULTIRUN else None


def sweep_group(cfg: DictConfig, sweep_dir: str | None = None) -> str | None:
    """``<task_name>/<sweep dir name>`` for a job of a sweep; None for a single run."""
    sweep_dir = sweep_dir if sweep_dir is not None else _multirun_dir()
    if not sweep_dir:
        return None
    return f"{cfg.get('task_name', 'train')}/{Path(sweep_dir).name}"


def run_tags(cfg: DictConfig) -> list[str]:
    """``system:<name>`` and ``model:<name>`` (what a tracker filters by)."""
    tags = []
    for group in ("system", "model"):
        name = OmegaConf.select(cfg, f"{group}.name", default=None)
        if name:
            tags.append(f"{group}:{name}")
    return tags


def wandb_run_id(run_dir: str | Path) -> str:
    """The wandb run id of this run directory: made once, kept in ``<run>/wandb_run_id``.

    Every attempt of the run (resume, requeue) and every DDP rank reads the same id: the
    first writer links a complete file into place, so no reader sees a half-written one.
    """
    path = Path(run_dir) / WANDB_ID_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{WANDB_ID_FILE}.{os.getpid()}.tmp")
        tmp.write_text(uuid.uuid4().hex[:16] + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def _dir_name(name: str) -> str:
    """A run name usable as one directory name."""
    safe = re.sub(r"[/\\\x00]", "_", name)
    if len(safe) <= MAX_DIR_NAME:
        return safe
    digest = hashlib.sha1(safe.encode()).hexdigest()[:8]
    return f"{safe[:MAX_DIR_NAME - 9]}~{digest}"


def identify_loggers(cfg: DictConfig, run_dir: str | Path, overrides: list[str] | None = None,
                     sweep_dir: str | None = None) -> DictConfig:
    """A copy of ``cfg`` whose logger configs carry this job's name, group, tags and wandb id.

    Only null fields are filled: a name, group or id given on the command line is kept.
    ``overrides``/``sweep_dir`` default to the running Hydra job's.
    """
    cfg = copy.deepcopy(cfg)
    loggers = cfg.get("logger") or {}
    name = run_name(job_overrides() if overrides is None else overrides, str(cfg.get("task_name", "train")))
    with open_dict(cfg):
        for conf in loggers.values():
            if conf is None:
                continue
            target = str(conf.get("_target_", ""))
            if target.endswith("WandbLogger"):
                fills = {"name": name, "group": sweep_group(cfg, sweep_dir), "tags": run_tags(cfg),
                         "id": wandb_run_id(run_dir), "resume": "allow"}
            elif target.endswith("TensorBoardLogger"):
                fills = {"name": _dir_name(name)}
            else:
                continue
            for key, value in fills.items():
                if conf.get(key) is None and value is not None:
                    conf[key] = value
    return cfg


def tracker_links(loggers: list[Any], run_dir: str | Path) -> dict[str, str]:
    """Where each tracker keeps this run: a URL (online wandb) or a path relative to the run dir.

    Keys: ``wandb`` (URL, or the offline run's folder to ``wandb sync``), ``wandb_id``,
    ``tensorboard`` (its version folder), ``csv`` (its metrics.csv). Call on rank 0 before
    the loggers are closed.
    """
    run = Path(run_dir).resolve()

    def local(path: str | Path) -> str:
        target = Path(path).resolve()
        try:
            return str(target.relative_to(run))
        except ValueError:
            return str(target)

    links: dict[str, str] = {}
    for logger in loggers:
        kind = type(logger).__name__
        try:
            if kind == "WandbLogger":
                experiment = logger.experiment
                links["wandb_id"] = str(experiment.id)
                url = None if getattr(experiment, "offline", False) else experiment.url
                links["wandb"] = url or local(Path(experiment.dir).parent)
            elif kind == "TensorBoardLogger":
                links["tensorboard"] = local(logger.log_dir)
            elif kind == "CSVLogger":
                links["csv"] = local(Path(logger.log_dir) / "metrics.csv")
        except Exception:  # noqa: BLE001 - a tracker that cannot say where it is must not fail the run
            continue
    return links


def mark_preempting() -> None:
    """Tell wandb the run is being preempted (it shows so, and a resume continues it)."""
    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            try:
                wandb.run.mark_preempting()
            except Exception:  # noqa: BLE001 - leaving must not fail on the tracker
                pass


def log_run_info(loggers: list[Any], cfg: DictConfig, fingerprints: dict[str, str]) -> None:
    """Hyperparameters (the whole resolved config) and the dataset fingerprints."""
    params = OmegaConf.to_container(cfg, resolve=True)
    params["datasets"] = fingerprints
    for logger in loggers:
        logger.log_hyperparams(params)


def log_figures(loggers: list[Any], figures: dict[str, Path]) -> None:
    """Send PNG figures to every logger that can show images (TensorBoard, wandb)."""
    if not figures:
        return
    import matplotlib.image as mpimg

    for logger in loggers:
        kind = type(logger).__name__
        for name, path in figures.items():
            if kind == "TensorBoardLogger":
                logger.experiment.add_image(f"figures/{name}", mpimg.imread(path)[..., :3], dataformats="HWC")
            elif kind == "WandbLogger":
                logger.log_image(key=f"figures/{name}", images=[str(path)])


def close_loggers(loggers: list[Any]) -> None:
    """Finish every logger, and wandb's run, so sweep jobs never merge into one run."""
    for logger in loggers:
        try:
            logger.finalize("success")
        except Exception:  # noqa: BLE001 - closing must never mask the real error
            pass
    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            try:
                wandb.finish()
            except Exception as exc:  # noqa: BLE001 - e.g. its service already stopped by SLURM's SIGTERM
                print(f"physml: wandb could not finish cleanly ({type(exc).__name__}: {exc}); "
                      "its offline files so far are kept", file=sys.stderr)


def tracker_html(run_dir: str | Path, trackers: dict[str, str], base: str | Path) -> str:
    """Links to a run's tracker entries for an HTML page in ``base`` (``physml report``).

    A URL (online wandb) is linked as it is; a local entry (offline wandb run folder, TensorBoard
    version, metrics.csv) relative to ``base``, so the page and its runs can move together.
    """
    import html
    import os

    links = []
    for key in ("wandb", "tensorboard", "csv"):
        where = trackers.get(key)
        if not where:
            continue
        href = where if where.startswith(("http://", "https://")) else os.path.relpath(Path(run_dir) / where, base)
        title = where + (f" (run id {trackers['wandb_id']})" if key == "wandb" and trackers.get("wandb_id") else "")
        links.append(f'<a href="{html.escape(href)}" title="{html.escape(title)}">{key}</a>')
    return " ".join(links) or "–"
