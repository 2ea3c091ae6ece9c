"""Physics validation of the 3D Anderson simulator: Hamiltonian, eigensolver, IPR, images."""

from __future__ import annotations

import numpy as np
import pytest

from physml.errors import ConfigError
from simulators.anderson import PAPER_W_VALUES, AndersonParams, AndersonSimulator
from simulators.anderson.eigensolver import ShiftInvertSolver
from simulators.anderson.hamiltonian import (
    anderson_hamiltonian,
    clean_spectrum,
    neighbour_indices,
    sample_disorder,
)
from simulators.anderson.ordering import nested_dissection
from simulators.anderson.pardiso import pardiso_available
from simulators.anderson.render import render

needs_pardiso = pytest.mark.skipif(not pardiso_available(), reason="MKL PARDISO not available")
SOLVERS = ["scipy", pytest.param("pardiso", marks=needs_pardiso)]


# ----------------------------------------------------------------------------- Hamiltonian


def test_hamiltonian_structure() -> None:
    M = 5
    eps = sample_disorder(M, 16.5, np.random.default_rng(0))
    H = anderson_hamiltonian(eps)
    assert abs(H - H.T).max() == 0  # symmetric
    assert np.array_equal(H.diagonal(), eps.ravel())
    off = H.copy()
    off.setdiag(0)
    off.eliminate_zeros()
    # every row: exactly six off-diagonal entries, all +1 (the paper's sign convention)
    assert np.all(np.diff(off.indptr) == 6)
    assert np.all(off.data == 1.0)
    # periodic wrap: site (M-1, 0, 2) couples to (0, 0, 2) and (M-1, M-1, 2)
    i = ((M - 1) * M + 0) * M + 2
    assert H[i, (0 * M + 0) * M + 2] == 1.0 and H[i, ((M - 1) * M + M - 1) * M + 2] == 1.0
    # the upper-triangle storage holds the same matrix
    U = anderson_hamiltonian(eps, upper=True)
    full = U + U.T
    full.setdiag(U.diagonal())
    assert abs(full - H).max() == 0
    assert len(np.unique(neighbour_indices(3), axis=None)) == 27


@pytest.mark.parametrize("M", [4, 5])
def test_clean_spectrum_is_the_exact_dispersion(M: int) -> None:
    H = anderson_hamiltonian(np.zeros((M, M, M))).toarray()
    np.testing.assert_allclose(np.linalg.eigvalsh(H), clean_spectrum(M), atol=1e-12)


def test_disorder_is_uniform_in_box() -> None:
    eps = sample_disorder(20, 16.0, np.random.default_rng(1))
    assert -8.0 <= eps.min() < -7.9 and 7.9 < eps.max() <= 8.0
    assert abs(eps.mean()) < 0.1 and abs(eps.var() - 16.0**2 / 12) < 0.5


def test_nested_dissection_is_a_permutation() -> None:
    for M in (3, 7, 10):
        p = nested_dissection(M, leaf=8)
        assert np.array_equal(np.sort(p), np.arange(M**3))


# ----------------------------------------------------------------------------- eigensolver


@pytest.mark.parametrize("solver", SOLVERS)
def test_eigenpair_matches_dense_diagonalisation(solver: str) -> None:
    M = 6
    S = ShiftInvertSolver(solver)
    for seed, w in [(0, 16.5), (1, 5.0), (2, 30.0)]:
        eps = sample_disorder(M, w, np.random.default_rng(seed))
        H = anderson_hamiltonian(eps)
        pair = S.closest(eps)
        vals, vecs = np.linalg.eigh(H.toarray())
        j = np.argmin(np.abs(vals))
        assert np.linalg.norm(H @ pair.psi - pair.energy * pair.psi) < 1e-8
        assert pair.energy == pytest.approx(vals[j], abs=1e-10)
        assert abs(pair.energy) <= np.abs(vals).min() + 1e-12
        assert np.linalg.norm(pair.psi) == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(pair.psi**2, vecs[:, j] ** 2, atol=1e-9)
        assert pair.psi[np.argmax(np.abs(pair.psi))] > 0  # sign convention


def test_target_energy_off_centre() -> None:
    eps = sample_disorder(6, 10.0, np.random.default_rng(4))
    vals = np.linalg.eigvalsh(anderson_hamiltonian(eps).toarray())
    pair = ShiftInvertSolver("scipy").closest(eps, target=2.0)
    assert pair.energy == pytest.approx(vals[np.argmin(np.abs(vals - 2.0))], abs=1e-10)


@needs_pardiso
def test_solver_paths_agree() -> None:
    M = 10
    eps = sample_disorder(M, 16.5, np.random.default_rng(7))
    a = ShiftInvertSolver("pardiso").closest(eps)
    b = ShiftInvertSolver("scipy").closest(eps)
    assert a.energy == pytest.approx(b.energy, abs=1e-11)
    np.testing.assert_allclose(a.psi**2, b.psi**2, atol=1e-10)
    np.testing.assert_allclose(a.psi, b.psi, atol=1e-8)  # same sign convention too


def test_degenerate_clean_lattice_still_gives_an_eigenstate() -> None:
    # w = 0, M = 4: E = 0 is highly degenerate and H is singular at sigma = 0
    pair = ShiftInvertSolver("auto").closest(np.zeros((4, 4, 4)))
    assert abs(pair.energy) < 1e-8 and pair.residual < 1e-8


def _mean_ipr(M: int, w: float, n: int) -> float:
    S = ShiftInvertSolver("auto")
    rng = np.random.default_rng(100 + M)
    return float(
        np.mean([np.sum(S.closest(sample_disorder(M, w, rng)).psi ** 4) for _ in range(n)])
    )


def test_participation_ratio_metal_vs_insulator() -> None:
    sizes = (8, 12, 16)
    metal = [_mean_ipr(M, 5.0, 4) * M**3 for M in sizes]
    insulator = [_mean_ipr(M, 30.0, 4) for M in sizes]
    # metal: IPR ~ 1/N, so IPR * N stays O(1) (Porter-Thomas gives 3) while N grows 8x
    assert all(1.5 < v < 6.0 for v in metal), metal
    # insulator: IPR independent of M and large (state on a few sites)
    assert all(v > 0.1 for v in insulator), insulator
    assert max(insulator) / min(insulator) < 2.0, insulator
    # and the insulator's IPR * N grows ~ N, unlike the metal's
    assert insulator[-1] * 16**3 > 100 * metal[-1]


# ----------------------------------------------------------------------------- rendering


@pytest.mark.parametrize("renderer", ["boxes", "projections"])
def test_render_shape_range_determinism_sensitivity(renderer: str) -> None:
    S = ShiftInvertSolver("auto")
    rng = np.random.default_rng(3)
    p1 = (S.closest(sample_disorder(10, 16.5, rng)).psi ** 2).reshape(10, 10, 10)
    p2 = (S.closest(sample_disorder(10, 16.5, rng)).psi ** 2).reshape(10, 10, 10)
    a, b, c = render(p1, 64, renderer), render(p1, 64, renderer), render(p2, 64, renderer)
    C = 1 if renderer == "boxes" else 3
    assert a.shape == (C, 64, 64) and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0
    assert np.array_equal(a, b)
    assert np.abs(a - c).mean() > 1e-3


def test_uniform_state_draws_no_boxes() -> None:
    M = 8
    img = render(np.full((M, M, M), 1.0 / M**3), 50, "boxes")
    assert np.all(img == 1.0)  # background only: N|psi|^2 = 1 is not > 1
    one = np.full((M, M, M), 0.5 / (M**3 - 1))
    one[3, 4, 5] = 0.5  # a single big box
    img = render(one, 50, "boxes")
    assert 0 < np.count_nonzero(img < 1.0) < img.size


# ----------------------------------------------------------------------------- simulator


def test_generated_labels_are_the_states_observables() -> None:
    sim = AndersonSimulator.from_config(M=8, w_values=[15.0, 18.0], image_size=32)
    pts = np.array([1, 0, 1])
    a = sim.generate(pts, np.random.default_rng(5))
    np.testing.assert_allclose(a["psi2"].sum(axis=(1, 2, 3)), 1.0, atol=1e-5)
    assert np.array_equal(a["w"], np.float32([18.0, 15.0, 18.0]))
    assert np.array_equal(a["w_index"], np.int16([1, 0, 1]))
    np.testing.assert_allclose(
        a["ipr"], (a["psi2"].astype(np.float64) ** 2).sum(axis=(1, 2, 3)), rtol=1e-5
    )
    assert np.all(np.abs(a["energy"]) < 0.5)
    proj = AndersonSimulator.from_config(
        M=8, w_values=[15.0], renderer="projections", image_size=20
    )
    assert proj.generate(np.array([0]), np.random.default_rng(0))["image"].shape == (1, 3, 20, 20)


def test_defaults_are_the_papers() -> None:
    p = AndersonParams()
    assert p.w_values == PAPER_W_VALUES and len(p.w_values) == 17
    assert (p.image_size, p.renderer, p.target_energy) == (100, "boxes", 0.0)
    assert AndersonSimulator(p).num_points == 17


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"M": 2}, "M"),
        ({"M": 10.5}, "M"),
        ({"w_values": []}, "w_values"),
        ({"w_values": [-1.0]}, "w_values[0]"),
        ({"renderer": "png"}, "renderer"),
        ({"solver": "lapack"}, "solver"),
        ({"image_size": 4}, "image_size"),
        ({"target_energy": 100.0}, "target_energy"),
    ],
)
def test_config_errors_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        AndersonSimulator.from_config(**kwargs)


@pytest.mark.slow
@needs_pardiso
def test_m40_state_is_an_eigenstate() -> None:
    pair = ShiftInvertSolver("pardiso").closest(sample_disorder(40, 16.5, np.random.default_rng(0)))
    assert pair.residual < 1e-8 and abs(pair.energy) < 0.01
