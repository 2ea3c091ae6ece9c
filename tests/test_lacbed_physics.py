"""LACBED physics of simulator version 2.0: CIF Debye–Waller factors, Bird–King absorption,
the symmetry wedge, beam convergence and the dataset identity of CIF sources."""

from __future__ import annotations

import numpy as np
import pytest

from physml.errors import ConfigError
from simulators.lacbed import LACBEDSimulator, builtin_crystal, from_config, read_cif_dir
from simulators.lacbed import bloch as B
from simulators.lacbed.convergence import choose_beams, r_value
from simulators.lacbed.crystals import Crystal
from simulators.lacbed.scattering import (
    absorptive_form_factor,
    bird_king_integral,
    electron_scattering_factor,
    lorentz_gamma,
    structure_potential,
    wavelength,
)
from simulators.lacbed.symmetry import candidate_ops, verify_ops

_CIF_HEAD = """data_SrTiO3
_symmetry_space_group_name_H-M   'P m -3 m'
_cell_length_a   3.905
_cell_length_b   3.905
_cell_length_c   3.905
_cell_angle_alpha   90
_cell_angle_beta   90
_cell_angle_gamma   90
_symmetry_Int_Tables_number   221
loop_
 _symmetry_equiv_pos_as_xyz
 'x, y, z'
 '-x, -y, -z'
 'z, x, y'
 'y, z, x'
"""


def _write(tmp_path, name: str, text: str):
    d = tmp_path / "cifs"
    d.mkdir(exist_ok=True)
    (d / name).write_text(text)
    return d


# --- CIF Debye–Waller factors -----------------------------------------------------------


def test_cif_isotropic_b_and_u(tmp_path):
    """B_iso is read as is, U_iso as B = 8π²U, and '0.0070(3)' uncertainties are dropped."""
    text = _CIF_HEAD + """loop_
 _atom_site_label
 _atom_site_type_symbol
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_U_iso_or_equiv
 Sr1 Sr 0 0 0 0.0070(3)
 Ti1 Ti 0.5 0.5 0.5 0.0050
 O1 O 0.5 0.5 0 0.0080
"""
    (c,) = read_cif_dir(_write(tmp_path, "sto.cif", text))
    b = dict(zip(c.z.tolist(), c.b_iso.tolist(), strict=False))
    assert b[38] == pytest.approx(8 * np.pi**2 * 0.0070)
    assert b[22] == pytest.approx(8 * np.pi**2 * 0.0050)
    assert b[8] == pytest.approx(8 * np.pi**2 * 0.0080)
    assert c.u_aniso is None
    btext = text.replace("_atom_site_U_iso_or_equiv", "_atom_site_B_iso_or_equiv")
    (c2,) = read_cif_dir(_write(tmp_path, "sto.cif", btext))
    assert dict(zip(c2.z.tolist(), c2.b_iso.tolist(), strict=False))[38] == pytest.approx(0.0070)


def test_cif_anisotropic_u_follows_symmetry(tmp_path):
    """An O on (½,½,0) with U11 = U22 = 0.010, U33 = 0.004: its images on (0,½,½) and
    (½,0,½) carry the tensor rotated by the generating operation (3-fold about [111]),
    B_eq = 8π² tr(U)/3, and the written CIF reads back to the same tensors."""
    text = _CIF_HEAD + """loop_
 _atom_site_label
 _atom_site_type_symbol
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_B_iso_or_equiv
 Sr1 Sr 0 0 0 0.55
 Ti1 Ti 0.5 0.5 0.5 0.39
 O1 O 0.5 0.5 0 0.60
loop_
 _atom_site_aniso_label
 _atom_site_aniso_U_11
 _atom_site_aniso_U_22
 _atom_site_aniso_U_33
 _atom_site_aniso_U_12
 _atom_site_aniso_U_13
 _atom_site_aniso_U_23
 O1 0.010 0.010 0.004 0 0 0
"""
    (c,) = read_cif_dir(_write(tmp_path, "sto.cif", text))
    assert c.u_aniso is not None
    for pos, diag in (((0.5, 0.5, 0), (0.010, 0.010, 0.004)), ((0, 0.5, 0.5), (0.004, 0.010, 0.010)),
                      ((0.5, 0, 0.5), (0.010, 0.004, 0.010))):
        i = int(np.argmin(np.abs(c.frac - np.array(pos)).sum(axis=1)))
        np.testing.assert_allclose(np.diag(c.u_aniso[i]), diag, atol=1e-12)
        assert c.b_iso[i] == pytest.approx(8 * np.pi**2 * 0.008)
    assert np.all(np.isnan(c.u_aniso[c.z != 8]))
    # the stored record carries the B column and the tensor loop, and reads back the same
    (back,) = read_cif_dir(_write(tmp_path, "sto.cif", c.cif))
    assert "_atom_site_B_iso_or_equiv" in c.cif and "_atom_site_aniso_U_11" in c.cif
    for i in range(len(c.z)):
        j = int(np.argmin(np.abs(back.frac - c.frac[i]).sum(axis=1)))
        np.testing.assert_allclose(back.b_iso[j], c.b_iso[i], rtol=1e-4)
    # anisotropic Debye-Waller factor: for g along [001] the O at (½,½,0) is damped by
    # exp(-2π² U33 g²) — independent check of structure_potential's tensor contraction
    one = [int(np.argmin(np.abs(c.frac - np.array([0.5, 0.5, 0])).sum(axis=1)))]
    g = np.array([[0, 0, 2]])
    u = structure_potential(g, c.a, c.frac[one], c.z[one], c.b_iso[one], 200.0,
                            c.occ[one], c.u_aniso[one])[0]
    q = 2 / c.a
    expect = (lorentz_gamma(200.0) / (np.pi * c.a**3) * electron_scattering_factor(8, q)
              * np.exp(-2 * np.pi**2 * 0.004 * q**2))
    assert abs(u) == pytest.approx(expect, rel=1e-12)


def test_cif_missing_debye_waller(tmp_path, caplog):
    """No B/U for an atom: default_b is used (and said in the log); default_b=None skips
    the file with a message naming the atom."""
    text = _CIF_HEAD + """loop_
 _atom_site_label
 _atom_site_type_symbol
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 Sr1 Sr 0 0 0
 Ti1 Ti 0.5 0.5 0.5
 O1 O 0.5 0.5 0
"""
    d = _write(tmp_path, "sto.cif", text)
    (c,) = read_cif_dir(d, default_b=0.7)
    np.testing.assert_allclose(c.b_iso, 0.7)
    with caplog.at_level("WARNING"):
        assert read_cif_dir(d, default_b=None) == []
    assert "Sr1" in caplog.text and "default_b is None" in caplog.text


def test_cif_digest_changes_identity(tmp_path):
    """A cif_dir dataset's config (hence fingerprint) changes when a CIF's bytes change."""
    d = _write(tmp_path, "si.cif", builtin_crystal("Si").cif)
    before = LACBEDSimulator.from_config(source="cif_dir", cif_dir=str(d), n=8).config()
    same = LACBEDSimulator.from_config(source="cif_dir", cif_dir=str(d), n=8).config()
    (d / "si.cif").write_text(builtin_crystal("Si").cif.replace("5.4309", "5.4310"))
    after = LACBEDSimulator.from_config(source="cif_dir", cif_dir=str(d), n=8).config()
    assert before == same
    assert len(before["cif_digest"]) == 64 and before["cif_digest"] != after["cif_digest"]
    assert "cif_digest" not in from_config(source="builtin", n=8).config()


# --- Bird–King absorptive form factors --------------------------------------------------


def test_bird_king_integral_exact_for_gaussian_factors():
    """For f(q) = Σ a_i exp(-β_i q²) the Bird–King integral is a sum of 2D Gaussian
    integrals, known in closed form: ∫exp(-α q² + v·q) d²q = (π/α) exp(v²/4α). The
    quadrature must reproduce it (Doyle–Turner Si parameters, Acta Cryst. A24, 390
    (1968), as an arbitrary smooth test function; B = 0.2, 0.5, 1.5 Å²)."""
    a = np.array([2.1293, 2.5333, 0.8349, 0.3216])
    beta = np.array([57.7748, 16.4756, 2.8796, 0.3860]) / 4.0  # b s² = (b/4) q²

    def fe(q):
        return np.sum(a[:, None] * np.exp(-beta[:, None] * np.ravel(q)[None] ** 2), 0).reshape(
            np.shape(q))

    g = np.array([0.0, 0.37, 1.0, 2.5, 5.0])
    for b in (0.2, 0.5, 1.5):
        exact = 0.0
        for ai, bi in zip(a, beta, strict=True):
            for aj, bj in zip(a, beta, strict=True):
                al, al2, v = bi + bj, bi + bj + b / 2, 2 * bj + b / 2
                exact = exact + ai * aj * (np.pi / al * np.exp(-bi * bj * g**2 / al)
                                           - np.pi / al2 * np.exp(v**2 * g**2 / (4 * al2) - bj * g**2))
        np.testing.assert_allclose(bird_king_integral(fe, g, b), exact, rtol=1e-6, atol=1e-6)


def test_bird_king_mean_absorption_is_tds_cross_section():
    """U′_0 = K μ0 / 2π with μ0 = σ_TDS / Ω: f′(0) · (2/γλ) must equal
    ∫ f_e(q)² (1 - e^{-Bq²/2}) d²q = 2π ∫ q f² (1 - e^{-Bq²/2}) dq (1D, scipy quad),
    and f′ vanishes without thermal motion (B = 0)."""
    from scipy.integrate import quad

    for z, b in ((14, 0.46), (79, 0.62)):
        ref, _ = quad(lambda q, z=z, b=b: 2 * np.pi * q * electron_scattering_factor(z, q) ** 2
                      * -np.expm1(-b * q * q / 2), 0, np.inf, limit=400)
        fp0 = float(absorptive_form_factor(z, b, 0.0, 200.0))
        assert fp0 * 2 / (lorentz_gamma(200.0) * wavelength(200.0)) == pytest.approx(ref, rel=1e-6)
    assert np.all(absorptive_form_factor(14, 0.0, np.linspace(0, 3, 5), 200.0) == 0)


#: Peng, Ren, Dudarev & Whelan, "Debye–Waller factors and absorptive scattering factors of
#: elemental crystals", Acta Cryst. A52, 456–470 (1996), supplement (IUCr SUP 82472),
#: Tables 10 (Si), 22 (Cu), 24 (Ge), 44 (Au), rows T = 295 K: their B (Å²) and the
#: five-Gaussian fit f⁽⁰⁾(s) = Σ aᵢ exp(-bᵢ s²) (Å, s = sin θ/λ = |g|/2, 100 kV) of the
#: Einstein-model absorptive factor, computed with their own elastic factors (transcribed
#: in github.com/mason-daniel/simulated_tem, many_beam/src/absorbativeScatteringFactors.h).
#: Their f⁽⁰⁾ carries half the Debye–Waller factor: f⁽⁰⁾(s) = f′(s) e^{-Bs²/2}, and
#: U′_g uses f⁽⁰⁾ e^{-Bs²/2} = f′ e^{-Bs²}, the damped factor of our U′_g.
PENG_1996_295K = {
    "Si": (14, 0.4882, (-0.0050, 0.0298, 0.0110, 0.0076, 0.0048),
           (0.0785, 0.4873, 1.2383, 2.2678, 10.6100)),
    "Cu": (29, 0.5542, (-0.0015, -0.0241, 0.1119, 0.0786, 0.0194),
           (0.0156, 0.1104, 0.4697, 1.2869, 3.7227)),
    "Ge": (32, 0.6041, (-0.0008, -0.0283, 0.1558, 0.0879, 0.0115),
           (0.0003, 0.1078, 0.5433, 1.6336, 8.1604)),
    "Au": (79, 0.6240, (-0.0105, -0.1499, 0.8048, 0.3296, 0.0742),
           (0.0184, 0.1165, 0.5029, 1.4115, 5.1805)),
}


@pytest.mark.parametrize("name", sorted(PENG_1996_295K))
def test_bird_king_matches_published_absorptive_factors(name):
    """Our numerically integrated f′ (Kirkland f_e) against Peng et al.'s published
    absorptive factors for four elements (Z = 14..79) at their B and 100 kV, for
    s = 0..2 Å⁻¹: within 2 % of f′(0) everywhere (measured: ≤ 0.8 %; the rest is their
    different elastic factors and 4-digit fit). A wrong prefactor, a missing Lorentz
    factor or λ, or the Debye–Waller factor applied once too often or not at all each
    fails this by ≥ 7 % (measured 8–17 %)."""
    z, b, a_i, b_i = PENG_1996_295K[name]
    s = np.linspace(0.0, 2.0, 41)
    published = np.sum(np.array(a_i)[:, None] * np.exp(-np.array(b_i)[:, None] * s**2), axis=0)
    ours = absorptive_form_factor(z, b, 2 * s, 100.0) * np.exp(-b * s**2 / 2)
    assert np.max(np.abs(ours - published)) < 0.02 * published[0]


def test_bird_king_absorption_keeps_intensity_below_one():
    """With U′_0 included the total intensity decays with thickness; Bird–King and
    proportional (κ = 0.05) absorb by different amounts (the issue's ~3× in intensity)."""
    c = builtin_crystal("Si")
    hkl = B.select_beams(c, 200.0, 30)
    s = B.bloch_system(c, hkl, 200.0, absorption="bird_king")
    tilts, mask = B.tilt_grid(8, 10.0)
    tot = [np.sum(np.abs(B.propagate_chebyshev(s, tilts[mask], t)) ** 2, axis=1)
           for t in (200.0, 800.0, 3200.0)]
    assert np.all(tot[0] < 1) and np.all(np.diff(np.array(tot), axis=0) < 0)
    ref = B.propagate_expm(s, tilts[mask], 800.0)
    np.testing.assert_allclose(B.propagate_chebyshev(s, tilts[mask], 800.0), ref, atol=1e-11)
    assert s.u0_abs > 0 and np.allclose(s.u_absorptive, s.u_absorptive.conj().T)


# --- symmetry wedge ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Si", "SrTiO3", "GaAs", "CsCl"])
def test_symmetry_wedge_equals_full_disc(name):
    """4mm crystals: the wedge-filled disc equals the full solve to 1e-10 (bright field,
    Bird–King absorption), with 8 operations used and ~1/8 of the pixels solved."""
    c = builtin_crystal(name)
    hkl = B.select_beams(c, 200.0, 25, 20.0)
    kw = dict(n=20, thickness=600.0, alpha_mrad=20.0, absorption="bird_king")
    full = B.simulate_disc(c, hkl, symmetry=False, **kw)
    bf = B.simulate_disc(c, hkl, symmetry=True, **kw)
    assert np.max(np.abs(full.pattern - bf.pattern)) < 1e-10
    assert len(bf.symmetry_ops) == 8 and bf.pixels_solved < full.pixels_solved / 6
    # dark fields: only z-preserving operations (2mm for -43m GaAs, 4mm otherwise)
    wedge = B.simulate_disc(c, hkl, symmetry=True, dark_field=[(2, 0, 0), (1, 1, 0)], **kw)
    assert len(wedge.symmetry_ops) == (4 if name == "GaAs" else 8)
    assert np.max(np.abs(full.pattern - wedge.pattern)) < 1e-10
    ref = B.simulate_disc(c, hkl, symmetry=False, return_beams=True, **kw).beams
    for j, g in enumerate([(2, 0, 0), (1, 1, 0)]):
        idx = [i for i, h in enumerate(hkl) if tuple(h) == g]
        expect = ref[..., idx[0]] if idx else np.zeros((20, 20))
        assert np.max(np.abs(wedge.dark_field[j] - expect)) < 1e-10


def test_symmetry_refused_for_low_symmetry_crystal():
    """A P1 arrangement in a cubic cell: spglib offers no 4mm operation, and forced 4mm
    candidates fail the numerical check except the identity and K_t → -K_t (ZOLZ
    reciprocity), so the result still equals the full disc."""
    rng = np.random.default_rng(5)
    c = Crystal(name="p1", a=4.5, frac=rng.random((4, 3)), z=np.array([8, 22, 38, 14]),
                occ=np.ones(4), b_iso=np.full(4, 0.5), sg_number=1, sg_symbol="P1",
                formula="x", cif="")
    assert len(candidate_ops(c, z_preserving_only=True)) == 1
    n = 16
    hkl = B.select_beams(c, 200.0, 20)
    system = B.bloch_system(c, hkl, 200.0, 0.05)
    tilts, mask = B.tilt_grid(n, 10.0)
    flat = tilts.reshape(-1, 2)
    four_mm = [np.array(m) for m in ([[0, 1], [1, 0]], [[-1, 0], [0, 1]], [[0, -1], [1, 0]],
                                     [[-1, 0], [0, -1]])]
    ok = verify_ops(four_mm, n, mask, lambda i: np.abs(
        B.propagate_chebyshev(system, flat[i], 500.0)[:, 0]) ** 2)
    assert [m.tolist() for m in ok] == [[[-1, 0], [0, -1]]]
    full = B.simulate_disc(c, hkl, n, thickness=500.0, symmetry=False)
    wedge = B.simulate_disc(c, hkl, n, thickness=500.0, symmetry=True)
    assert np.max(np.abs(full.pattern - wedge.pattern)) < 1e-10
    assert len(wedge.symmetry_ops) == 2


# --- beams ------------------------------------------------------------------------------


def test_convergence_criterion_monotone():
    """Doubling the beams moves R(N, 2N) towards 1 (SrTiO3, 30 mrad, 630 Å, probe 16²),
    and the chosen set is the first of the sequence that reaches the target."""
    c = builtin_crystal("SrTiO3")
    ch = choose_beams(c, 200.0, 630.0, 30.0, start=16, nbeams_max=256, r_target=0.999,
                      probe_n=16, absorption="bird_king")
    rs = [r for _, r in ch.history]
    assert len(rs) >= 3, ch.history
    assert all(b > a for a, b in zip(rs, rs[1:], strict=False)), ch.history
    assert all(r < 0.999 for r in rs[:-1]) and rs[-1] > 0.99, ch.history
    assert ch.converged == (rs[-1] >= 0.999) and ch.r == rs[-1]
    assert r_value(np.arange(5.0), np.arange(5.0)) == pytest.approx(1.0)


def test_disc_ranking_picks_bragg_lines_in_the_disc():
    """At 30 mrad every ZOLZ beam with |g| < 2K sin α (its Bragg line crosses the disc)
    ranks before any beam outside; with holz the FOLZ (l = -1) beams follow."""
    c = builtin_crystal("SrTiO3")
    k = 1 / wavelength(200.0)
    hkl = B.select_beams(c, 200.0, 200, 30.0, holz=True, holz_nbeams=40)
    zolz, folz = hkl[hkl[:, 2] == 0], hkl[hkl[:, 2] != 0]
    g = np.linalg.norm(zolz / c.a, axis=1)
    inside = g < 2 * k * np.sin(0.03)
    assert np.all(inside[: inside.sum()]) and len(folz) >= 40 and np.all(folz[:, 2] == -1)


def test_holz_rows_follow_the_forward_scattering_equation():
    """With FOLZ beams each row g of dφ/dz = iπ M φ carries 1/(K_z + g_z):
    M = diag(K/(K + g_z)) A with A the plain structure matrix (2K s_g on the diagonal,
    U_{g-h} off it) — a non-Hermitian matrix, exponentiated directly here with scipy's
    expm. The solver works with the symmetrised D A D instead (D = √(K/(K + g_z))); its
    amplitudes must be y = D⁻¹φ: the same 000 beam and the currents |φ_g|²(K + g_z)/K,
    which sum to 1 without absorption (the bare |φ_g|² do not)."""
    from scipy.linalg import expm

    c = builtin_crystal("SrTiO3")
    hkl = B.select_beams(c, 200.0, 20, 10.0, holz=True, holz_nbeams=12)
    assert np.any(hkl[:, 2] == -1)
    s = B.bloch_system(c, hkl, 200.0, absorption="none")
    k = s.k_crystal
    g = hkl / c.a
    u = structure_potential(hkl[:, None, :] - hkl[None, :, :], c.a, c.frac, c.z, c.b_iso,
                            200.0, c.occ)
    tilt = np.array([[0.004, -0.007]])
    kt = k * np.sin(tilt[0])
    kvec = np.array([kt[0], kt[1], np.sqrt(k * k - kt @ kt)])
    a = u.copy()
    np.fill_diagonal(a, -(np.sum(g * g, axis=1) + 2 * g @ kvec))
    m = (k / (k + g[:, 2]))[:, None] * a
    t = 400.0
    phi = expm(1j * np.pi * t / kvec[2] * m)[:, 0]
    y = B.propagate_chebyshev(s, tilt, t)[0]
    current = np.abs(phi) ** 2 * (k + g[:, 2]) / k
    np.testing.assert_allclose(np.abs(y) ** 2, current, atol=1e-10)
    # the bare sum misses 1 by ~3e-7 here (weak FOLZ beams), far above the 1e-14 of the currents
    assert abs(current.sum() - 1) < 1e-12 and abs(np.sum(np.abs(phi) ** 2) - 1) > 1e-8


def test_new_params_validate():
    for bad in (dict(absorption="weickenmeier"), dict(beam_selection="magic"),
                dict(dark_field=[[1, 0]]), dict(nbeams=100, nbeams_max=50),
                dict(beam_r_target=1.5)):
        with pytest.raises(ConfigError):
            from_config(**bad)
    sim = from_config(source="builtin", builtin_names=["Cu"], n=12, beam_selection="fixed",
                      nbeams=9, dark_field=[[2, 0, 0]], holz=True, holz_nbeams=8)
    out = sim.generate(np.zeros(1, dtype=np.int64), np.random.default_rng(0))
    assert out["dark_field"].shape == (1, 1, 12, 12) and out["nbeams"][0] >= 17
    assert np.isnan(out["beam_r"][0]) and LACBEDSimulator.version == "2.1"
