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


PRECISIONS = ("double", "single")


def _spectral_bounds(system: BlochSystem) -> tuple[float, float]:
    """(λ_min, λ_max) of the Hermitian coupling U (zero diagonal): tilt-independent, so one
    N×N eigvalsh. By Weyl, the Hermitian part D_p + U of A_p has its spectrum in
    [min d_p + λ_min, max d_p + λ_max] (tighter than the Gershgorin row sum); with
    absorption the numerical range also spans i·κ[λ_min, λ_max] (+ iκU_0)."""
    u = system.coupling / (1.0 + 1j * system.kappa)
    lam = np.linalg.eigvalsh(0.5 * (u + u.conj().T))
    return float(lam[0]), float(lam[-1])


def chebyshev_coefficients(z0: float, growth: float, tol: float) -> np.ndarray:
    """Jacobi–Anger coefficients ε_k i^k J_k(z0) of e^{i z0 x}, truncated where
    |J_k(z0)| e^{growth·k} < tol. ρ^k = e^{growth·k} bounds |T_k| on a Bernstein ellipse
    holding the numerical range, which leaves the real axis by the absorptive part
    (growth = 0 without absorption: then |T_k| ≤ 1 on [-1, 1])."""
    kmax = int(np.ceil(z0 + 12.0 * np.cbrt(z0) + 40))
    k = np.arange(kmax + 1)
    j = jv(k, z0)
    live = np.nonzero(np.abs(j) * np.exp(growth * k) > tol)[0]
    kmax = int(live[-1]) if len(live) else 0
    coef = j[: kmax + 1] * (1j ** k[: kmax + 1])
    coef[1:] *= 2.0
    return coef


def propagate_chebyshev(
    system: BlochSystem,
    tilts: np.ndarray,
    thickness: float,
    device: str = "cpu",
    chunk: int | None = None,
    tol: float | None = None,
    precision: str = "double",
) -> np.ndarray:
    """Exit-wave amplitudes φ_g(t) (P, N) for tilts (P, 2): Chebyshev expansion of exp(iτA).

    Every pixel p gets its own spectral interval [c_p - h_p, c_p + h_p] (Weyl bound), and
    the matrix is rescaled so that all pixels share ONE argument z0 = max_p τ_p h_p:

        exp(iτ_p A_p) = e^{iτ_p c_p} e^{-τ_p κ (U_0 + μ)} exp(i z0 B_p),
        B_p = σ_p (C' + D_p - c_p),  σ_p = τ_p / z0,  C' = (1 + iκ)U - iκμ,

    with μ the midpoint of U's spectrum (so the absorptive part of B_p is centred and
    small). The Jacobi–Anger coefficients J_k(z0) are then scalars (no per-pixel Bessel
    table), the shared C' goes into one GEMM per term for all pixels, σ_p and the
    diagonal are element-wise. With absorption the series is split into m equal steps,
    exp(i z0 B) = exp(i z0 B / m)^m, so that the Bernstein-ellipse growth of T_k (which
    amplifies rounding) stays below e^7 per step. ``precision="single"`` runs the
    recurrence in complex64/float32 (|Δφ| ~ 1e-5, see tests); default complex128.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if tol is None:
        tol = 1e-15 if precision == "double" else 1e-9
    dev = torch.device(device)
    if chunk is None:  # a GPU wants all pixels in one GEMM; a CPU wants cache-sized blocks
        chunk = 16384 if dev.type == "cpu" else 1 << 18
    lam_lo, lam_hi = _spectral_bounds(system)
    mu = 0.5 * (lam_lo + lam_hi)
    tilts = np.asarray(tilts, dtype=np.float64)
    d, kz = _diagonal(system, tilts)
    tau = np.pi * thickness / kz
    lo, hi = d.min(axis=1) + lam_lo, d.max(axis=1) + lam_hi
    centre = 0.5 * (lo + hi)
    half = 0.5 * (hi - lo) + 1e-12
    z0 = float(np.max(tau * half)) if len(tau) else 0.0
    sigma = tau / max(z0, 1e-300)
    steps, growth = 1, 0.0
    if system.kappa > 0:  # Bernstein ellipse E_ρ ⊃ [-1, 1] × i[-b, b]: b = sinh ε tanh ε
        b = system.kappa * 0.5 * (lam_hi - lam_lo) * float(np.max(sigma))
        growth = float(np.arcsinh(np.sqrt(0.5 * (b * b + np.sqrt(b**4 + 4 * b * b)))))
        steps = max(1, int(np.ceil(growth * z0 / 7.0)))
        tol = tol / (1.0 + np.sqrt(2.0))  # Crouzeix: ‖T_k(B)‖ ≤ (1 + √2) ρ^k
    coef = chebyshev_coefficients(z0 / steps, growth, tol)
    cmat = system.coupling - 1j * system.kappa * mu * np.eye(len(system.hkl))
    dn = sigma[:, None] * (d - centre[:, None])  # (P, N) scaled, centred diagonal
    phase = np.exp(1j * tau * centre - tau * system.kappa * (system.u0 + mu))
    out = np.empty((len(tilts), len(system.hkl)), dtype=np.complex128)
    for start in range(0, len(tilts), chunk):
        sl = slice(start, start + chunk)
        if dev.type == "cpu":
            out[sl] = _chebyshev_cpu(cmat, dn[sl], sigma[sl], coef, steps, precision)
        else:
            out[sl] = _chebyshev_torch(cmat, dn[sl], sigma[sl], coef, steps, dev, precision)
    out *= phase[:, None]
    return out


@njit(cache=True)
def _cheb_step(buf, v, vp, dn2, sig2, cr, ci, acc):  # pragma: no cover - numba
    """Fused T_k recurrence + accumulation on block-real (2N, P) arrays, in place:
    buf <- 2 (σ∘buf + dn∘v) - vp  (buf holds C v on entry);  acc += coef · buf."""
    n = dn2.shape[0]
    npix = dn2.shape[1]
    for j in range(n):  # serial: BLAS owns the cores during the GEMM, no oversubscription
        for p in range(npix):
            nr = sig2[p] * buf[j, p] + dn2[j, p] * v[j, p] - vp[j, p]
            ni = sig2[p] * buf[n + j, p] + dn2[j, p] * v[n + j, p] - vp[n + j, p]
            buf[j, p] = nr
            buf[n + j, p] = ni
            acc[j, p] += cr * nr - ci * ni
            acc[n + j, p] += cr * ni + ci * nr


def _chebyshev_cpu(c: np.ndarray, dn: np.ndarray, sigma: np.ndarray, coef: np.ndarray,
                   steps: int, precision: str) -> np.ndarray:
    """CPU path: real block form [[Re, -Im], [Im, Re]] so each term is one BLAS GEMM
    plus one fused numba pass; beam-major (2N, P) layout for a BLAS-friendly GEMM."""
    rdt = np.float64 if precision == "double" else np.float32
    nb, npix = c.shape[0], dn.shape[0]
    m = np.block([[c.real, -c.imag], [c.imag, c.real]]).astype(rdt)
    dnt = np.ascontiguousarray(dn.T, dtype=rdt)
    sig = sigma.astype(rdt)
    dn2, sig2 = 2 * dnt, 2 * sig
    cr, ci = coef.real.astype(rdt), coef.imag.astype(rdt)
    start = np.zeros((2 * nb, npix), dtype=rdt)
    start[0] = 1.0
    for _ in range(steps):
        vp = start
        acc = cr[0] * vp
        acc[:nb] -= ci[0] * vp[nb:]
        acc[nb:] += ci[0] * vp[:nb]
        if len(coef) > 1:
            v = m @ vp
            v *= sig[None, :]
            v[:nb] += dnt * vp[:nb]
            v[nb:] += dnt * vp[nb:]
            acc[:nb] += cr[1] * v[:nb] - ci[1] * v[nb:]
            acc[nb:] += cr[1] * v[nb:] + ci[1] * v[:nb]
            vp = vp.copy()  # the recurrence overwrites it; `start` must not alias
            buf = np.empty_like(v)
            for k in range(2, len(coef)):
                np.matmul(m, v, out=buf)
                _cheb_step(buf, v, vp, dn2, sig2, cr[k], ci[k], acc)
                vp, v, buf = v, buf, vp
        start = acc
    return (start[:nb] + 1j * start[nb:].astype(np.float64)).T


def _chebyshev_torch(c: np.ndarray, dn: np.ndarray, sigma: np.ndarray, coef: np.ndarray,
                     steps: int, dev: torch.device, precision: str) -> np.ndarray:
    """Torch (GPU) path: pixel-major (P, N) complex tensors that stay on the device; per
    term one GEMM V @ C^T and four in-place element-wise kernels with scalar coefficients
    (no host↔device traffic inside the loop; one copy back at the end)."""
    cdt = torch.complex128 if precision == "double" else torch.complex64
    rdt = torch.float64 if precision == "double" else torch.float32
    npix, nb = dn.shape
    cmat = torch.as_tensor(np.ascontiguousarray(c.T), device=dev).to(cdt)
    dn1 = torch.as_tensor(dn, device=dev).to(rdt)
    dn2 = 2.0 * dn1
    sig = torch.as_tensor(sigma[:, None], device=dev).to(rdt)
    sig2 = 2.0 * sig
    cs = [complex(x) for x in coef]
    start = torch.zeros((npix, nb), dtype=cdt, device=dev)
    start[:, 0] = 1.0
    for _ in range(steps):
        v_prev = start
        acc = v_prev * cs[0]
        if len(cs) > 1:
            v = torch.addcmul(torch.mul(v_prev @ cmat, sig), dn1, v_prev)
            acc.add_(v, alpha=cs[1])
            v_prev = v_prev.clone()
            buf = torch.empty_like(v)
            for k in range(2, len(cs)):
                torch.matmul(v, cmat, out=buf)  # buf = C' v (one GEMM for all pixels)
                buf.mul_(sig2).addcmul_(dn2, v).sub_(v_prev)  # T_k recurrence
                acc.add_(buf, alpha=cs[k])
                v_prev, v, buf = v, buf, v_prev
        start = acc
    return start.to(torch.complex128).cpu().numpy()


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
    precision: str = "double",
):
    """Bright-field (000) LACBED intensity on an n×n tilt grid; zero outside the disc.

    With ``return_beams`` also returns the intensities of all beams (n, n, N) and the
    Miller indices, for conservation checks. ``precision`` ("double"/"single") is
    passed to the Chebyshev solver (the reference methods are always complex128).
    """
    hkl = select_beams(crystal, voltage_kv, nbeams)
    system = bloch_system(crystal, hkl, voltage_kv, kappa)
    tilts, mask = tilt_grid(n, alpha_mrad)
    kw = {"precision": precision} if method == "chebyshev" else {}
    phi = METHODS[method](system, tilts[mask], thickness, device=device, **kw)
    pattern = np.zeros((n, n))
    pattern[mask] = np.abs(phi[:, 0]) ** 2
    if not return_beams:
        return pattern
    beams = np.zeros((n, n, len(hkl)))
    beams[mask] = np.abs(phi) ** 2
    return pattern, beams, hkl
