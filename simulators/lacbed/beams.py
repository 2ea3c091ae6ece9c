"""Beam sets for the Bloch-wave LACBED solver: which reciprocal-lattice points to include.

Criterion (documented in the README): every beam g is scored by its *disc excitation
error* s_min(g) = min over all incident directions in the convergence disc of |2K s_g|,
the closest any pixel of the disc comes to g's Bragg condition. With K_t the tilt
(|K_t| ≤ K sin α) and 2K s_g = -(|g|² + 2K_z g_z + 2K_t·g_t),

    s_min(g) = max(0, |g|² + 2K g_z| - 2K sin α |g_t|)   (in Å⁻², K_z ≈ K),

so every beam whose Bragg line crosses the disc scores 0. Zero-order Laue zone (ZOLZ,
(hk0)) beams are ranked by (s_min, |g|); with ``holz`` the first-order Laue zone (FOLZ,
l = -1 for a beam travelling along +z, whose Ewald-sphere ring sits at |g_t|² ≈ 2K/c)
adds its own ranked list by (s_min, -|U_g|, |g_t|), i.e. the HOLZ reflections whose
lines cross the disc first, strongest first. Cuts are extended to complete the last tie
group, so the set keeps the zone axis' point symmetry (a truncated shell breaks 4mm).
Lattice-centring absences are removed; glide/screw-forbidden reflections stay (they are
real lattice points that dynamical scattering excites).
"""

from __future__ import annotations

import numpy as np

from .crystals import Crystal
from .scattering import structure_potential, wavelength


def allowed_by_centering(hkl: np.ndarray, centering: str) -> np.ndarray:
    """Reflections that exist for the lattice (P: all; I: h+k+l even; F: unmixed parity)."""
    h, k, m = hkl[..., 0], hkl[..., 1], hkl[..., 2]
    if centering == "I":
        return (h + k + m) % 2 == 0
    if centering == "F":
        return (h % 2 == k % 2) & (k % 2 == m % 2)
    return np.ones(hkl.shape[:-1], dtype=bool)


def disc_excitation_error(hkl: np.ndarray, a: float, voltage_kv: float,
                          alpha_mrad: float) -> np.ndarray:
    """s_min(g) in Å⁻² (see the module docstring) for Miller indices (N, 3) of a cubic cell."""
    k = 1.0 / wavelength(voltage_kv)
    g = np.asarray(hkl, dtype=np.float64) / a
    gt = np.hypot(g[:, 0], g[:, 1])
    c = np.abs(np.sum(g**2, axis=1) + 2.0 * k * g[:, 2])
    return np.maximum(0.0, c - 2.0 * k * np.sin(alpha_mrad * 1e-3) * gt)


def _layer(hmax: int, l_index: int, centering: str) -> np.ndarray:
    r = np.arange(-hmax, hmax + 1)
    h, k = np.meshgrid(r, r, indexing="ij")
    hkl = np.stack([h.ravel(), k.ravel(), np.full(h.size, l_index)], axis=1)
    return hkl[allowed_by_centering(hkl, centering)]


def _take_ranked(hkl: np.ndarray, keys: list[np.ndarray], count: int) -> np.ndarray:
    """The first ``count`` rows by lexicographic ``keys`` (first key most significant),
    extended to the end of the tie group of the last one taken."""
    rounded = [np.round(k, 9) for k in keys]
    order = np.lexsort(tuple(reversed(rounded)))
    hkl = hkl[order]
    ranked = np.stack([k[order] for k in rounded], axis=1)
    if count >= len(hkl):
        return hkl
    last = ranked[count - 1]
    end = count
    while end < len(hkl) and np.all(ranked[end] == last):
        end += 1
    return hkl[:end]


def select_beams(
    crystal: Crystal,
    voltage_kv: float,
    nbeams: int,
    alpha_mrad: float = 0.0,
    holz: bool = False,
    holz_nbeams: int | None = None,
) -> np.ndarray:
    """Miller indices (N, 3) of the beams, 000 first: ≥ ``nbeams`` ZOLZ beams and, with
    ``holz``, ≥ ``holz_nbeams`` (default ``nbeams``) FOLZ beams, ranked as in the module
    docstring. ``alpha_mrad = 0`` ranks by the zone-axis excitation error alone (v1.0)."""
    a = crystal.a
    hmax = 2
    while True:
        zolz = _layer(hmax, 0, crystal.centering)
        inside = np.linalg.norm(zolz, axis=1) <= hmax
        if inside.sum() >= 3 * nbeams:
            break
        hmax += 1
    zolz = zolz[inside]
    s = disc_excitation_error(zolz, a, voltage_kv, alpha_mrad)
    g2 = np.sum((zolz / a) ** 2, axis=1)
    beams = _take_ranked(zolz, [s, g2], nbeams)
    if not holz:
        return beams
    nh = nbeams if holz_nbeams is None else holz_nbeams
    k = 1.0 / wavelength(voltage_kv)
    ring = np.sqrt(max(2.0 * k / a - 1.0 / a**2, 0.0))  # |g_t| of the FOLZ ring, 1/Å
    span = 2.0 * k * np.sin(alpha_mrad * 1e-3) + 1.0
    hf = int(np.ceil((ring + span + 1.0) * a)) + 2
    folz = _layer(hf, -1, crystal.centering)
    sf = disc_excitation_error(folz, a, voltage_kv, alpha_mrad)
    thr = np.sort(sf)[min(max(4 * nh, 64), len(sf)) - 1]
    near = sf <= thr * (1 + 1e-9) + 1e-12  # whole tie groups, so symmetry survives
    folz, sf = folz[near], sf[near]
    ug = np.abs(structure_potential(folz, a, crystal.frac, crystal.z, crystal.b_iso,
                                    voltage_kv, crystal.occ, crystal.u_aniso))
    ug = ug / max(float(ug.max()), 1e-300)
    gt2 = np.sum((folz[:, :2] / a) ** 2, axis=1)
    return np.concatenate([beams, _take_ranked(folz, [sf, -ug, gt2], nh)])
