"""Train, test and analyse one configuration: ``python train.py experiment=quickstart``.

The story: validate the composed config → seed → build datamodule, model, analysis,
callbacks, loggers and trainer → make sure the datasets exist → fit (or resume) → test
with the best checkpoint → run the system's analysis → save and log figures and metrics
→ close loggers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
from omegaconf import DictConfig

from physml.analysis.common import AnalysisInputs
from physml.build import (
    build_analysis,
    build_callbacks,
    build_datamodule,
    build_loggers,
    build_model,
    build_trainer,
    check_model_io,
)
from physml.config import check_data_dir, register_resolvers, validate
from physml.errors import ConfigError, DataIntegrityError
from physml.launch import check_launch, data_lock, global_rank_from_env, pin_job
from physml.provenance import check_resume, record_attempt
from physml.requeue import continuation
from physml.runstore import RunStore
from physml.search import objective_value
from physml.sweep import end_with_error
from physml.tracking import close_loggers, identify_loggers, log_figures, log_run_info, tracker_links

register_resolvers()


def resolve_ckpt(ckpt_path: str | None, store: RunStore) -> str | None:
    """``last`` means this run directory's checkpoints/last.ckpt (to resume an interrupted run)."""
    if ckpt_path in (None, "", "null"):
        return None
    if ckpt_path == "last":
        if not store.last_checkpoint.exists():
            raise ConfigError(
                field="ckpt_path",
                value="last",
                allowed=f"'last' only when hydra.run.dir points at an earlier run of this config "
                f"({store.last_checkpoint} does not exist)",
            )
        return str(store.last_checkpoint)
    if not Path(ckpt_path).exists():
        raise ConfigError(field="ckpt_path", value=ckpt_path, allowed="'last', null or an existing file")
    return ckpt_path


def check_run_dir(cfg: DictConfig, store: RunStore) -> str | None:
    """The checkpoint to start from; a resume must continue the same experiment, a fresh fit a fresh dir.

    A requeued or relaunched job of an interrupted run continues it (physml.requeue).
    """
    resumed = continuation(store.path)
    if cfg.get("ckpt_path") == "last" or resumed is not None:
        check_resume(store.path, cfg)
    elif store.holds_results():
        raise ConfigError(
            field="hydra.run.dir",
            value=str(store.path),
            allowed="a new run directory; this one already holds a run's results "
            "(resume it with ckpt_path=last, or leave hydra.run.dir unset)",
        )
    if resumed is not None and cfg.get("ckpt_path") in (None, "", "null", "last"):
        print(f"physml: continuing {store.path}: {resumed.reason}")
        return str(resumed.checkpoint) if resumed.checkpoint else None
    return resolve_ckpt(cfg.get("ckpt_path"), store)


def train(cfg: DictConfig) -> dict[str, float]:
    """Run one job and return its headline metrics."""
    validate(cfg)
    check_launch(cfg)
    check_data_dir(cfg.paths.data_dir)
    pl.seed_everything(cfg.seed, workers=True)
    datamodule = build_datamodule(cfg)
    model = build_model(cfg)
    check_model_io(cfg, model)
    analysis = build_analysis(cfg)
    store = RunStore(cfg.paths.output_dir)
    ckpt_path = check_run_dir(cfg, store)
    if cfg.get("dry_run", False):  # everything is checked and built; nothing is generated or trained
        return {}
    record_attempt(store.path)
    pinned = pin_job(cfg)
    if pinned:
        print(f"physml: job pinned to {pinned}")
    loggers = build_loggers(identify_loggers(cfg, store.path))
    trainer = build_trainer(cfg, build_callbacks(cfg, store), loggers)
    try:
        if global_rank_from_env() == 0:  # other DDP ranks get the data via trainer's barrier
            with data_lock(cfg.paths.data_dir):  # concurrent sweep jobs share their datasets
                datamodule.prepare_data()
        log_run_info(loggers, cfg, datamodule.fingerprints())
        fit_speed: dict[str, float] = {}
        if cfg.stage == "fit":
            trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
            fit_speed = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("speed/train")}
            best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
            trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
        else:
            trainer.test(model, datamodule=datamodule, ckpt_path=ckpt_path)
        metrics = {**fit_speed, **{k: float(v) for k, v in trainer.callback_metrics.items()}}
        if trainer.global_rank == 0:
            metrics.update(analyse(analysis, store, loggers))
            store.write_summary(metrics, datamodule.fingerprints(), type(model).metric_directions,
                                tracker_links(loggers, store.path))
            print(f"\nrun directory: {store.path}")
            for key in sorted(metrics):
                print(f"  {key:40s} {metrics[key]:.6g}")
        return metrics
    finally:
        close_loggers(loggers)


def analyse(analysis: Any, store: RunStore, loggers: list[Any]) -> dict[str, float]:
    """Run the system's analysis on the saved predictions; save and log its figures."""
    if not store.predictions_path.exists():
        return {}
    result = analysis(AnalysisInputs(store.predictions(), store.history()))
    figures = store.save_analysis(result)
    log_figures(loggers, figures)
    for logger in loggers:
        logger.log_metrics(result.metrics)
    for note in result.notes:
        print(f"physml: note: {note}")
    return result.metrics


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    run_dir = cfg.paths.get("output_dir")
    try:
        metrics = train(cfg)
    except ConfigError as exc:
        end_with_error("configuration error", exc, 2, run_dir)
        return None
    except DataIntegrityError as exc:
        end_with_error("data error", exc, 3, run_dir)
        return None
    objective = cfg.get("optimized_metric")
    return objective_value(str(objective), metrics, RunStore(run_dir)) if objective else None


if __name__ == "__main__":
    main()
