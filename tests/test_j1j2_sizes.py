"""The boundary-vs-size study reads each run's boundary table (through its record) and measures the sharpening."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from omegaconf import OmegaConf

from physml.analysis.j1j2.studies import BoundarySizeStudy, chain_spread
from physml.runstore import RunRecord


def fake_run(L: int, spread: float) -> RunRecord:
    config = OmegaConf.create({"system": {"name": "j1j2", "L": L, "region": "low_J2"}})
    rows = [
        {"J2": j2, "T_c_eps": tc + spread, "T_c_eps_err": spread / 2, "T_c_eps_chain_sem": spread / 2,
         "n_chains_crossing": 4, "n_chains": 4, "T_c_chi": tc, "order_parameter": "magnetisation"}
        for j2, tc in ((0.0, 2.27), (0.2, 1.75))
    ]
    return RunRecord(Path(f"L{L}"), config, [f"system.L={L}"], tables={"boundary": rows})


def test_chain_spread_undoes_the_standard_error() -> None:
    rows = [{"T_c_eps_chain_sem": 0.05, "n_chains_crossing": 4}, {"T_c_eps_chain_sem": math.nan, "n_chains_crossing": 0}]
    assert chain_spread(rows) == pytest.approx(0.1)


def test_boundary_vs_size_orders_sizes_and_measures_the_spread() -> None:
    runs = [fake_run(8, 0.2), fake_run(32, 0.05), fake_run(16, 0.1)]
    study = BoundarySizeStudy()
    assert study.groups(runs[:1]) == []  # one size: nothing to study
    result = study(study.groups(runs)[0])
    table = result.tables["boundary_vs_size"]
    assert [row["L"] for row in table] == [8, 16, 32]
    assert [row["chain_spread_T_c"] for row in table] == pytest.approx([0.2, 0.1, 0.05])
    assert [row["mean_abs_eps_minus_chi"] for row in table] == pytest.approx([0.2, 0.1, 0.05])
    assert set(result.figures) == {"boundary_vs_size", "sharpness_vs_size"}
    plt.close("all")


def test_eps_crossing_of_two_sizes_finds_tc_whatever_the_threshold() -> None:
    """Synthetic ε with a size-dependent width (sharper for larger L) crossing exactly at T_c = 2.0."""
    from physml.analysis.j1j2.studies import EpsCrossingStudy

    T = np.round(np.linspace(1.0, 3.0, 41), 5)

    def run(L: int, seed: int) -> RunRecord:
        width = 2.0 / L
        order = 1 / (1 + np.exp((T - 2.0) / width))  # each size's order = 1/2 at T_c, steeper for larger L
        eps = 0.02 + 0.45 * (1 - order)  # in-phase plateau 0.02, hot 0.47
        grid = [{"J2": 0.1, "T": float(t), "eps_mean": float(e)} for t, e in zip(T, eps, strict=True)]
        config = OmegaConf.create({"system": {"name": "j1j2", "L": L, "region": "low_J2"}, "seed": seed})
        return RunRecord(Path(f"L{L}s{seed}"), config, [f"system.L={L}"], metrics={"eps/in_region": 0.02, "eps/out_hot": 0.47},
                         tables={"eps_grid": grid})

    study = EpsCrossingStudy()
    groups = study.groups([run(16, 0), run(32, 0), run(32, 1)])
    assert len(groups) == 1
    result = study(groups[0])
    (row,) = result.tables["eps_crossing"]
    assert row["T_c_crossing"] == pytest.approx(2.0, abs=0.01)
    plt.close("all")
