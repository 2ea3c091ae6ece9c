"""Train, test and analyse one configuration: ``python train.py experiment=quickstart``.

The story: validate the composed config → seed → build datamodule, model, callbacks,
loggers and trainer → make sure the datasets exist → fit (or resume) → test with the
best checkpoint → run the system's analysis → log figures and metrics → close loggers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig

from physml.config import register_resolvers, section, validate
from physml.errors import ConfigError
from physml.launch import check_launch, data_lock, global_rank_from_env, pin_job
from physml.predictions import PredictionWriter, load_predictions
from physml.tracking import close_loggers, log_figures, log_run_info

register_resolvers()


def resolve_ckpt(ckpt_path: str | None, out_dir: Path) -> str | None:
    """``last`` means this run directory's checkpoints/last.ckpt (to resume an interrupted run)."""
    if ckpt_path in (None, "", "null"):
        return None
    if ckpt_path == "last":
        path = out_dir / "checkpoints" / "last.ckpt"
        if not path.exists():
            raise ConfigError(
                f"ckpt_path=last is invalid: {path} does not exist; allowed when hydra.run.dir "
                "points at an earlier run of this config"
            )
        return str(path)
    if not Path(ckpt_path).exists():
        raise ConfigError(f"ckpt_path={ckpt_path!r} is invalid: allowed 'last', null or an existing file")
    return ckpt_path


def build(cfg: DictConfig, out_dir: Path) -> tuple[Any, pl.LightningModule, pl.Trainer, list[Any]]:
    """Instantiate everything at start-up so a bad config fails before any work is done."""
    with section("system"):
        datamodule = instantiate(cfg.system.datamodule)
    with section("model"):
        model = instantiate(cfg.model)
    callbacks: list[pl.Callback] = [
        pl.callbacks.ModelCheckpoint(
            dirpath=out_dir / "checkpoints",
            filename="epoch{epoch:03d}",
            auto_insert_metric_name=False,
            monitor="val/loss",
            mode="min",
            save_last=True,
            save_top_k=1,
        ),
        PredictionWriter(out_dir / "predictions.zarr", datamodule.test_stream_names),
    ]
    loggers = [instantiate(conf) for conf in (cfg.get("logger") or {}).values() if conf is not None]
    with section("trainer"):
        trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    return datamodule, model, trainer, loggers


def train(cfg: DictConfig) -> dict[str, float]:
    """Run one job and return its headline metrics."""
    validate(cfg)
    check_launch(cfg)
    pinned = pin_job(cfg)
    if pinned:
        print(f"physml: job pinned to {pinned}")
    out_dir = Path(cfg.paths.output_dir)
    ckpt_path = resolve_ckpt(cfg.get("ckpt_path"), out_dir)
    pl.seed_everything(cfg.seed, workers=True)
    datamodule, model, trainer, loggers = build(cfg, out_dir)
    try:
        if global_rank_from_env() == 0:  # other DDP ranks get the data via trainer's barrier
            with data_lock(cfg.paths.data_dir):  # concurrent sweep jobs share their datasets
                datamodule.prepare_data()
        log_run_info(loggers, cfg, datamodule.fingerprints())
        if cfg.stage == "fit":
            trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
            best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
            trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
        else:
            trainer.test(model, datamodule=datamodule, ckpt_path=ckpt_path)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        if trainer.global_rank == 0:
            metrics.update(analyse(cfg, out_dir, loggers))
            (out_dir / "summary.json").write_text(
                json.dumps({"metrics": metrics, "datasets": datamodule.fingerprints(), "run_dir": str(out_dir)}, indent=2)
            )
            print(f"\nrun directory: {out_dir}")
            for key in sorted(metrics):
                print(f"  {key:40s} {metrics[key]:.6g}")
        return metrics
    finally:
        close_loggers(loggers)


def analyse(cfg: DictConfig, out_dir: Path, loggers: list[Any]) -> dict[str, float]:
    """Run the system's analysis on the saved predictions and log its figures."""
    analysis_cfg = cfg.system.get("analysis")
    pred_path = out_dir / "predictions.zarr"
    if analysis_cfg is None or not pred_path.exists():
        return {}
    result = instantiate(analysis_cfg)(load_predictions(pred_path), out_dir / "figures")
    log_figures(loggers, result.figures)
    for logger in loggers:
        logger.log_metrics(result.metrics)
    return result.metrics


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    try:
        metrics = train(cfg)
    except ConfigError as exc:
        print(f"physml: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    objective = cfg.get("optimized_metric")
    return metrics.get(objective) if objective else None


if __name__ == "__main__":
    main()
