"""The percolation FSS report study on a tiny synthetic sweep (no training).

Each fake run holds test predictions at one L: labels drawn from a known scaling function
P = Φ((x − p_c) L^{1/ν}) with p_c = 0.5927, ν = 4/3, and a "network" that outputs either
that same function (it scales like the physics) or one curve of fixed width at every L (a
density reader). The study must find p_c and ν in the labels and the first network, and
not in the second.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf
from scipy.special import ndtr

from physml.analysis.percolation_fss import SpanningCollapse, spanning_rows
from physml.predictions import write_predictions
from physml.report import run_studies
from physml.runstore import RunRecord

PC, NU = 0.5927, 4.0 / 3.0
GRID = np.round(np.arange(0.40, 0.801, 0.01), 4)


def fake_run(root: Path, L: int, network: str, n: int, rng: np.random.Generator) -> RunRecord:
    p = np.repeat(GRID, n)
    x = np.round(p * L * L) / (L * L)
    truth = ndtr((x - PC) * L ** (1 / NU))
    spanning = (rng.random(p.size) < truth).astype(np.int64)
    if network == "physics":
        prob = truth
    else:  # reads the density: the same width at every L
        prob = ndtr((x - 0.59) * 8.0)
    prob = np.clip(prob + 0.01 * rng.standard_normal(p.size), 0.0, 1.0)
    path = root / f"{network}_L{L}"
    path.mkdir(parents=True)
    write_predictions(
        path / "predictions.zarr",
        {
            "test": {
                "p": p,
                "spanning": spanning,
                "probs": np.column_stack([1 - prob, prob]),
                "pred": (prob > 0.5) * 1,
            }
        },
    )
    config = OmegaConf.create(
        {
            "system": {
                "name": "percolation",
                "target": "spanning",
                "L": L,
                "datamodule": {"_target_": "datamodules.percolation.PercolationDataModule"},
            },
            "model": {"name": network},
        }
    )
    return RunRecord(path, config, [f"system.L={L}", f"model={network}"])


class QuickCollapse(SpanningCollapse):
    omegas = (None,)
    n_bootstrap = 12


def test_rows_count_and_floor_the_error() -> None:
    rows = spanning_rows(
        16, np.repeat([0.5, 0.6], 4), np.array([0, 0, 0, 0, 1, 1, 0, 1]), np.repeat([0.0, 0.7], 4)
    )
    assert [r["k"] for r in rows] == [0, 3] and rows[1]["x"] == round(0.6 * 256) / 256
    assert rows[0]["P_net"] == 0.0 and rows[0]["P_net_err"] > 0  # saturated output keeps an error
    assert rows[1]["P_net_hard"] == 1.0


def test_study_collapses_labels_and_a_physics_network_not_a_density_reader(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    runs = [fake_run(tmp_path, L, net, 300, rng) for net in ("physics", "density") for L in (16, 32, 64)]
    runs.append(fake_run(tmp_path / "single", 16, "alone", 50, rng))  # one size: no group
    study = QuickCollapse()
    groups = study.groups(runs)
    assert sorted(len(g) for g in groups) == [3, 3]
    by_model = {g[0].setting("model.name"): study(g) for g in groups}
    for name in ("physics", "density"):
        m = by_model[name].metrics
        assert abs(m["fss/P_true/x_c"] - PC) < max(3 * m["fss/P_true/x_c_err"], 0.002), m
        assert abs(m["fss/P_true/nu"] - NU) < max(3 * m["fss/P_true/nu_err"], 0.1), m
    good, bad = by_model["physics"].metrics, by_model["density"].metrics
    assert abs(good["fss/P_net/x_c"] - PC) < 0.003 and abs(good["fss/P_net/nu"] - NU) < 0.1, good
    assert bad["fss/P_net/nu"] > 2.5, bad  # a width that does not shrink: no ν = 4/3
    # scaled with the known p_c and ν: the labels and the physics network collapse, the density reader not
    assert good["fss/P_true/S_known"] < 2 and good["fss/P_net/S_known"] < 2, good
    assert bad["fss/P_net/S_known"] > 10 * good["fss/P_net/S_known"], bad
    assert {"fss_curves", "fss_P_true", "fss_P_net", "fss_P_net_known"} <= set(by_model["physics"].figures)
    assert len(by_model["physics"].tables["fss_fits"]) == 4  # per observable: the fit, the known values


def test_report_runs_the_study_for_percolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Registered in the percolation spec: `physml report` runs it on a sweep."""
    monkeypatch.setattr(SpanningCollapse, "omegas", (None,))
    monkeypatch.setattr(SpanningCollapse, "n_bootstrap", 3)
    rng = np.random.default_rng(11)
    runs = [fake_run(tmp_path, L, "physics", 100, rng) for L in (16, 32)]
    outputs = run_studies(runs, tmp_path / "report")
    assert [o.name for o in outputs] == ["fss"]
    assert math.isfinite(outputs[0].result.metrics["fss/P_true/nu"])
    assert (tmp_path / "report" / "studies" / "fss_0" / "fss_P_net.png").exists()
