"""LACBED simulator: scattering factors, crystals, Bloch-wave physics, dataset contract."""

from __future__ import annotations

import numpy as np
import pytest

from physml.errors import ConfigError
from simulators.lacbed import LACBEDSimulator, builtin_crystal, from_config, read_cif_dir
from simulators.lacbed import bloch as B
from simulators.lacbed.potential import projected_potential
from simulators.lacbed.scattering import electron_scattering_factor, wavelength


def r_index(y: np.ndarray, yhat: np.ndarray) -> float:
    """Paper eq. (3): R = (1 + ZNCC) / 2."""
    a = (y - y.mean()) / y.std()
    b = (yhat - yhat.mean()) / yhat.std()
    return float(0.5 + 0.5 * np.mean(a * b))


def _beams(name: str, nbeams: int = 30, kappa: float = 0.0):
    c = builtin_crystal(name)
    return B.bloch_system(c, B.select_beams(c, 200.0, nbeams), 200.0, kappa)


def test_wavelength_200kv():
    assert wavelength(200.0) == pytest.approx(0.025079, abs=2e-6)  # textbook value
    assert wavelength(100.0) == pytest.approx(0.037014, abs=2e-6)


def test_kirkland_table_values():
    z = np.arange(1, 87)
    f0 = electron_scattering_factor(z, 0.0)
    assert np.all(np.isfinite(f0))
    # known f_e(0) (Å): H 0.529 (= a0 exactly for hydrogen's analytic f_e), C ~2.5, Au ~ 12
    assert f0[0] == pytest.approx(0.529, rel=0.02)
    assert f0[5] == pytest.approx(2.51, rel=0.05)
    # Mott-Bethe asymptote: f_e(q) -> Z / (2 π² a0 q²) at large q
    q = 30.0
    mott = z / (2 * np.pi**2 * 0.529177 * q**2)
    np.testing.assert_allclose(electron_scattering_factor(z, q), mott, rtol=0.1)


@pytest.mark.slow
def test_kirkland_matches_abtem():
    """Same function as abTEM's own evaluation (slow only because importing abTEM takes
    10-30 s)."""
    abtem = pytest.importorskip("abtem.parametrizations")
    p = abtem.KirklandParametrization()
    ours = electron_scattering_factor(14, np.array([0.0, 0.5, 1.0]))
    ref = p.scattering_factor("Si")(np.array([0.0, 0.5, 1.0]) ** 2)
    np.testing.assert_allclose(ours, ref, rtol=1e-6)


def test_builtin_crystals_labels():
    expect = {
        "Si": 227,
        "GaAs": 216,
        "NaCl": 225,
        "MgO": 225,
        "Cu": 225,
        "SrTiO3": 221,
        "W": 229,
        "CsCl": 221,
        "CaF2": 225,
    }
    for name, sg in expect.items():
        c = builtin_crystal(name)
        assert c.sg_number == sg, name
        assert len(c.cif) < 8192


def test_cif_dir_skips_bad_files(tmp_path):
    (tmp_path / "si.cif").write_text(builtin_crystal("Si").cif)
    (tmp_path / "broken.cif").write_text("data_x\n_cell_length_a 3\n loop_ garbage ###\n")
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifWriter

    hexa = Structure(Lattice.hexagonal(3.0, 5.0), ["Zn"], [[0, 0, 0]])
    (tmp_path / "hex.cif").write_text(str(CifWriter(hexa)))
    got = read_cif_dir(tmp_path)
    assert [c.sg_number for c in got] == [227]


def test_unitarity_and_thin_limit():
    sys_ = _beams("SrTiO3", 40)
    tilts, mask = B.tilt_grid(12, 10.0)
    phi = B.propagate_chebyshev(sys_, tilts[mask], 800.0)
    np.testing.assert_allclose(np.sum(np.abs(phi) ** 2, axis=1), 1.0, atol=1e-6)
    thin = B.propagate_chebyshev(sys_, tilts[mask], 1e-3)
    np.testing.assert_allclose(np.abs(thin[:, 0]) ** 2, 1.0, atol=1e-6)


def test_chebyshev_matches_eigh_and_expm():
    sys_ = _beams("GaAs", 30)
    tilts, mask = B.tilt_grid(8, 10.0)
    c = B.propagate_chebyshev(sys_, tilts[mask], 1000.0)
    np.testing.assert_allclose(c, B.propagate_eigh(sys_, tilts[mask], 1000.0), atol=1e-9)
    sys_k = _beams("GaAs", 30, kappa=0.1)
    ck = B.propagate_chebyshev(sys_k, tilts[mask], 1000.0)
    np.testing.assert_allclose(ck, B.propagate_expm(sys_k, tilts[mask], 1000.0), atol=1e-9)


def test_strong_absorption_matches_expm():
    """κ = 0.3 over 2000 Å: the absorptive part would amplify rounding by ~e^40 in a single
    Chebyshev series; the centred, time-split expansion must still match matrix_exp."""
    sys_ = _beams("SrTiO3", 40, kappa=0.3)
    tilts, mask = B.tilt_grid(6, 10.0)
    c = B.propagate_chebyshev(sys_, tilts[mask], 2000.0)
    ref = B.propagate_expm(sys_, tilts[mask], 2000.0)
    np.testing.assert_allclose(c, ref, atol=1e-12)
    assert np.all(np.sum(np.abs(c) ** 2, axis=1) < 1.0)


def test_single_precision_agrees_with_double():
    """precision="single" (complex64) stays within 1e-4 of complex128 on a 101-beam pattern,
    with and without absorption; bad values are refused."""
    c = builtin_crystal("Si")
    for kappa in (0.0, 0.05):
        kw = dict(n=12, nbeams=100, thickness=1000.0, kappa=kappa)
        p64 = B.lacbed_pattern(c, **kw)
        p32 = B.lacbed_pattern(c, precision="single", **kw)
        assert np.max(np.abs(p32 - p64)) < 1e-4
    with pytest.raises(ValueError, match="precision"):
        B.propagate_chebyshev(_beams("Si", 9), np.zeros((1, 2)), 100.0, precision="half")
    with pytest.raises(ConfigError, match="precision"):
        from_config(precision="half")


def test_absorption_decreases_with_thickness():
    sys_ = _beams("Si", 30, kappa=0.08)
    tilts, mask = B.tilt_grid(8, 10.0)
    totals = [
        np.sum(np.abs(B.propagate_chebyshev(sys_, tilts[mask], t)) ** 2, axis=1)
        for t in (100.0, 400.0, 800.0, 1600.0)
    ]
    assert np.all(np.diff(np.array(totals), axis=0) < 0)
    assert np.all(totals[0] < 1.0)


@pytest.mark.parametrize("name", ["Si", "NaCl", "SrTiO3"])
def test_4mm_symmetry(name):
    p = B.lacbed_pattern(builtin_crystal(name), n=24, nbeams=40, thickness=700.0, symmetry=False)
    scale = p.max()
    for q in (p.T, p[::-1], p[:, ::-1], np.rot90(p)):
        assert np.max(np.abs(p - q)) < 1e-10 * scale


def test_beam_convergence():
    c = builtin_crystal("SrTiO3")
    pats = {nb: B.lacbed_pattern(c, n=24, nbeams=nb, thickness=500.0) for nb in (9, 25, 49, 81)}
    mask = B.tilt_grid(24, 10.0)[1]
    rs = [r_index(pats[a][mask], pats[b][mask]) for a, b in ((9, 25), (25, 49), (49, 81))]
    print("R between successive beam counts 9-25-49-81:", rs)
    assert rs[0] < rs[1] < rs[2]
    assert rs[2] > 0.9


def test_projected_potential_peaks_on_atoms():
    rho = projected_potential(builtin_crystal("SrTiO3"), n=32)
    assert rho.min() == 0.0 and rho.max() == 1.0
    # maxima on the heavy columns (Sr at the corner, Ti+O at the centre); the pure-O
    # column at (1/2, 0) is weaker than both
    assert max(rho[0, 0], rho[16, 16]) == pytest.approx(1.0)
    assert rho[0, 16] < min(rho[0, 0], rho[16, 16])
    np.testing.assert_allclose(rho, rho.T, atol=1e-12)


def test_generate_contract_and_determinism():
    sim = from_config(
        source="random", n=16, nbeams=15, max_atoms=8, thickness=300.0, thickness_max=600.0,
        beam_selection="fixed",
    )
    out = sim.generate(np.zeros(2, dtype=np.int64), np.random.default_rng(3))
    for k, spec in sim.schema().items():
        assert out[k].shape == (2, *spec.shape) and out[k].dtype == np.dtype(spec.dtype), k
    assert np.all((out["space_group"] >= 195) & (out["space_group"] <= 230))
    assert np.all((out["pattern"] >= 0) & (out["pattern"] <= 1))
    again = sim.generate(np.zeros(2, dtype=np.int64), np.random.default_rng(3))
    for k in out:
        np.testing.assert_array_equal(out[k], again[k])


def test_builtin_source_and_config_errors():
    sim = from_config(source="builtin", builtin_names=["Cu"], n=12, nbeams=9, beam_selection="fixed")
    out = sim.generate(np.zeros(1, dtype=np.int64), np.random.default_rng(0))
    assert out["formula"][0] == b"Cu" and out["space_group"][0] == 225
    with pytest.raises(ConfigError, match="allowed"):
        from_config(bogus=1)
    with pytest.raises(ConfigError, match="source"):
        from_config(source="icsd")
    with pytest.raises(ConfigError, match="sg_weights"):
        from_config(sampling="weighted", sg_weights=[1.0] * 5)
    with pytest.raises(ConfigError, match="cif_dir"):
        LACBEDSimulator.from_config(source="cif_dir", cif_dir="/nonexistent")
