"""End to end: the real config, tiny data, all three percolation targets, resume, bad configs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from physml.errors import ConfigError
from physml.predictions import load_predictions
from tests.conftest import TINY, compose_config
from train import train

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("target", "figures"),
    [
        ("p_class", ["confusion_p.png"]),
        ("p", ["regression_p.png"]),
        ("spanning", ["confusion_spanning.png", "spanning_probability.png", "p_proxy.png"]),
    ],
)
def test_each_target_trains_tests_and_writes_figures(
    tmp_path: Path, target: str, figures: list[str]
) -> None:
    cfg = compose_config([*TINY, f"system.target={target}"], tmp_path)
    metrics = train(cfg)
    run = Path(cfg.paths.output_dir)
    for name in figures:
        assert (run / "figures" / name).stat().st_size > 1000
    assert (run / "checkpoints" / "last.ckpt").exists()
    assert list((run / "csv").glob("version_*/metrics.csv"))
    preds = load_predictions(run / "predictions.zarr")
    assert len(preds["test"]["pred"]) == 5 * 4
    test = preds["test"]
    if target == "spanning":
        assert set(preds) == {"test", "test_pc"}
        assert metrics["test/acc"] == pytest.approx(float((test["pred"] == test["spanning"]).mean()))
        # p_c(L) is the p of the fixed-p_c stream, measured where the training pool's P(p) = 1/2
        p_c = float(preds["test_pc"]["p"][0])
        assert metrics["p_c_L"] == pytest.approx(p_c) and 0.45 < p_c < 0.7
        # the p-only rule (spanning iff p > p_c(L)) is wrong on exactly these states
        rule = (test["p"] > p_c + 1e-9).astype(int)
        assert metrics["proxy/proxy_wrong"] == float((rule != test["spanning"]).sum())
    elif target == "p_class":
        assert metrics["test/acc"] == pytest.approx(float((test["pred"] == test["p_index"]).mean()))
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["datasets"]) >= {"train", "test"}


def test_resume_continues_from_last_checkpoint(tmp_path: Path) -> None:
    overrides = [*TINY, "system.target=spanning"]
    train(compose_config(overrides, tmp_path))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=False)["epoch"] == 0
    cfg = compose_config([*overrides, "trainer.max_epochs=2", "ckpt_path=last"], tmp_path)
    train(cfg)
    state = torch.load(last, weights_only=False)
    assert state["epoch"] == 1
    assert state["global_step"] == 4  # 2 batches in epoch 0 (restored) + 2 in epoch 1
    # the first attempt's metrics are kept next to the resumed run's
    assert len(list((tmp_path / "run" / "csv").glob("version_*/metrics.csv"))) == 2


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("system.p_values=[0.2,1.3]", r"system\.p_values.*\[0, 1\]"),
        ("system.L=1", r"system\.L=1 is invalid: allowed integers in \[2, "),
        ("system.target=colour", r"system\.target='colour'.*p_class"),
        ("data.val_fraction=1.5", r"data\.val_fraction"),
        ("ckpt_path=last", r"ckpt_path='last' is invalid"),
    ],
)
def test_bad_config_fails_at_start_up_naming_the_field(
    tmp_path: Path, override: str, message: str
) -> None:
    cfg = compose_config([*TINY, override], tmp_path)
    with pytest.raises(ConfigError, match=message):
        train(cfg)
    assert not (tmp_path / "data").exists(), "nothing may be generated before the config is checked"


def test_command_line_reports_errors_clearly(tmp_path: Path) -> None:
    base = [sys.executable, str(ROOT / "train.py"), f"paths.root_dir={tmp_path}"]
    bad_value = subprocess.run([*base, "system.L=1"], capture_output=True, text=True, cwd=tmp_path)
    assert bad_value.returncode == 2
    assert "configuration error: system.L=1 is invalid" in bad_value.stderr
    bad_group = subprocess.run(
        [*base, "system=ising"], capture_output=True, text=True, cwd=tmp_path
    )
    assert bad_group.returncode != 0
    assert "percolation" in bad_group.stderr  # Hydra lists the available options


def test_simulate_and_inspect_commands(tmp_path: Path) -> None:
    physml = [sys.executable, "-m", "physml.cli"]
    args = [f"paths.root_dir={tmp_path}", *TINY, "split=train", "shards=0:3"]
    done = subprocess.run([*physml, "simulate", *args], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    path = next((tmp_path / "data" / "percolation").glob("*.zarr"))
    info = subprocess.run(
        [*physml, "inspect", str(path), "--verify"], capture_output=True, text=True, cwd=ROOT
    )
    assert "3/10 shards" in info.stdout
    assert "corrupt     none" in info.stdout
    # the rest of the shards, then the whole dataset is complete
    subprocess.run(
        [*physml, "simulate", *args[:-1], "shards=3:10"], check=True, capture_output=True, cwd=ROOT
    )
    info = subprocess.run([*physml, "inspect", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert "10/10 shards" in info.stdout



def test_fixed_pc_stream_sits_where_the_training_pool_spans_half_the_time(tmp_path: Path) -> None:
    """p_c(L) is measured from the data (P(p) = 1/2 on the training pool), not the L = 100 constant."""
    from datamodules.percolation import half_crossing
    from physml.build import build_datamodule
    from physml.store import open_dataset

    cfg = compose_config([*TINY, "system.train_per_p=40"], tmp_path)
    dm = build_datamodule(cfg)
    assert "test_pc" not in dm.specs  # not known before the pool exists
    dm.prepare_data()
    pool = open_dataset(dm.specs["train"].path(dm.data_dir))
    p, span = pool["p"][...].astype(float), pool["spanning"][...]
    expected = half_crossing(p, span)
    grid = np.unique(p)
    P = np.array([span[p == g].mean() for g in grid])
    k = int(np.flatnonzero(P >= 0.5)[0])
    assert grid[k - 1] <= expected <= grid[k] and P[k - 1] < 0.5 <= P[k]
    assert dm.specs["test_pc"].simulator.params.p_values == (round(expected, 6),)
    # linear interpolation between the grid points that straddle 1/2: P = 0.2 at 0.5, 0.8 at 0.6
    p2 = np.repeat([0.5, 0.6], 5)
    assert half_crossing(p2, np.array([1, 0, 0, 0, 0, 1, 1, 1, 1, 0])) == pytest.approx(0.55)
