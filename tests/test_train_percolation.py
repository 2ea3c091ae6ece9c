"""End to end: the real config, tiny data, all three percolation targets, resume, bad configs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
        # the p-only rule (spanning iff p > p_c(L)) is wrong on exactly these states
        rule = (test["p"] > 0.585 + 1e-9).astype(int)
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

