"""Tracking: a job's name from its overrides, its group from its sweep, tags from system and model,
one wandb id per run directory, and report links to each run's tracker entries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import OmegaConf

from physml.tracking import (
    WANDB_ID_FILE,
    identify_loggers,
    run_name,
    run_tags,
    sweep_group,
    tracker_html,
    wandb_run_id,
)
from tests.conftest import TINY, compose_config

ROOT = Path(__file__).resolve().parents[1]


def test_run_name_keeps_what_was_varied_and_drops_where_it_ran() -> None:
    overrides = ["experiment=percolation_spanning", "model.optimizer.lr=0.003", "seed=1", "hardware=slurm",
                 "hydra.launcher.partition=gpu", "paths.root_dir=/scratch/x", "+trainer.gradient_clip_val=1",
                 "logger=many", "ckpt_path=last"]
    assert run_name(overrides, "train") == ("experiment=percolation_spanning,model.optimizer.lr=0.003,seed=1,"
                                            "trainer.gradient_clip_val=1")
    assert run_name(["hardware=cpu"], "train") == "train"


def test_group_from_the_sweep_tags_from_system_and_model(tmp_path: Path) -> None:
    cfg = compose_config(TINY, tmp_path)
    assert sweep_group(cfg, "/runs/train/multirun_2026-01-02_03-04-05_ab12cd3") == "train/multirun_2026-01-02_03-04-05_ab12cd3"
    assert sweep_group(cfg, None) is None  # a single run has no group
    assert run_tags(cfg) == ["system:percolation", "model:resnet18"]


def test_one_wandb_id_per_run_directory(tmp_path: Path) -> None:
    first = wandb_run_id(tmp_path)
    assert len(first) == 16 and (tmp_path / WANDB_ID_FILE).exists()
    assert wandb_run_id(tmp_path) == first  # every later attempt (resume, requeue) and every rank
    assert wandb_run_id(tmp_path / "other") != first


def test_identify_fills_null_fields_and_keeps_what_the_user_set(tmp_path: Path) -> None:
    cfg = compose_config([*TINY, "logger=many", "logger.wandb.group=mine"], tmp_path)
    done = identify_loggers(cfg, tmp_path / "run", overrides=["seed=3", "paths.root_dir=/x"],
                            sweep_dir=str(tmp_path / "multirun_x"))
    assert cfg.logger.wandb.name is None  # the caller's config is not touched
    wandb_init = instantiate(done.logger.wandb)._wandb_init  # wandb.init's arguments (nothing started)
    assert wandb_init["name"] == "seed=3" and wandb_init["group"] == "mine"
    assert list(wandb_init["tags"]) == ["system:percolation", "model:resnet18"]
    assert wandb_init["id"] == wandb_run_id(tmp_path / "run") and wandb_init["resume"] == "allow"
    tensorboard = instantiate(done.logger.tensorboard)
    assert Path(tensorboard.log_dir) == Path(cfg.paths.output_dir) / "tensorboard" / "seed=3" / "version_0"


def test_report_links_urls_as_they_are_and_local_entries_relative_to_the_page(tmp_path: Path) -> None:
    run = tmp_path / "sweep" / "3"
    cell = tracker_html(run, {"wandb": "https://wandb.ai/me/physml/runs/abc", "wandb_id": "abc",
                              "csv": "csv/version_1/metrics.csv"}, tmp_path / "sweep")
    assert cell == ('<a href="https://wandb.ai/me/physml/runs/abc" title="https://wandb.ai/me/physml/runs/abc '
                    '(run id abc)">wandb</a> <a href="3/csv/version_1/metrics.csv" '
                    'title="csv/version_1/metrics.csv">csv</a>')
    assert tracker_html(run, {}, tmp_path) == "–"


def test_a_sweep_is_grouped_named_and_linked_from_the_report(tmp_path: Path) -> None:
    """Two jobs of one sweep with every logger (wandb offline); then physml report on the sweep."""
    sweep = tmp_path / "sweep"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline", "WANDB_SILENT": "true",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    args = [sys.executable, str(ROOT / "train.py"), "-m", *TINY, "logger=many", "seed=0,1",
            f"paths.root_dir={tmp_path}", f"hydra.sweep.dir={sweep}"]
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    for job, seed in (("0", 0), ("1", 1)):
        run = sweep / job
        trackers = json.loads((run / "summary.json").read_text())["trackers"]
        wandb_id = (run / WANDB_ID_FILE).read_text().strip()
        assert trackers["wandb_id"] == wandb_id
        assert trackers["wandb"].startswith("wandb/offline-run-") and trackers["wandb"].endswith(f"-{wandb_id}")
        assert (run / trackers["wandb"]).is_dir()
        assert trackers["tensorboard"] == f"tensorboard/debug=tiny,seed={seed}/version_0"
        assert list((run / trackers["tensorboard"]).glob("events.out.tfevents.*"))
        assert trackers["csv"] == "csv/version_0/metrics.csv" and (run / trackers["csv"]).exists()
        assert f"seed={seed}" in OmegaConf.load(run / ".hydra" / "overrides.yaml")
    ids = {(sweep / j / WANDB_ID_FILE).read_text() for j in ("0", "1")}
    assert len(ids) == 2  # two jobs, two wandb runs: never merged

    report = subprocess.run([sys.executable, "-m", "physml.cli", "report", str(sweep)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert report.returncode == 0, report.stderr[-3000:]
    page = (sweep / "report.html").read_text()
    for job in ("0", "1"):
        trackers = json.loads((sweep / job / "summary.json").read_text())["trackers"]
        assert f'href="{job}/{trackers["wandb"]}"' in page
        assert f'href="{job}/{trackers["tensorboard"]}"' in page
