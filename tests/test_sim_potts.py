"""The 2D q-state Potts simulator against exact results: Onsager (q = 2), T_c = 1/ln(1+√q), first order at q = 8.

References (independent of this code): Onsager's energy and spontaneous magnetisation
(Potts q = 2 is the Ising model at half the coupling: E_Potts/N = -1 + u_Ising(2T)/2 and
m_Potts = m_Ising(2T)); Baxter's exact T_c = 1/ln(1 + √q) for every q, continuous for
q <= 4 and first order for q > 4; and the critical slowing-down of single-spin Metropolis
(the project's J1-J2 code at J2 = 0), which Swendsen–Wang avoids.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from physml.constants import TC_ISING, potts_critical_temperature
from physml.errors import ConfigError
from simulators.j1j2 import (
    integrated_autocorrelation_time,
    onsager_energy,
    onsager_magnetisation,
    run_fixed_temperature,
)
from simulators.potts import PottsParams, PottsSimulator, binder_cumulant, run_chains, temperature_grid


def test_critical_temperature_formula_and_grid() -> None:
    assert potts_critical_temperature(2) == pytest.approx(TC_ISING / 2, rel=1e-12)  # δ = (1 + σσ')/2
    grid = temperature_grid(3)
    assert len(grid) == 21 and grid[8] == pytest.approx(potts_critical_temperature(3), abs=1e-4)  # 0.6 + 8 × 0.05


@pytest.mark.parametrize(("factor", "check_m"), [(0.8, True), (1.3, False)])
def test_q2_energy_and_order_match_onsager(factor: float, check_m: bool) -> None:
    T = factor * potts_critical_temperature(2)
    out = run_chains(48, 2, T, equilibration=100, n_samples=100, interval=2, seed=1, n_chains=8)
    per_chain = out["energy"].mean(axis=1)
    exact = -1.0 + onsager_energy(2 * T) / 2
    err = per_chain.std(ddof=1) / math.sqrt(per_chain.size)
    assert abs(per_chain.mean() - exact) < 4 * err + 5e-4, (per_chain.mean(), exact, err)
    if check_m:  # finite-size effects are negligible deep in the ordered phase at L = 48
        assert out["order"].mean() == pytest.approx(onsager_magnetisation(2 * T), abs=3e-3)


def _crossing(Ts: np.ndarray, d: np.ndarray) -> float:
    k = np.flatnonzero(np.diff(np.sign(d)) != 0)
    assert len(k), f"the Binder cumulants do not cross on the grid: {d}"
    i = int(k[0])
    return float(Ts[i] - d[i] * (Ts[i + 1] - Ts[i]) / (d[i + 1] - d[i]))


@pytest.mark.parametrize(("q", "tolerance"), [(2, 0.01), (3, 0.015), (4, 0.025)])
def test_binder_crossing_gives_the_exact_critical_temperature(q: int, tolerance: float) -> None:
    """U_8(T) and U_16(T) cross at T_c; q = 4 converges slowest (logarithmic corrections)."""
    tc = potts_critical_temperature(q)
    Ts = tc * np.linspace(0.94, 1.06, 7)
    U = {}
    for L in (8, 16):
        out = run_chains(L, q, np.repeat(Ts, 16), equilibration=100, n_samples=500, interval=1, seed=q)
        U[L] = binder_cumulant(out["m_re"].reshape(len(Ts), -1), out["m_im"].reshape(len(Ts), -1), q)
    assert abs(_crossing(Ts, U[8] - U[16]) / tc - 1) < tolerance


def _bimodality(energy: np.ndarray) -> float:
    """Depth of the dip between the two highest histogram peaks, relative to the lower peak (0: unimodal)."""
    hist, _ = np.histogram(energy, bins=30)
    smooth = np.convolve(hist, np.ones(3) / 3, mode="same")
    peaks = [i for i in range(1, len(smooth) - 1) if smooth[i] >= smooth[i - 1] and smooth[i] >= smooth[i + 1]]
    if len(peaks) < 2:
        return 0.0
    a, b = sorted(sorted(peaks, key=lambda i: -smooth[i])[:2])
    return float(1.0 - smooth[a : b + 1].min() / min(smooth[a], smooth[b]))


def test_q8_is_first_order_q2_is_not() -> None:
    """At q = 8 the energy at T_c has two peaks (coexisting ordered and disordered phases).

    Measured at L = 16 (seeds 5, 6): dip depth 0.46, 0.48 for q = 8; 0.08, 0.03 for q = 2.
    """
    for q, first_order in ((8, True), (2, False)):
        out = run_chains(16, q, potts_critical_temperature(q), equilibration=200, n_samples=1500, interval=1, seed=5, n_chains=4)
        depth = _bimodality(out["energy"].ravel())
        assert (depth > 0.3) if first_order else (depth < 0.15), (q, depth)


def test_swendsen_wang_beats_metropolis_at_the_critical_point() -> None:
    """q = 2 at T_c, L = 32: cluster updates decorrelate |m| far faster than single spin flips."""
    L = 32
    sw = run_chains(L, 2, potts_critical_temperature(2), equilibration=100, n_samples=2000, interval=1, seed=3, n_chains=2)
    tau_sw = integrated_autocorrelation_time(np.abs(sw["m_re"]))
    metro = run_fixed_temperature(L=L, J2=0.0, T=TC_ISING, n_sweeps=2000, n_measure=4000, seed=3, n_chains=2)
    tau_metropolis = integrated_autocorrelation_time(np.abs(metro["magnetisation"]))
    assert tau_sw * 5 < tau_metropolis, (tau_sw, tau_metropolis)


def test_generated_labels_match_the_configurations() -> None:
    sim = PottsSimulator.from_config(L=8, q=3, T_values=[0.5, 2.0], equilibration=10, samples_per_chain=3, interval=2)
    out = sim.generate(np.array([1, 0]), np.random.default_rng(0))
    assert np.array_equal(out["T_index"], np.repeat([1, 0], 3))
    assert set(np.unique(out["x"])) <= {0, 1, 2}
    x = out["x"].astype(np.int64)
    satisfied = (x == np.roll(x, 1, axis=-1)).sum(axis=(1, 2)) + (x == np.roll(x, 1, axis=-2)).sum(axis=(1, 2))
    np.testing.assert_allclose(out["energy"], -satisfied / 64, atol=1e-6)
    counts = np.stack([(x == k).sum(axis=(1, 2)) for k in range(3)], axis=1)
    np.testing.assert_allclose(out["order"], (3 * counts.max(axis=1) / 64 - 1) / 2, atol=1e-6)
    assert out["order"][3:].mean() > out["order"][:3].mean()  # T = 0.5 orders, T = 2 does not


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"L": 1}, "L"), ({"q": 1}, "q"), ({"T_values": [1.0, -1.0]}, r"T_values\[1\]"), ({"interval": 0}, "interval")],
)
def test_bad_parameters_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        PottsParams(**kwargs)
