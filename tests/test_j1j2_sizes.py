"""The sizes aggregation reads each run's boundary table and measures the sharpening."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from physml.analysis.j1j2_sizes import boundary_vs_size, chain_spread, main

FIELDS = [
    "J2", "T_c_eps", "T_c_eps_err", "T_c_eps_chain_sem", "n_chains_crossing", "n_chains", "T_c_chi", "order_parameter"
]


def fake_run(root: Path, name: str, L: int, spread: float) -> Path:
    run = root / name
    (run / ".hydra").mkdir(parents=True)
    (run / "figures").mkdir()
    OmegaConf.save(OmegaConf.create({"system": {"L": L, "region": "low_J2"}}), run / ".hydra" / "config.yaml")
    with (run / "figures" / "boundary.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        for j2, tc in ((0.0, 2.27), (0.2, 1.75)):
            writer.writerow({"J2": j2, "T_c_eps": tc + spread, "T_c_eps_err": spread / 2, "T_c_eps_chain_sem": spread / 2,
                             "n_chains_crossing": 4, "n_chains": 4, "T_c_chi": tc,
                             "order_parameter": "magnetisation"})
    return run


def test_chain_spread_undoes_the_standard_error() -> None:
    rows = [{"T_c_eps_chain_sem": 0.05, "n_chains_crossing": 4}, {"T_c_eps_chain_sem": math.nan, "n_chains_crossing": 0}]
    assert chain_spread(rows) == pytest.approx(0.1)


def test_boundary_vs_size_orders_sizes_and_writes_figures(tmp_path: Path) -> None:
    runs = [fake_run(tmp_path, "0", 8, 0.2), fake_run(tmp_path, "1", 32, 0.05), fake_run(tmp_path, "2", 16, 0.1)]
    result = boundary_vs_size(runs, tmp_path / "out")
    table = result.tables["boundary_vs_size"]
    assert [row["L"] for row in table] == [8, 16, 32]
    assert [row["chain_spread_T_c"] for row in table] == pytest.approx([0.2, 0.1, 0.05])
    assert [row["mean_abs_eps_minus_chi"] for row in table] == pytest.approx([0.2, 0.1, 0.05])
    for name in ("boundary_vs_size.png", "sharpness_vs_size.png", "boundary_vs_size.csv"):
        assert (tmp_path / "out" / name).stat().st_size > 100


def test_command_line_over_a_multirun_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_run(tmp_path, "0", 8, 0.2)
    fake_run(tmp_path, "1", 16, 0.1)
    assert main([str(tmp_path)]) == 0
    assert "L=  16" in capsys.readouterr().out
    assert (tmp_path / "sizes" / "sharpness_vs_size.png").exists()


def test_no_runs_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="boundary.csv"):
        boundary_vs_size([tmp_path], tmp_path / "out")
