"""The Monte Carlo reference for the J1-J2 boundary (Binder crossings, no learning) and its cache."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from physml.constants import TC_ISING
from physml.reference import crossing, j1j2_boundary
from simulators.j1j2 import J1J2MomentsParams, J1J2MomentsSimulator


def test_binder_crossing_at_j2_zero_is_onsagers_tc_and_is_cached(tmp_path: Path) -> None:
    rows = j1j2_boundary([0.0], tmp_path, sizes=(6, 12), chains=8, equilibration=1000, measurements=2000, progress=False)
    assert abs(rows[0]["T_c"] / TC_ISING - 1) < 0.02, rows
    stores = sorted((tmp_path / "j1j2_moments").glob("*.zarr"))
    assert len(stores) == 4  # coarse and fine scans at two sizes
    stamps = [p.stat().st_mtime for p in stores]
    again = j1j2_boundary([0.0], tmp_path, sizes=(6, 12), chains=8, equilibration=1000, measurements=2000, progress=False)
    assert again[0]["T_c"] == rows[0]["T_c"] and [p.stat().st_mtime for p in stores] == stamps


def test_crossing_ignores_high_temperature_noise_and_frozen_cold_points() -> None:
    T = np.array([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    small = np.array([0.10, 0.62, 0.55, 0.40, 0.02, 0.01])  # the cold point is a frozen artefact
    large = np.array([0.30, 0.66, 0.62, 0.30, 0.01, 0.02])  # noise makes them cross again near 0
    assert crossing(T, small, large) == pytest.approx(1.5 + 0.07 / 0.17 * 0.5)
    assert math.isnan(crossing(T, large, small * 0))


def test_moments_simulator_is_deterministic_and_reports_its_point() -> None:
    sim = J1J2MomentsSimulator(J1J2MomentsParams(L=4, pairs=((0.0, 1.0), (0.0, 5.0)), equilibration=10, measurements=20))
    a = sim.generate(np.array([0, 1, 1]), np.random.default_rng(0))
    b = sim.generate(np.array([0, 1, 1]), np.random.default_rng(0))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert list(a["point"]) == [0, 1, 1] and list(a["T"]) == [1.0, 5.0, 5.0]
    assert a["m2"][0] > a["m2"][1]  # ordered at T = 1, disordered at T = 5
