"""Shared fixtures: compose the real Hydra config, shrunk to tiny sizes in a tmp dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from physml.config import register_resolvers

CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

TINY_PERCOLATION = [
    "system.L=16",
    "system.p_values=[0.2,0.45,0.585,0.7,0.9]",
    "system.train_per_p=8",
    "system.test_per_p=4",
    "data.batch_size=16",
    "data.shard_units=4",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.enable_progress_bar=false",
]


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


@pytest.fixture
def tiny_percolation() -> list[str]:
    return list(TINY_PERCOLATION)
