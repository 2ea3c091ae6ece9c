"""Optuna searches: bad search spaces stop at start-up; a study in the sweep dir is shared and resumable."""

from __future__ import annotations

import csv
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from physml.config import register_resolvers
from physml.errors import ConfigError
from physml.runstore import RunStore
from physml.search import check_search, objective_value, parse_dimension
from tests.conftest import CONF_DIR

ROOT = Path(__file__).resolve().parents[1]
SEARCH = "experiment=percolation_spanning_search"


def compose_search(overrides: list[str]) -> DictConfig:
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=[SEARCH, *overrides], return_hydra_config=True)


def _check(cfg: DictConfig, arguments: list[str] | None = None) -> None:
    sweeper = cfg.hydra.sweeper
    check_search(cfg, dict(sweeper.params), arguments or [], sweeper.direction)


def test_the_example_search_is_valid_and_shares_one_study_in_the_sweep_dir() -> None:
    cfg = compose_search([])
    _check(cfg)
    assert cfg.hydra.sweeper._target_ == "hydra_plugins.physml_search.OptunaSearch"
    assert cfg.hydra.sweeper.storage == f"sqlite:///{cfg.hydra.sweep.dir}/optuna.db"
    assert cfg.optimized_metric == "val/loss_min" and cfg.hydra.sweeper.direction == "minimize"
    assert set(cfg.hydra.sweeper.params) == {"model.optimizer.lr", "data.batch_size", "model.net.width", "model.net.stem"}


@pytest.mark.parametrize(
    ("key", "value", "field", "message"),
    [
        ("params", {"model.optimizer.lr": "tag(log, interval(0, 1e-2))"},
         "hydra.sweeper.params.model.optimizer.lr", "0 < low < high"),
        ("params", {"model.optimizer.lr": "interval(1e-2, 1e-4)"}, "hydra.sweeper.params.model.optimizer.lr",
         "low < high"),
        ("params", {"data.batch_size": "choice(16, 32"}, "hydra.sweeper.params.data.batch_size", "choice(a,b,...)"),
        ("params", {"model.optimizer.lrr": "choice(1,2)"}, "hydra.sweeper.params.model.optimizer.lrr",
         "a key of the composed config"),
        ("direction", "maximize", "hydra.sweeper.direction", "minimize (val/loss_min improves"),
        ("optimized_metric", None, "optimized_metric", "the name of a metric"),
    ],
)
def test_a_bad_search_names_its_field(key: str, value: Any, field: str, message: str) -> None:
    cfg = compose_search([])
    with open_dict(cfg):
        if key == "params":
            cfg.hydra.sweeper.params.update(value)
        elif key == "direction":
            cfg.hydra.sweeper.direction = value
        else:
            cfg[key] = value
    with pytest.raises(ConfigError) as err:
        _check(cfg)
    assert err.value.field == field
    assert message in str(err.value)


def test_command_line_dimensions_are_checked_too() -> None:
    cfg = compose_search([])
    _check(cfg, ["seed=range(0,3)", "+trainer.new_key=choice(1,2)"])
    with pytest.raises(ConfigError, match=r"hydra\.sweeper\.params\.seed='interval\(3, 1\)' is invalid"):
        _check(cfg, ["seed=interval(3, 1)"])
    assert parse_dimension("x", "0.5") == "0.5"  # a fixed value is not a dimension


def test_objective_comes_from_metrics_then_best_epoch_then_last_epoch(tmp_path: Path) -> None:
    (tmp_path / "csv" / "version_0").mkdir(parents=True)
    with (tmp_path / "csv" / "version_0" / "metrics.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["epoch", "step", "val/loss"])
        writer.writerows([[0, 1, 0.9], [1, 3, 0.4], [2, 5, 0.6]])
    store = RunStore(tmp_path)
    store.write_summary({}, {}, {"val/loss": "min"})
    assert objective_value("test/acc", {"test/acc": 0.75}, store) == 0.75
    assert objective_value("val/loss_min", {}, store) == pytest.approx(0.4)
    assert objective_value("val/loss", {}, store) == pytest.approx(0.6)  # the last epoch
    assert objective_value("val/nothing", {}, store) is None


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline", "WANDB_SILENT": "true",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def test_a_search_space_that_does_not_parse_stops_before_anything_runs(tmp_path: Path) -> None:
    args = [sys.executable, str(ROOT / "train.py"), "-m", SEARCH, "debug=tiny", f"paths.root_dir={tmp_path}",
            f"hydra.sweep.dir={tmp_path / 'sweep'}", "model.optimizer.lr=tag(log,interval(0,1))"]
    done = subprocess.run(args, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1].startswith(
        "physml: configuration error: hydra.sweeper.params.model.optimizer.lr='tag(log,interval(0,1))' is invalid")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "sweep" / "optuna.db").exists() and not (tmp_path / "data").exists()


def _best_val_loss(run: Path) -> float:
    """min over epochs of val/loss, read straight from the run's CSV logs."""
    values = []
    for path in run.glob("csv/version_*/metrics.csv"):
        with path.open(newline="") as fh:
            values += [float(r["val/loss"]) for r in csv.DictReader(fh) if r.get("val/loss")]
    return min(values)


@pytest.mark.slow  # 80 s on a shared 2-core machine; make test-slurm runs an Optuna search too
def test_parallel_jobs_share_the_study_and_a_resumed_study_continues(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    base = [sys.executable, str(ROOT / "train.py"), "-m", SEARCH, "debug=tiny", f"paths.root_dir={tmp_path}",
            f"hydra.sweep.dir={sweep}"]
    first = subprocess.run([*base, "hardware=local_parallel", "hardware.parallel_jobs=2", "hydra.sweeper.n_trials=2"],
                           cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    again = subprocess.run([*base, "hydra.sweeper.n_trials=1"], cwd=tmp_path, env=_env(), capture_output=True,
                           text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]

    with sqlite3.connect(sweep / "optuna.db") as db:
        trials = db.execute("SELECT t.number, t.state, v.value FROM trials t JOIN trial_values v "
                            "ON v.trial_id = t.trial_id ORDER BY t.number").fetchall()
        params = db.execute("SELECT t.number, p.param_name FROM trial_params p JOIN trials t "
                            "ON p.trial_id = t.trial_id").fetchall()
    assert [(n, s) for n, s, _ in trials] == [(0, "COMPLETE"), (1, "COMPLETE"), (2, "COMPLETE")]
    assert {name for _, name in params} == {"model.optimizer.lr", "data.batch_size", "model.net.width", "model.net.stem"}
    for number, _, value in trials:  # job n is trial n; Optuna was told that job's best val/loss
        run = sweep / str(number)
        assert value == pytest.approx(_best_val_loss(run), rel=1e-6)
        overrides = yaml.safe_load((run / ".hydra" / "overrides.yaml").read_text())
        assert any(o.startswith("model.optimizer.lr=") for o in overrides)
    lrs = [next(o for o in yaml.safe_load((sweep / str(n) / ".hydra" / "overrides.yaml").read_text())
                if o.startswith("model.optimizer.lr=")) for n in range(3)]
    assert lrs[2] != lrs[0]  # the resumed study does not ask its first point again
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(min(v for _, _, v in trials))
