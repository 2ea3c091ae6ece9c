"""Independent cross-check (issue 5): Bloch-wave 000 intensity vs abTEM multislice.

Slow (about 1.5 min on 2 cores, plus ~8 min for the HOLZ acceptance on abTEM's 0.025 Å
grid): run with ``pytest -m slow tests/test_lacbed_abtem.py``.
The comparison code lives in tests/benchmarks/crosscheck_lacbed_abtem.py (also a script
that prints the full R table and saves the overlay plot); it is loaded here by path.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

_SCRIPT = Path(__file__).parent / "benchmarks" / "crosscheck_lacbed_abtem.py"


def _load():
    pytest.importorskip("abtem")
    pytest.importorskip("ase")
    spec = importlib.util.spec_from_file_location("crosscheck_lacbed_abtem", _SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Si", "SrTiO3"])
def test_bloch_matches_abtem_multislice(name):
    """200 kV, t ≈ 200 and 500 Å, 21 tilts over ±10 mrad, B = 0, κ = 0, converged beams.

    Measured (31 tilts, see the README, LACBED cross-check): Si R ≥ 0.998 at both
    thicknesses; SrTiO3 R = 0.999 (200 Å) and 0.95 (500 Å, where HOLZ — in abTEM's 3D
    potential, not in the ZOLZ Bloch code — matter), 0.99 against abTEM's z-averaged
    (HOLZ-free) potential. Thresholds sit a little below those numbers.
    """
    cc = _load()
    tilts = cc.line_tilts(21, 10.0, 20.0)
    res = cc.crosscheck(name, [200.0, 500.0], tilts, nbeams=[800], zolz=True)
    (nb,) = res["bloch"]
    r3d, rz = res["r"]["3D", nb], res["r"]["zolz", nb]
    bloch, ms = res["bloch"][nb], res["abtem"]["3D"]
    # the requirement: agreement with independent multislice, R > 0.9 everywhere
    assert np.all(r3d > 0.9), r3d
    # thin crystal: dynamical but HOLZ-free regime, both codes must agree closely
    assert r3d[0] > 0.995, r3d
    assert np.max(np.abs(bloch[0] - ms[0])) < 0.06
    # HOLZ-free abTEM potential isolates the Bloch solver: tight at both thicknesses
    assert np.all(rz > 0.98), rz
    if name == "Si":  # weak HOLZ for Si [001]: the full 3D multislice agrees closely too
        assert np.all(r3d > 0.99), r3d
    # both are unitary forward-scattering codes: 0 ≤ I_000 ≤ 1
    assert np.all((bloch >= 0) & (bloch <= 1 + 1e-9))
    assert np.all((ms >= 0) & (ms <= 1 + 1e-3))


@pytest.mark.slow
def test_holz_matches_abtem_3d_potential():
    """Issue 14 acceptance: with first-order Laue zone beams (``holz=true``: 3D excitation
    errors, 1/(K_z + g_z) rows) the Bloch code follows abTEM's *3D* potential, which has
    all Laue zones: SrTiO3 (c = 3.905 Å, heavy Sr: strong HOLZ) at t ≈ 500 Å reaches
    R ≥ 0.99 (ZOLZ only: 0.972), Si (weak HOLZ) stays where it was (R ≥ 0.995, within
    0.002 of ZOLZ only). abTEM on a 0.025 Å grid: at 0.05 Å its own U_g are 3–6 % low at
    |g| = 2.6–3.6 Å⁻¹, which limits any comparison to R ≈ 0.98 at 500 Å. 31 tilts over
    ±10 mrad, B = 0, no absorption, 805 ZOLZ + 408 FOLZ beams. Measured (README, LACBED
    cross-check): SrTiO3 0.9998 / 0.9917 (ZOLZ only 0.9991 / 0.9722), Si 0.9999 / 0.9979
    (ZOLZ only 0.9992 / 0.9967)."""
    cc = _load()
    tilts = cc.line_tilts(31, 10.0, 20.0)  # the cross-check's own default line
    for name in ("SrTiO3", "Si"):
        res = cc.crosscheck(name, [200.0, 500.0], tilts, nbeams=[800], sampling=0.025,
                            zolz=False, holz_nbeams=[400])
        (zolz, holz) = res["bloch"]  # labels "805", "805+4xx"
        r_zolz, r_holz = res["r"]["3D", zolz], res["r"]["3D", holz]
        if name == "SrTiO3":
            assert np.all(r_holz >= 0.99), (r_zolz, r_holz)
            assert r_holz[1] > r_zolz[1] + 0.01, (r_zolz, r_holz)  # HOLZ is what was missing
        else:
            assert np.all(r_holz >= 0.995), (r_zolz, r_holz)
            assert np.all(np.abs(r_holz - r_zolz) < 0.002), (r_zolz, r_holz)
        assert np.all((res["bloch"][holz] >= 0) & (res["bloch"][holz] <= 1 + 1e-9))


@pytest.mark.slow
def test_lateral_tiling_does_not_change_plane_wave_result():
    """A plane wave in a periodic crystal: a 1×1 cell and a 3×3 supercell give the same
    φ_000 (so the cross-check can run on one cell laterally)."""
    cc = _load()
    from simulators.lacbed import builtin_crystal

    c = cc.without_debye_waller(builtin_crystal("Si"))
    tilts = cc.line_tilts(3, 8.0, 20.0)
    one = cc.abtem_bright_field(c, tilts, [10], slices_per_cell=4, tile=1)
    three = cc.abtem_bright_field(c, tilts, [10], slices_per_cell=4, tile=3)
    np.testing.assert_allclose(one, three, atol=2e-4)
