"""Bloch-wave bright-field LACBED for the [001] zone axis, batched over pixels in torch.

Physics (high-energy, forward-scattering form of the Bloch-wave equations; Spence & Zuo,
*Electron Microdiffraction*, ch. 3, and FELIX). Write the wave in the crystal as
ψ = Σ_g φ_g(z) exp[2πi (K+g)·r]. Dropping φ'' gives

    dφ/dz = (iπ / K_z) A φ,   A_gg = 2K s_g,   A_gh = U_{g-h}  (g ≠ h),

with 2K s_g = K² - |K+g|² = -(|g|² + 2 K·g) the excitation error of beam g for the
incident wavevector K (|K|² = k0² + U_0, i.e. corrected for the mean inner potential). So
the exit wave at thickness t is φ(t) = exp(iπ t A / K_z) e_000, which is what Bloch-wave
codes compute via A = C Λ C⁻¹. Absorption: A gets + i U′_{g-h} (all pairs, the diagonal
U′_0 included — it is the mean absorption exp(-π U′_0 t / K_z) of every beam; without it
|φ|² could exceed 1). U′ is either proportional, U′_g = κ U_g, or Bird–King (Einstein-
model thermal diffuse scattering, computed per reflection from the atoms' absorptive form
factors and Debye–Waller factors; ``scattering.absorptive_form_factor``). Beams may
include the first-order Laue zone (``holz``): g is 3D throughout, so the excitation error
2K s_g = -(|g|² + 2K·g) is exact for them too. For such beams the forward-scattering
equation of row g carries 1/(K_z + g_z), not 1/K_z (dropping φ'' from
φ'' + 4πi(K_z + g_z)φ' + ...); with D = diag(√(K/(K + g_z))) the system is solved in the
symmetric form y' = (iπ/K_z) D A D y, φ = D y, which keeps the matrix Hermitian (plus
iU′) and makes |y_g|² the beam's *current* (flux-normalised intensity). D = 1 for ZOLZ
beams and for 000, so the bright field is unchanged by it; K is the zone-axis value (the
tilt changes D by < 1e-5 at 30 mrad).

Speed: the off-diagonal part of A does not depend on the tilt — only the diagonal does.
So instead of diagonalising one N×N matrix per pixel we expand exp(iτA) e_000 in
Chebyshev polynomials (Jacobi–Anger: e^{iz x} = Σ ε_k i^k J_k(z) T_k(x)); each term costs
one matrix product (N×N shared coupling) @ (N × pixels), i.e. one large GEMM, plus a
per-pixel diagonal scaling. This is exact to ~1e-12 (coefficients are truncated when
|J_k| < 1e-15) and runs unchanged on CPU and GPU.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
from numba import njit
from scipy.special import jv

from .beams import allowed_by_centering, select_beams
from .crystals import Crystal
from .scattering import absorptive_form_factor, structure_potential, wavelength

__all__ = ["allowed_by_centering", "select_beams"]  # re-exported: v1.0 imported them here

ABSORPTION_MODELS = ("proportional", "bird_king", "none")


@dataclasses.dataclass
class BlochSystem:
    """Everything tilt-independent for one crystal and beam set (numpy, complex128)."""

    hkl: np.ndarray  # (N, 3) Miller indices, 000 first
    g: np.ndarray  # (N, 3) in 1/Å
    coupling: np.ndarray  # (N, N): U_{g-h} + i U'_{g-h}, zero diagonal
    u0: float  # mean potential U_0 (1/Å²), real
    kappa: float  # proportional-absorption κ (0 for other models)
    k_crystal: float  # |K| = sqrt(k0² + U_0) in 1/Å
    u_elastic: np.ndarray | None = None  # (N, N) Hermitian U_{g-h}, zero diagonal
    u_absorptive: np.ndarray | None = None  # (N, N) Hermitian U'_{g-h}, U'_0 on the diagonal
    #: (N,) D_g = √(K/(K + g_z)): the HOLZ row normalisation, already applied to the
    #: matrices above (1 for ZOLZ beams; None: all ones)
    row_scale: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.u_elastic is None:  # built by hand with proportional absorption
            self.u_elastic = self.coupling / (1.0 + 1j * self.kappa)
        if self.u_absorptive is None:
            ua = self.kappa * self.u_elastic
            self.u_absorptive = ua + self.kappa * self.u0 * np.eye(len(self.hkl))
        if self.row_scale is None:
            self.row_scale = np.ones(len(self.hkl))

    @property
    def u0_abs(self) -> float:
        """U′_0 (1/Å²): the mean absorption potential (of the 000 beam)."""
        return float(np.real(self.u_absorptive[0, 0]))

    @property
    def absorptive_diagonal(self) -> np.ndarray:
        """(N,) D_g² U′_0: each beam's mean absorption (U′_0 for ZOLZ beams)."""
        return np.real(np.diag(self.u_absorptive)).copy()


def bloch_system(
    crystal: Crystal, hkl: np.ndarray, voltage_kv: float, kappa: float = 0.0,
    absorption: str = "proportional",
) -> BlochSystem:
    """Structure matrix pieces: U_{g-h} (and U′_{g-h}) for all beam pairs, Kirkland f_e.

    ``absorption``: "proportional" (U′ = κU, κ = ``kappa``), "bird_king" (``kappa``
    ignored) or "none".
    """
    if absorption not in ABSORPTION_MODELS:
        raise ValueError(f"absorption must be one of {ABSORPTION_MODELS}, got {absorption!r}")
    diff = hkl[:, None, :] - hkl[None, :, :]
    args = (crystal.a, crystal.frac, crystal.z, crystal.b_iso, voltage_kv, crystal.occ,
            crystal.u_aniso)
    u = structure_potential(diff, *args)
    u0 = float(u[0, 0].real)
    np.fill_diagonal(u, 0.0)
    u = 0.5 * (u + u.conj().T)  # exactly Hermitian (rounding)
    if absorption == "bird_king":
        def fprime(z: int, b: float, q: np.ndarray) -> np.ndarray:
            return absorptive_form_factor(z, b, q, voltage_kv, damped=True)

        # U′ uses each atom's isotropic (equivalent) B: the Einstein model is isotropic
        ua = structure_potential(diff, *args, form_factor=fprime, damped=True)
        ua = 0.5 * (ua + ua.conj().T)
        kappa = 0.0
    elif absorption == "proportional":
        ua = kappa * (u + u0 * np.eye(len(hkl)))
    else:
        ua, kappa = np.zeros_like(u), 0.0
    k0 = 1.0 / wavelength(voltage_kv)
    k_crystal = float(np.sqrt(k0**2 + u0))
    scale = np.sqrt(k_crystal / (k_crystal + hkl[:, 2] / crystal.a))  # D_g (module doc)
    if np.any(hkl[:, 2] != 0):
        outer = scale[:, None] * scale[None, :]
        u, ua = u * outer, ua * outer
    coupling = u + 1j * ua
    np.fill_diagonal(coupling, 0.0)
    return BlochSystem(hkl=hkl, g=hkl / crystal.a, coupling=coupling, u0=u0, kappa=kappa,
                       k_crystal=k_crystal, u_elastic=u, u_absorptive=ua, row_scale=scale)


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
    """Per-pixel D_g² 2K s_g (P, N) and K_z (P,) for tilts (P, 2) in radians."""
    kk = system.k_crystal
    kt = kk * np.sin(tilts)  # small-angle tilt of K away from [001]
    kz = np.sqrt(kk**2 - np.sum(kt**2, axis=1))
    kvec = np.concatenate([kt, kz[:, None]], axis=1)
    d = -(np.sum(system.g**2, axis=1)[None, :] + 2.0 * kvec @ system.g.T)
    return d * system.row_scale[None, :] ** 2, kz


PRECISIONS = ("double", "single")
#: e-folds of Bernstein-ellipse growth allowed per time step of the absorptive series.
#: The Crouzeix bound (1 + √2)ρ^k is pessimistic by many e-folds: against matrix_exp
#: (SrTiO3 / W, Bird–King, 60 beams, 2000–3000 Å) the error stays 3e-13 / 9e-13 for any
#: budget from e^7 to e^30 in double and 2e-6 / 4e-6 from e^7 to e^20 in single; e^40
#: first shows growth (1e-10). Larger budgets mean fewer steps: e^18 instead of e^7 made
#: the Bird–King SrTiO3 solve 35 % faster.
_GROWTH_PER_STEP = {"double": 18.0, "single": 10.0}


def _spectral_bounds(system: BlochSystem) -> tuple[float, float]:
    """(λ_min, λ_max) of the Hermitian coupling U (zero diagonal): tilt-independent, so one
    N×N eigvalsh. By Weyl, the Hermitian part D_p + U of A_p has its spectrum in
    [min d_p + λ_min, max d_p + λ_max] (tighter than the Gershgorin row sum); the
    absorptive part i U′ spans i·[λ′_min, λ′_max] (``_absorptive_bounds``)."""
    lam = np.linalg.eigvalsh(system.u_elastic)
    return float(lam[0]), float(lam[-1])


def _absorptive_bounds(system: BlochSystem) -> tuple[float, float]:
    """(λ′_min, λ′_max) of the Hermitian absorptive matrix U′ (U′_0 on its diagonal)."""
    if not np.any(system.u_absorptive):
        return 0.0, 0.0
    lam = np.linalg.eigvalsh(system.u_absorptive)
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
    groups: int = 4,
) -> np.ndarray:
    """Exit-wave amplitudes φ_g(t) (P, N) for tilts (P, 2): Chebyshev expansion of exp(iτA).

    Every pixel p gets its own spectral interval [c_p - h_p, c_p + h_p] (Weyl bound), and
    the matrix is rescaled so that all pixels share ONE argument z0 = max_p τ_p h_p:

        exp(iτ_p A_p) = e^{iτ_p c_p} e^{-τ_p μ′} exp(i z0 B_p),
        B_p = σ_p (C' + D_p - c_p),  σ_p = τ_p / z0,  C' = U + i(U′ - μ′),

    with μ′ the midpoint of the spectrum of U′ (U′_0 on its diagonal; for proportional
    absorption μ′ = κ(U_0 + μ), μ the midpoint of U's spectrum), so the absorptive part
    of B_p is centred and small. The Jacobi–Anger coefficients J_k(z0) are then scalars (no per-pixel Bessel
    table), the shared C' goes into one GEMM per term for all pixels, σ_p and the
    diagonal are element-wise. With absorption the series is split into m equal steps,
    exp(i z0 B) = exp(i z0 B / m)^m, so that the Bernstein-ellipse growth of T_k (which
    amplifies rounding) stays below ``_GROWTH_PER_STEP`` per step. ``precision="single"`` runs the
    recurrence in complex64/float32 (|Δφ| ~ 1e-5, see tests); default complex128.
    Pixels are split into ``groups`` groups of increasing spectral width τ_p h_p (each ≥
    256 pixels), each with its own z0: the disc centre needs fewer terms than its rim.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if tol is None:
        tol = 1e-15 if precision == "double" else 1e-9
    dev = torch.device(device)
    if chunk is None:  # a GPU wants all pixels in one GEMM; a CPU wants cache-sized blocks
        chunk = 16384 if dev.type == "cpu" else 1 << 18
    lam_lo, lam_hi = _spectral_bounds(system)
    ab_lo, ab_hi = _absorptive_bounds(system)
    mu_abs = 0.5 * (ab_lo + ab_hi)
    tilts = np.asarray(tilts, dtype=np.float64)
    d, kz = _diagonal(system, tilts)
    tau = np.pi * thickness / kz
    lo, hi = d.min(axis=1) + lam_lo, d.max(axis=1) + lam_hi
    centre = 0.5 * (lo + hi)
    half = 0.5 * (hi - lo) + 1e-12
    cmat = system.coupling + 1j * np.diag(system.absorptive_diagonal - mu_abs)
    phase = np.exp(1j * tau * centre - tau * mu_abs)
    out = np.empty((len(tilts), len(system.hkl)), dtype=np.complex128)
    # pixels near the disc centre have narrower spectra: give each width group its own z0
    width = tau * half
    order = np.argsort(width, kind="stable")
    ngroups = max(1, min(groups, len(order) // 256))
    for sel in np.array_split(order, ngroups):
        if len(sel) == 0:
            continue
        z0 = float(np.max(width[sel]))
        sigma = tau[sel] / max(z0, 1e-300)
        steps, growth, tol_g = 1, 0.0, tol
        if ab_hi > ab_lo:  # Bernstein ellipse E_ρ ⊃ [-1, 1] × i[-b, b]: b = sinh ε tanh ε
            b = 0.5 * (ab_hi - ab_lo) * float(np.max(sigma))
            growth = float(np.arcsinh(np.sqrt(0.5 * (b * b + np.sqrt(b**4 + 4 * b * b)))))
            steps = max(1, int(np.ceil(growth * z0 / _GROWTH_PER_STEP[precision])))
            tol_g = tol / (1.0 + np.sqrt(2.0))  # Crouzeix: ‖T_k(B)‖ ≤ (1 + √2) ρ^k
        coef = chebyshev_coefficients(z0 / steps, growth, tol_g)
        dn = sigma[:, None] * (d[sel] - centre[sel, None])  # scaled, centred diagonal
        for start in range(0, len(sel), chunk):
            part = slice(start, start + chunk)
            if dev.type == "cpu":
                res = _chebyshev_cpu(cmat, dn[part], sigma[part], coef, steps, precision)
            else:
                res = _chebyshev_torch(cmat, dn[part], sigma[part], coef, steps, dev, precision)
            out[sel[part]] = res
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
    a[:, idx, idx] = d + 1j * system.absorptive_diagonal[None, :]
    tau = np.pi * 1.0 / kz
    return torch.as_tensor(a, dtype=torch.complex128, device=dev), tau


def propagate_eigh(
    system: BlochSystem, tilts: np.ndarray, thickness: float, device: str = "cpu",
    chunk: int = 2048,
) -> np.ndarray:
    """Reference: batched Hermitian diagonalisation (the textbook Bloch-wave route), κ = 0."""
    if np.any(system.u_absorptive):
        raise ValueError("propagate_eigh needs a Hermitian matrix (no absorption)")
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


@dataclasses.dataclass
class LACBEDResult:
    """One simulated disc: bright field, optional dark fields, and how it was made."""

    pattern: np.ndarray  # (n, n) |φ_000|², 0 outside the disc
    dark_field: np.ndarray  # (len(dark_field), n, n) |φ_g|² (0 where g is not a beam)
    hkl: np.ndarray  # (N, 3) beams used
    symmetry_ops: list  # 2×2 tilt-plane operations used to fill the disc (identity only: none)
    pixels_solved: int  # Bloch-wave solves (the irreducible wedge, or the whole disc)
    beams: np.ndarray | None = None  # (n, n, N) all beam intensities (return_beams)


def simulate_disc(
    crystal: Crystal,
    hkl: np.ndarray,
    n: int = 128,
    voltage_kv: float = 200.0,
    thickness: float = 1000.0,
    alpha_mrad: float = 10.0,
    kappa: float = 0.05,
    absorption: str = "proportional",
    device: str = "cpu",
    precision: str = "double",
    method: str = "chebyshev",
    symmetry: bool = True,
    holz: bool = False,
    dark_field: Sequence[Sequence[int]] = (),
    return_beams: bool = False,
    symmetry_ops: Sequence | None = None,
) -> LACBEDResult:
    """Bright-field (and dark-field) LACBED discs for a given beam set ``hkl``.

    With ``symmetry`` only one pixel per orbit of the verified pattern symmetry is
    solved (``symmetry`` module); the others are copies (exact: the operations are
    verified to 1e-8 and the beam set is closed under them), else every disc pixel is.
    ``symmetry_ops``: a group already verified for this crystal and kind of output (the
    ``symmetry_ops`` of an earlier result with the same ``holz``/``dark_field``/
    ``return_beams``): used as it is, skipping the verification solves — the symmetry is
    the crystal's, and every beam set of ``select_beams`` is closed under it.
    """
    from .symmetry import candidate_ops, closure, orbits, verify_ops

    system = bloch_system(crystal, hkl, voltage_kv, kappa, absorption)
    tilts, mask = tilt_grid(n, alpha_mrad)
    flat_tilts = tilts.reshape(-1, 2)
    kw = {"precision": precision} if method == "chebyshev" else {}

    def solve(idx: np.ndarray) -> np.ndarray:
        return METHODS[method](system, flat_tilts[idx], thickness, device=device, **kw)

    group = [np.eye(2, dtype=np.int64)]
    df = [tuple(int(v) for v in g) for g in dark_field]
    if symmetry and symmetry_ops is not None:
        group = [np.asarray(m, dtype=np.int64) for m in symmetry_ops]
    elif symmetry:
        cands = candidate_ops(crystal, z_preserving_only=holz or bool(df) or return_beams)
        cands = [m for m in cands if not np.array_equal(m, np.eye(2))]
        if cands:
            # complex64 rounding differs between symmetric pixels (~1e-6 of max I): a
            # real symmetry breaking is O(1e-2) or more, so 1e-4 still refuses it
            rtol = 1e-8 if precision == "double" or method != "chebyshev" else 1e-4
            ok = verify_ops(cands, n, mask, lambda idx: np.abs(solve(idx)[:, 0]) ** 2,
                            rtol=rtol)
            group = closure(ok)
    disc = np.flatnonzero(mask.ravel())
    if len(group) == 1:
        reps, phi_rep = disc, solve(disc)
        rep_of, op_of = np.arange(n * n), np.zeros(n * n, dtype=np.int64)
    else:
        reps, rep_of, op_of = orbits(n, mask, group)
        phi_rep = solve(reps)
    row_of_rep = np.full(n * n, -1, dtype=np.int64)
    row_of_rep[reps] = np.arange(len(reps))
    rows = row_of_rep[rep_of[disc]]
    inten = np.abs(phi_rep) ** 2  # (R, N)
    pattern = np.zeros(n * n)
    pattern[disc] = inten[rows, 0]
    index = {tuple(int(v) for v in g): i for i, g in enumerate(hkl)}
    # beam g at pixel p = G r has the intensity of beam G⁻¹ g at r (z-preserving G)
    inv3 = [np.linalg.inv(_as3(m)).round().astype(np.int64) for m in group]
    ops_disc = op_of[disc]
    dfield = np.zeros((len(df), n * n))
    for j, g in enumerate(df):
        for k, m3 in enumerate(inv3):
            sel = ops_disc == k
            src = index.get(tuple(int(v) for v in m3 @ np.array(g)))
            if src is not None and sel.any():
                dfield[j, disc[sel]] = inten[rows[sel], src]
    beams = None
    if return_beams:
        beams = np.zeros((n * n, len(hkl)))
        perm = np.array([[index[tuple(int(v) for v in m3 @ g)] for g in hkl] for m3 in inv3])
        beams[disc] = inten[rows[:, None], perm[ops_disc]]
        beams = beams.reshape(n, n, len(hkl))
    return LACBEDResult(pattern=pattern.reshape(n, n), dark_field=dfield.reshape(len(df), n, n),
                        hkl=hkl, symmetry_ops=[m.tolist() for m in group],
                        pixels_solved=len(reps), beams=beams)


def _as3(m: np.ndarray) -> np.ndarray:
    """The z-preserving 3×3 operation with tilt-plane part ``m``."""
    out = np.eye(3, dtype=np.int64)
    out[:2, :2] = m
    return out


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
    absorption: str = "proportional",
    holz: bool = False,
    holz_nbeams: int | None = None,
    symmetry: bool = True,
    beam_alpha: bool = False,
):
    """Bright-field (000) LACBED intensity on an n×n tilt grid; zero outside the disc.

    ``nbeams`` ZOLZ beams (plus ``holz_nbeams`` FOLZ beams with ``holz``) selected by
    ``beams.select_beams`` — ranked at the zone axis (v1.0) or, with ``beam_alpha``, by
    their disc excitation error at ``alpha_mrad``. With ``return_beams`` also returns the
    intensities of all beams (n, n, N) and the Miller indices, for conservation checks.
    ``precision`` ("double"/"single") is passed to the Chebyshev solver (the reference
    methods are always complex128).
    """
    hkl = select_beams(crystal, voltage_kv, nbeams, alpha_mrad if beam_alpha else 0.0,
                       holz, holz_nbeams)
    res = simulate_disc(crystal, hkl, n, voltage_kv, thickness, alpha_mrad, kappa, absorption,
                        device, precision, method, symmetry, holz, return_beams=return_beams)
    if not return_beams:
        return res.pattern
    return res.pattern, res.beams, hkl
