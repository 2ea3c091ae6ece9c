"""Shared helpers: compose the real Hydra config in a tmp dir (``debug=tiny`` shrinks any system)."""

from __future__ import annotations

import os
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from physml.config import register_resolvers

CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

#: the tiny sizes of conf/debug_size/tiny/<system>.yaml and one epoch of two batches
TINY = ["debug=tiny"]


def compose_config(overrides: list[str], tmp_path: Path, config_name: str = "train") -> DictConfig:
    """The real config, with data and outputs under ``tmp_path``."""
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides)
    with open_dict(cfg):
        cfg.paths.data_dir = str(tmp_path / "data")
        cfg.paths.output_dir = str(tmp_path / "run")
        cfg.paths.log_dir = str(tmp_path / "runs")
    return cfg
