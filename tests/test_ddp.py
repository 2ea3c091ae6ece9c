"""DDP: predictions from every rank merged (padding removed), same results as one process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from physml.predictions import load_predictions, merge_shards
from tests.conftest import TINY, compose_config
from train import train

ROOT = Path(__file__).resolve().parents[1]
# 15 test samples: DistributedSampler on 2 ranks pads one duplicate
TINY_ODD = [*TINY, "system.test_per_p=3"]


def test_merge_shards_drops_distributed_sampler_padding() -> None:
    # rank 0 got indices 0, 2, 4; rank 1 got 1, 3 and a padded repeat of 0
    rank0 = {0: {"index": np.array([0, 2, 4]), "pred": np.array([10, 12, 14])}}
    rank1 = {0: {"index": np.array([1, 3, 0]), "pred": np.array([11, 13, 10])}, 1: {"index": np.array([7])}}
    merged = merge_shards([rank0, rank1])
    np.testing.assert_array_equal(merged[0]["index"], [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(merged[0]["pred"], [10, 11, 12, 13, 14])
    np.testing.assert_array_equal(merged[1]["index"], [7])


def ddp_cmd(tmp_path: Path, run_dir: Path, extra: list[str]) -> list[str]:
    return [sys.executable, str(ROOT / "train.py"), "hardware=ddp", "hardware.accelerator=cpu", "hardware.devices=2",
            f"paths.root_dir={tmp_path}", f"hydra.run.dir={run_dir}", *TINY_ODD, "system.target=spanning", *extra]


@pytest.mark.slow  # two gloo processes plus a single-process reference: ~60-90 s on 2 cores
def test_ddp_on_two_cpu_processes_matches_one_process(tmp_path: Path) -> None:
    cfg = compose_config([*TINY_ODD, "system.target=spanning"], tmp_path)
    single = train(cfg)
    ckpt = next((tmp_path / "run" / "checkpoints").glob("epoch*.ckpt"))
    ref = load_predictions(tmp_path / "run" / "predictions.zarr")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline"}

    # the same checkpoint tested by 2 ranks: every sample once, identical outputs and metrics
    run = tmp_path / "ddp_test"
    done = subprocess.run(ddp_cmd(tmp_path, run, ["stage=test", f"ckpt_path={ckpt}"]),
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    got = load_predictions(run / "predictions.zarr")
    assert set(got) == set(ref) == {"test", "test_pc"}
    for stream in ref:
        order = np.argsort(ref[stream]["index"])
        assert len(got[stream]["index"]) == len(ref[stream]["index"])  # 15, not 16: padding dropped
        np.testing.assert_array_equal(got[stream]["index"], ref[stream]["index"][order])
        for key in ref[stream]:
            np.testing.assert_allclose(got[stream][key], ref[stream][key][order], rtol=1e-5, atol=1e-6)
    import json

    ddp_metrics = json.loads((run / "summary.json").read_text())["metrics"]
    for key in ("test/acc", "test_pc/acc", "proxy/net_wrong", "proxy/n_test"):
        assert ddp_metrics[key] == pytest.approx(single[key], abs=1e-6)

    # a full DDP fit also ends with complete predictions and the analysis on rank 0 only
    fit = tmp_path / "ddp_fit"
    done = subprocess.run(ddp_cmd(tmp_path, fit, []), capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    preds = load_predictions(fit / "predictions.zarr")
    assert len(np.unique(preds["test"]["index"])) == len(preds["test"]["index"]) == 15
    assert (fit / "figures" / "confusion_spanning.png").exists()
    assert (fit / "checkpoints" / "last.ckpt").exists()
