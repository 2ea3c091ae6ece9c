"""The Potts system end to end (tiny), its analysis on hand-made outputs, and the T_c(L) study."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from omegaconf import OmegaConf

from physml.analysis.potts import CriticalTemperatureVsSize, half_crossing
from physml.build import build_datamodule
from physml.constants import potts_critical_temperature
from physml.errors import ConfigError
from physml.predictions import load_predictions
from physml.runstore import RunRecord
from tests.conftest import TINY, compose_config
from train import train

TINY_POTTS = ["system=potts", *TINY]


def test_tiny_run_trains_tests_and_locates_a_transition(tmp_path: Path) -> None:
    cfg = compose_config(TINY_POTTS, tmp_path)
    metrics = train(cfg)
    run = Path(cfg.paths.output_dir)
    assert (run / "figures" / "transition.png").stat().st_size > 1000
    test = load_predictions(run / "predictions.zarr")["test"]
    assert test["probs"].shape == (5 * 2 * 2, 2)  # 5 temperatures × 2 chains × 2 samples
    np.testing.assert_array_equal(test["phase"], (test["T"] < potts_critical_temperature(2)).astype(int))
    assert metrics["tc/exact"] == pytest.approx(potts_critical_temperature(2))


def test_one_hot_input_and_training_window(tmp_path: Path) -> None:
    cfg = compose_config([*TINY_POTTS, "system.q=3"], tmp_path)
    dm = build_datamodule(cfg)
    x = dm.make_input(np.array([[0, 1], [2, 1]], dtype=np.uint8))
    assert x.shape == (3, 2, 2) and x.sum(0).eq(1).all() and x[2, 1, 0] == 1
    with pytest.raises(ConfigError, match=r"system\.exclude_window=0\.9"):
        build_datamodule(compose_config([*TINY_POTTS, "system.exclude_window=0.9"], tmp_path))


def test_half_crossing_interpolates_linearly() -> None:
    T = np.array([1.0, 1.1, 1.2, 1.3])
    assert half_crossing(T, np.array([1.0, 0.9, 0.3, 0.0])) == pytest.approx(1.1 + 0.4 / 0.6 * 0.1)
    assert math.isnan(half_crossing(T, np.array([1.0, 0.9, 0.8, 0.7])))


def test_tc_vs_size_study_extrapolates_to_the_exact_value() -> None:
    """Synthetic T_c(L) = T_c + 0.3/L (q = 2, ν = 1) must extrapolate back to T_c."""
    tc = potts_critical_temperature(2)
    runs = [
        RunRecord(Path(f"L{L}"), OmegaConf.create({"system": {"name": "potts", "q": 2, "L": L}}), [f"system.L={L}"],
                  metrics={"tc/network": tc + 0.3 / L, "tc/network_err": 0.001})
        for L in (8, 16, 32)
    ]
    study = CriticalTemperatureVsSize()
    result = study(study.groups(runs)[0])
    assert result.metrics["tc/extrapolated"] == pytest.approx(tc, abs=1e-9)
    plt.close("all")
