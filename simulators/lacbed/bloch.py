"""Bloch-wave bright-field LACBED for the [001] zone axis, batched over pixels in torch.

Physics (high-energy, forward-scattering form of the Bloch-wave equations; Spence & Zuo,
*Electron Microdiffraction*, ch. 3, and FELIX). Write the wave in the crystal as
ψ = Σ_g φ_g(z) exp[2πi (K+g)·r]. Dropping φ'' gives

    dφ/dz = (iπ / K_z) A φ,   A_gg = 2K s_g,   A_gh = U_{g-h}  (g ≠ h),

with 2K s_g = K² - |K+g|² = -(|g|² + 2 K·g) the excitation error of beam g for the
incident wavevector K (|K|² = k0² + U_0, i.e. corrected for the mean inner potential). So
the exit wave at thickness t is φ(t) = exp(iπ t A / K_z) e_000, which is what Bloch-wave
codes compute via A = C Λ C⁻¹. Absorption: the proportional model U'_g = iκ U_g for all
g (including U'_0, which gives the mean absorption exp(-π κ U_0 t / K_z)).

Speed: the off-diagonal part of A does not depend on the tilt — only the diagonal does.
So instead of diagonalising one N×N matrix per pixel we expand exp(iτA) e_000 in
Chebyshev polynomials (Jacobi–Anger: e^{iz x} = Σ ε_k i^k J_k(z) T_k(x)); each term costs
one matrix product (N×N shared coupling) @ (N × pixels), i.e. one large GEMM, plus a
per-pixel diagonal scaling. This is exact to ~1e-12 (coefficients are truncated when
|J_k| < 1e-15) and runs unchanged on CPU and GPU.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from numba import njit
from scipy.special import jv

from .crystals import Crystal
from .scattering import structure_potential, wavelength


def allowed_by_centering(hkl: np.ndarray, centering: str) -> np.ndarray:
    """Reflections that exist for the lattice (P: all; I: h+k+l even; F: unmixed parity).

    Only lattice-centring absences are removed: glide/screw-forbidden reflections are
    real reciprocal-lattice points that dynamical scattering can excite, so they stay.
    """
    h, k, m = hkl[..., 0], hkl[..., 1], hkl[..., 2]
    if centering == "I":
        return (h + k + m) % 2 == 0
    if centering == "F":
        return (h % 2 == k % 2) & (k % 2 == m % 2)
    return np.ones(hkl.shape[:-1], dtype=bool)


def select_beams(crystal: Crystal, voltage_kv: float, nbeams: int) -> np.ndarray:
    """Miller indices (N, 3) of the beams, 000 first, N >= nbeams.

    Beam pool: zero-order Laue zone (hk0) points allowed by the lattice centring, inside
    a disc holding at least 3·nbeams of them. Strong beams: smallest |s_g| at the zone-
    axis orientation (2K s_g = -(g² + 2K g_z), = -g² in the ZOLZ), then |g|. Higher-order
    Laue zone beams are not included: at 200 kV they lie on rings |g| ≳ 3.5 Å⁻¹ for
    a ≲ 6 Å, couple through tiny U_g and give fine HOLZ lines that a 128-px pattern
    barely resolves, while widening the spectrum (and cost) a lot. The cut is
    extended to complete the last shell of equal (|s_g|, |g|) so that the beam set keeps
    the full point symmetry of the zone axis (a truncated shell would break 4mm).
    """
    a = crystal.a
    k0 = 1.0 / wavelength(voltage_kv)
    hmax = 2
    while True:
        r = np.arange(-hmax, hmax + 1)
        h, k = np.meshgrid(r, r, indexing="ij")
        zolz = np.stack([h.ravel(), k.ravel(), np.zeros(h.size, int)], axis=1)
        inside = (np.linalg.norm(zolz, axis=1) <= hmax) & allowed_by_centering(
            zolz, crystal.centering
        )
        if inside.sum() >= 3 * nbeams:
            break
        hmax += 1
    hkl = zolz[inside]
    g = hkl / a
    g2 = np.sum(g**2, axis=1)
    s = np.abs(g2 + 2.0 * k0 * g[:, 2]) / (2.0 * k0)
    order = np.lexsort((np.round(g2, 9), np.round(s, 12)))
    hkl, s, g2 = hkl[order], s[order], g2[order]
    if nbeams >= len(hkl):
        return hkl
    s_cut, g_cut = s[nbeams - 1], g2[nbeams - 1]
    tol = 1e-9
    keep = (s < s_cut - tol * max(s_cut, 1e-12)) | (
        (np.abs(s - s_cut) <= tol * max(s_cut, 1e-12)) & (g2 <= g_cut * (1 + tol))
    )
    return hkl[keep]


@dataclasses.dataclass
class BlochSystem:
    """Everything tilt-independent for one crystal and beam set (numpy, complex128)."""

    hkl: np.ndarray  # (N, 3) Miller indices, 000 first
    g: np.ndarray  # (N, 3) in 1/Å
    coupling: np.ndarray  # (N, N): (1 + iκ) U_{g-h}, zero diagonal
    u0: float  # mean potential U_0 (1/Å²), real
    kappa: float
    k_crystal: float  # |K| = sqrt(k0² + U_0) in 1/Å


def bloch_system(crystal: Crystal, hkl: np.ndarray, voltage_kv: float, kappa: float) -> BlochSystem:
    """Structure matrix pieces: U_{g-h} for all beam pairs from the Kirkland factors."""
    diff = hkl[:, None, :] - hkl[None, :, :]
    u = structure_potential(diff, crystal.a, crystal.frac, crystal.z, crystal.b_iso,
                            voltage_kv, crystal.occ)
    u0 = float(u[0, 0].real)
    coupling = (1.0 + 1j * kappa) * u
    np.fill_diagonal(coupling, 0.0)
    k0 = 1.0 / wavelength(voltage_kv)
    return BlochSystem(hkl=hkl, g=hkl / crystal.a, coupling=coupling, u0=u0, kappa=kappa,
                       k_crystal=float(np.sqrt(k0**2 + u0)))


def tilt_grid(n: int, alpha_mrad: float) -> tuple[np.ndarray, np.ndarray]:
    """Beam tilts (radians) at the centres of an n×n grid spanning [-α, α]², and the mask
    of pixels inside the convergence disc. Row index ↔ y ([010]), column ↔ x ([100])."""
    alpha = alpha_mrad * 1e-3
    c = (np.arange(n) - (n - 1) / 2.0) * (2.0 * alpha / n)
    ty, tx = np.meshgrid(c, c, indexing="ij")
    tilts = np.stack([tx, ty], axis=-1)
    mask = tx**2 + ty**2 <= alpha**2 * (1 + 1e-12)
    return tilts, mask


def _diagonal(system: BlochSystem, tilts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel 2K s_g (P, N) and K_z (P,) for tilts (P, 2) in radians."""
    kk = system.k_crystal
    kt = kk * np.sin(tilts)  # small-angle tilt of K away from [001]
    kz = np.sqrt(kk**2 - np.sum(kt**2, axis=1))
    kvec = np.concatenate([kt, kz[:, None]], axis=1)
    d = -(np.sum(system.g**2, axis=1)[None, :] + 2.0 * kvec @ system.g.T)
    return d, kz


def propagate_chebyshev(
    system: BlochSystem,
    tilts: np.ndarray,
    thickness: float,
    device: str = "cpu",
    chunk: int = 16384,
    tol: float = 1e-15,
) -> np.ndarray:
    """Exit-wave amplitudes φ_g(t) (P, N) for tilts (P, 2): Chebyshev expansion of exp(iτA).

    One spectral interval [c_p - h, c_p + h] per pixel (centre c_p from that pixel's
    diagonal, common half-width h from Gershgorin), so the shared coupling is scaled once
    and every term is one GEMM plus two fused in-place element-wise updates.
    """
    dev = torch.device(device)
    radius = float(np.max(np.sum(np.abs(system.coupling), axis=1)))  # Gershgorin
    out = np.empty((len(tilts), len(system.hkl)), dtype=np.complex128)
    for start in range(0, len(tilts), chunk):
        d, kz = _diagonal(system, tilts[start : start + chunk])
        npix = d.shape[0]
        tau = np.pi * thickness / kz
        centre = 0.5 * (d.max(axis=1) + d.min(axis=1))
        half = float(np.max(0.5 * (d.max(axis=1) - d.min(axis=1)))) + radius + 1e-12
        z = tau * half
        kmax = int(np.ceil(z.max() + 12.0 * np.cbrt(z.max()) + 30))
        coef = jv(np.arange(kmax + 1)[:, None], z[None, :])  # (K, P)
        live = np.nonzero(np.max(np.abs(coef), axis=1) > tol)[0]
        kmax = int(live[-1]) if len(live) else 0
        coef = coef[: kmax + 1] * (1j ** np.arange(kmax + 1))[:, None]
        coef[1:] *= 2.0
        if dev.type == "cpu":
            out[start : start + npix] = _chebyshev_cpu(system.coupling / half,
                                                       (d - centre[:, None]) / half, coef)
        else:
            out[start : start + npix] = _chebyshev_torch(system.coupling / half,
                                                         (d - centre[:, None]) / half, coef,
                                                         dev)
        out[start : start + npix] *= np.exp(1j * tau * centre - tau * system.kappa
                                            * system.u0)[:, None]
    return out


@njit(cache=True)
def _cheb_step(buf, v, vp, dn, cr, ci, acc):  # pragma: no cover - numba
    """Fused T_k recurrence + accumulation on block-real (2N, P) arrays, in place:
    buf <- 2 (buf + dn∘v) - vp  (buf holds (C/h) v on entry);  acc += coef ∘ buf."""
    n = dn.shape[0]
    npix = dn.shape[1]
    for j in range(n):  # serial: BLAS owns the cores during the GEMM, no oversubscription
        for p in range(npix):
            nr = 2.0 * (buf[j, p] + dn[j, p] * v[j, p]) - vp[j, p]
            ni = 2.0 * (buf[n + j, p] + dn[j, p] * v[n + j, p]) - vp[n + j, p]
            buf[j, p] = nr
            buf[n + j, p] = ni
            acc[j, p] += cr[p] * nr - ci[p] * ni
            acc[n + j, p] += cr[p] * ni + ci[p] * nr


def _chebyshev_cpu(cs: np.ndarray, dn: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """CPU path: real block form [[Re, -Im], [Im, Re]] so each term is one dgemm (BLAS)
    plus one fused numba pass; beam-major (2N, P) layout for a BLAS-friendly GEMM."""
    nb, npix = cs.shape[0], dn.shape[0]
    m = np.block([[cs.real, -cs.imag], [cs.imag, cs.real]])
    dnt = np.ascontiguousarray(dn.T)
    vp = np.zeros((2 * nb, npix))
    vp[0] = 1.0
    acc = np.zeros((2 * nb, npix))
    acc[0] = coef[0].real
    acc[nb] = coef[0].imag
    if len(coef) > 1:
        v = m @ vp
        v[:nb] += dnt * vp[:nb]
        v[nb:] += dnt * vp[nb:]
        acc[:nb] += coef[1].real * v[:nb] - coef[1].imag * v[nb:]
        acc[nb:] += coef[1].real * v[nb:] + coef[1].imag * v[:nb]
        buf = np.empty_like(v)
        for k in range(2, len(coef)):
            np.matmul(m, v, out=buf)
            _cheb_step(buf, v, vp, dnt, coef[k].real.copy(), coef[k].imag.copy(), acc)
            vp, v, buf = v, buf, vp
    return (acc[:nb] + 1j * acc[nb:]).T


def _chebyshev_torch(cs: np.ndarray, dn: np.ndarray, coef: np.ndarray,
                     dev: torch.device) -> np.ndarray:
    """GPU (any torch device) path: pixel-major complex tensors, in-place updates."""
    npix, nb = dn.shape
    # pixel-major layout (P, N): rows are pixels, the GEMM is V @ (C/h)^T
    coef_t = torch.as_tensor(coef[:, :, None], dtype=torch.complex128, device=dev)
    cmat = torch.as_tensor(cs.T, dtype=torch.complex128, device=dev)
    dn = torch.as_tensor(dn, dtype=torch.complex128, device=dev)
    v_prev = torch.zeros((npix, nb), dtype=torch.complex128, device=dev)
    v_prev[:, 0] = 1.0
    acc = coef_t[0] * v_prev
    kmax = len(coef) - 1
    if kmax >= 1:
        v = torch.addcmul(v_prev @ cmat, dn, v_prev)
        acc.addcmul_(coef_t[1], v)
        buf = torch.empty_like(v)
        for k in range(2, kmax + 1):
            torch.matmul(v, cmat, out=buf)  # buf = (C/h) v
            buf.addcmul_(dn, v).mul_(2.0).sub_(v_prev)  # T_{k} recurrence
            acc.addcmul_(coef_t[k], buf)
            v_prev, v, buf = v, buf, v_prev
    return acc.cpu().numpy()


def _full_matrices(system: BlochSystem, tilts: np.ndarray, dev: torch.device):
    d, kz = _diagonal(system, tilts)
    a = np.broadcast_to(system.coupling, (len(tilts),) + system.coupling.shape).copy()
    idx = np.arange(len(system.hkl))
    a[:, idx, idx] = d + 1j * system.kappa * system.u0
    tau = np.pi * 1.0 / kz
    return torch.as_tensor(a, dtype=torch.complex128, device=dev), tau


def propagate_eigh(
    system: BlochSystem, tilts: np.ndarray, thickness: float, device: str = "cpu",
    chunk: int = 2048,
) -> np.ndarray:
    """Reference: batched Hermitian diagonalisation (the textbook Bloch-wave route), κ = 0."""
    if system.kappa != 0.0:
        raise ValueError("propagate_eigh needs a Hermitian matrix (kappa = 0)")
    dev = torch.device(device)
    out = np.empty((len(tilts), len(system.hkl)), dtype=np.complex128)
    for start in range(0, len(tilts), chunk):
        a, tau = _full_matrices(system, tilts[start : start + chunk], dev)
        lam, c = torch.linalg.eigh(a)
        ph = torch.exp(1j * torch.as_tensor(tau * thickness, device=dev)[:, None] * lam)
        alpha = c[:, 0, :].conj()  # C^H e_0
        out[start : start + len(tau)] = torch.einsum("pgj,pj->pg", c, ph * alpha).cpu().numpy()
    return out


def propagate_expm(
    system: BlochSystem, tilts: np.ndarray, thickness: float, device: str = "cpu",
    chunk: int = 2048,
) -> np.ndarray:
    """Reference: batched dense matrix exponential (also valid with absorption)."""
    dev = torch.device(device)
    out = np.empty((len(tilts), len(system.hkl)), dtype=np.complex128)
    for start in range(0, len(tilts), chunk):
        a, tau = _full_matrices(system, tilts[start : start + chunk], dev)
        scale = torch.as_tensor(1j * thickness * tau, device=dev)  # iπt/K_z
        e = torch.linalg.matrix_exp(scale[:, None, None] * a)
        out[start : start + len(tau)] = e[:, :, 0].cpu().numpy()
    return out


METHODS = {"chebyshev": propagate_chebyshev, "eigh": propagate_eigh, "expm": propagate_expm}


def lacbed_pattern(
    crystal: Crystal,
    n: int = 128,
    voltage_kv: float = 200.0,
    thickness: float = 1000.0,
    alpha_mrad: float = 10.0,
    nbeams: int = 100,
    kappa: float = 0.05,
    device: str = "cpu",
    method: str = "chebyshev",
    return_beams: bool = False,
):
    """Bright-field (000) LACBED intensity on an n×n tilt grid; zero outside the disc.

    With ``return_beams`` also returns the intensities of all beams (n, n, N) and the
    Miller indices, for conservation checks.
    """
    hkl = select_beams(crystal, voltage_kv, nbeams)
    system = bloch_system(crystal, hkl, voltage_kv, kappa)
    tilts, mask = tilt_grid(n, alpha_mrad)
    phi = METHODS[method](system, tilts[mask], thickness, device=device)
    pattern = np.zeros((n, n))
    pattern[mask] = np.abs(phi[:, 0]) ** 2
    if not return_beams:
        return pattern
    beams = np.zeros((n, n, len(hkl)))
    beams[mask] = np.abs(phi) ** 2
    return pattern, beams, hkl
