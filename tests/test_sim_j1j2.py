"""J1-J2 Ising simulator: contract, exact limits, detailed balance and physics validation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from physml.errors import ConfigError
from simulators.j1j2 import (
    PAPER_J2_VALUES,
    TC_ISING,
    J1J2Params,
    J1J2Simulator,
    cool_chains,
    cooling_temperatures,
    energy_per_site,
    integrated_autocorrelation_time,
    magnetisation,
    onsager_energy,
    onsager_magnetisation,
    run_fixed_temperature,
    stripe_order,
)


def _stripe(L: int) -> np.ndarray:
    return np.where(np.arange(L)[None, :] % 2 == 0, 1, -1).repeat(L, 0).astype(np.int8)


# ------------------------------------------------------------------ parameters & contract
def test_paper_defaults() -> None:
    sim = J1J2Simulator()
    assert sim.params.L == 30 and sim.num_points == 22
    assert sim.samples_per_unit == 157
    assert sim.temperatures[0] == pytest.approx(4.0) and sim.temperatures[-1] == pytest.approx(0.1)
    assert sim.num_points * 40 * sim.samples_per_unit == 138_160
    assert tuple(sim.config()["J2_values"]) == PAPER_J2_VALUES


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"L": 31}, "L"),
        ({"L": 2}, "L"),
        ({"L": True}, "L"),
        ({"J2_values": (0.1, -0.2)}, "J2_values"),
        ({"J2_values": ()}, "J2_values"),
        ({"T_min": 0.0}, "T_min"),
        ({"T_max": 0.05}, "T_max"),
        ({"dT": 0.04}, "dT"),
        ({"sweeps_per_T": 0}, "sweeps_per_T"),
        ({"extra_first_sweeps": -1}, "extra_first_sweeps"),
    ],
)
def test_invalid_params_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        J1J2Params(**kwargs)


def test_more_sweeps_near_the_degenerate_point() -> None:
    sim = J1J2Simulator()
    np.testing.assert_array_equal(
        sim.sweeps_for(np.array([0.35, 0.39, 0.4, 0.45, 0.5, 0.6, 0.61, 1.0])),
        [1000, 1000, 4000, 4000, 4000, 4000, 1000, 1000],  # |J2 - 1/2| <= 0.1: where chains froze
    )
    with pytest.raises(ConfigError, match="near_half_width"):
        J1J2Params(near_half_width=-0.1)
    with pytest.raises(ConfigError, match="sweeps_per_T_near_half"):
        J1J2Params(sweeps_per_T_near_half=0)


def test_from_config_accepts_lists_and_a_single_number() -> None:
    sim = J1J2Simulator.from_config(L=8, J2_values=[0.0, 1.0], sweeps_per_T=3)
    assert sim.params.J2_values == (0.0, 1.0) and sim.num_points == 2


def test_generate_labels_match_the_configurations() -> None:
    sim = J1J2Simulator.from_config(
        L=8,
        J2_values=[0.0, 0.3, 1.0],
        T_max=3.0,
        T_min=0.5,
        dT=0.5,
        sweeps_per_T=5,
        extra_first_sweeps=10,
    )
    points = np.array([2, 0, 0, 1])
    out = sim.generate(points, np.random.default_rng(7))
    n_t = sim.samples_per_unit
    np.testing.assert_allclose(out["T"][:n_t], [3.0, 2.5, 2.0, 1.5, 1.0, 0.5])
    np.testing.assert_array_equal(out["J2_index"], np.repeat(points, n_t))
    np.testing.assert_allclose(out["J2"], np.repeat([1.0, 0.0, 0.0, 0.3], n_t))
    np.testing.assert_array_equal(out["chain"], np.repeat(np.arange(4), n_t))
    assert set(np.unique(out["x"])) <= {-1, 1}
    np.testing.assert_allclose(out["energy"], energy_per_site(out["x"], out["J2"]), atol=1e-6)
    np.testing.assert_allclose(out["magnetisation"], magnetisation(out["x"]), atol=1e-6)
    np.testing.assert_allclose(out["stripe"], stripe_order(out["x"]), atol=1e-6)
    # units are independent of their neighbours in the call: same point, different chains
    assert not np.array_equal(out["x"][n_t : 2 * n_t], out["x"][2 * n_t : 3 * n_t])


# ------------------------------------------------------------------ exact helpers
def test_observables_on_ground_states() -> None:
    L = 10
    ferro = np.ones((L, L), np.int8)
    stripe = _stripe(L)
    for j2 in (0.0, 0.3, 0.7, 1.5):
        assert energy_per_site(ferro, j2) == pytest.approx(-2 + 2 * j2)
        assert energy_per_site(stripe, j2) == pytest.approx(-2 * j2)
        assert energy_per_site(stripe.T, j2) == pytest.approx(-2 * j2)
    assert stripe_order(stripe) == pytest.approx(1) and stripe_order(stripe.T) == pytest.approx(1)
    assert stripe_order(ferro) == pytest.approx(0) and magnetisation(-ferro) == pytest.approx(-1)
    checker = np.where(np.add.outer(np.arange(L), np.arange(L)) % 2 == 0, 1, -1)
    assert energy_per_site(checker, 0.5) == pytest.approx(2 + 2 * 0.5)  # Neel: all bonds against
    batch = np.stack([ferro, stripe, -stripe])
    np.testing.assert_allclose(energy_per_site(batch, [0.2, 0.2, 1.0]), [-1.6, -0.4, -2.0])


def test_onsager_helpers() -> None:
    assert TC_ISING == pytest.approx(2.269185314, rel=1e-9)
    assert onsager_energy(TC_ISING) == pytest.approx(-np.sqrt(2), rel=1e-6)
    assert onsager_energy(TC_ISING * (1 + 1e-9)) == pytest.approx(-np.sqrt(2), rel=1e-4)
    assert onsager_energy(0.3) == pytest.approx(-2.0, abs=1e-9)
    assert onsager_energy(1e4) == pytest.approx(-2 * np.tanh(1e-4), rel=1e-3)  # high-T series
    np.testing.assert_allclose(
        onsager_magnetisation([1.0, 2.0, 2.3, 3.0]), [0.99927, 0.91131, 0, 0], atol=1e-5
    )


def test_autocorrelation_of_ar1() -> None:
    rng = np.random.default_rng(0)
    phi, n = 0.8, 200_000
    x = np.empty(n)
    x[0] = 0
    eps = rng.normal(size=n)
    for i in range(1, n):  # test data only
        x[i] = phi * x[i - 1] + eps[i]
    exact = 0.5 * (1 + phi) / (1 - phi)  # 4.5
    assert integrated_autocorrelation_time(x) == pytest.approx(exact, rel=0.1)


# ------------------------------------------------------------------ detailed balance
def _exact_energy_distribution(L: int, J2: float, T: float) -> tuple[np.ndarray, np.ndarray]:
    states = np.arange(2 ** (L * L), dtype=np.uint32)
    bits = (states[:, None] >> np.arange(L * L, dtype=np.uint32)) & 1
    spins = (1 - 2 * bits.astype(np.int8)).reshape(-1, L, L)
    e = np.round(energy_per_site(spins, J2) * L * L, 9)
    levels, inverse = np.unique(e, return_inverse=True)
    w = np.exp(-(levels - levels.min()) / T)
    p = np.bincount(inverse, weights=w[inverse] / w[inverse].sum(), minlength=levels.size)
    return levels, p


def test_detailed_balance_against_exact_enumeration() -> None:
    L, J2, T = 4, 0.3, 2.5
    levels, p = _exact_energy_distribution(L, J2, T)
    r = run_fixed_temperature(
        L, J2, T, n_sweeps=200, n_measure=1500, seed=5, n_chains=32, sweeps_between=4
    )
    e = np.round(r["energy"].ravel() * L * L, 6)
    idx = np.searchsorted(levels, e)
    assert np.allclose(levels[idx], e), "sampled an energy that no state has"
    observed = np.bincount(idx, minlength=levels.size).astype(float)
    expected = p * observed.sum()
    keep = expected >= 5  # merge the rare tail into one bin
    obs = np.append(observed[keep], observed[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    pvalue = stats.chisquare(obs, exp).pvalue
    assert pvalue > 1e-3, (pvalue, obs, exp)


# ------------------------------------------------------------------ J2 = 0: Onsager
@pytest.mark.parametrize("T, init", [(1.8, "up"), (2.0, "up"), (3.0, "random")])
def test_onsager_energy_and_magnetisation(T: float, init: str) -> None:
    r = run_fixed_temperature(
        48, 0.0, T, n_sweeps=500, n_measure=300, seed=1, n_chains=16, sweeps_between=5, init=init
    )
    e_chain = r["energy"].mean(axis=1)
    err = e_chain.std(ddof=1) / np.sqrt(e_chain.size)
    assert abs(e_chain.mean() - onsager_energy(T)) < 5 * err + 1e-4
    if T < TC_ISING:
        m_chain = np.abs(r["magnetisation"]).mean(axis=1)
        m_err = m_chain.std(ddof=1) / np.sqrt(m_chain.size)
        assert abs(m_chain.mean() - onsager_magnetisation(T)) < 5 * m_err + 2e-3


def _binder_crossing(sizes: tuple[int, int], temps: np.ndarray, n_measure: int) -> float:
    u = []
    for L in sizes:
        row = []
        for k, T in enumerate(temps):
            r = run_fixed_temperature(
                L,
                0.0,
                float(T),
                n_sweeps=1000,
                n_measure=n_measure,
                seed=100 + k,
                n_chains=32,
                sweeps_between=2,
                init="up",
            )
            m = r["magnetisation"]
            row.append(1 - np.mean(m**4) / (3 * np.mean(m**2) ** 2))
        u.append(row)
    d = np.asarray(u[1]) - np.asarray(u[0])  # larger minus smaller: < 0 below Tc
    sign_change = np.nonzero(np.diff(np.sign(d)))[0]
    assert sign_change.size >= 1, d
    i = sign_change[0]
    return float(temps[i] - d[i] * (temps[i + 1] - temps[i]) / (d[i + 1] - d[i]))


def test_binder_crossing_near_onsager_tc() -> None:
    """Cheap version: sizes 6 and 12 already cross within 1% of T_c."""
    temps = np.linspace(2.15, 2.39, 7)
    tc = _binder_crossing((6, 12), temps, 3000)
    assert abs(tc / TC_ISING - 1) < 0.01, tc


@pytest.mark.slow
def test_binder_crossing_larger_sizes() -> None:
    temps = np.linspace(2.21, 2.33, 7)
    tc = _binder_crossing((16, 32), temps, 20000)
    assert abs(tc / TC_ISING - 1) < 0.005, tc


# ------------------------------------------------------------------ ground states by cooling
@pytest.mark.parametrize("J2", [0.0, 0.2, 0.8, 1.0])
def test_successive_cooling_reaches_ground_state(J2: float) -> None:
    temps = cooling_temperatures()
    r = cool_chains(16, J2, temps, 40, seed=3, n_chains=16, extra_first_sweeps=100)
    e = r["energy"][:, -1]
    e0 = -2 + 2 * J2 if J2 < 0.5 else -2 * J2
    assert np.all(e >= e0 - 1e-12), "energy below the exact ground state"
    at_gs = np.isclose(e, e0, atol=1e-9)
    assert at_gs.mean() >= 0.75, e
    order = np.abs(r["magnetisation"][:, -1]) if J2 < 0.5 else r["stripe"][:, -1]
    np.testing.assert_allclose(order[at_gs], 1.0)
    # high temperature end is disordered, and the energy decreases on average when cooling
    assert np.abs(r["magnetisation"][:, 0]).mean() < 0.2 and r["stripe"][:, 0].mean() < 0.2
    assert r["energy"][:, :10].mean() > r["energy"][:, -10:].mean()
