"""Experiment tracking helpers shared by every logger: run info, figures, clean shutdown."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf


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
            wandb.finish()
