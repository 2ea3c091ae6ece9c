"""Electron scattering factors (Kirkland 2010), wavelength and structure-factor potentials.

Conventions (those of Spence & Zuo, *Electron Microdiffraction*, and of FELIX):
reciprocal vectors g are in 1/Å *without* 2π (|g| = 1/d); the crystal potential is
U(r) = Σ_g U_g exp(+2πi g·r) in 1/Å², with

    U_g = γ / (π Ω) Σ_j f_e,j(|g|) exp(-B_j |g|²/4) exp(-2πi g·r_j),

where Ω is the cell volume (Å³), f_e the Kirkland electron scattering factor (Å) at
q = |g|, B_j = 8π²<u²> the Debye–Waller factor (Å²) and γ the Lorentz factor. With this
U(r) the Schrödinger equation reads ∇²ψ + 4π²(k0² + U + iU′)ψ = 0. An anisotropic atom
(mean-square displacement tensor U_j, Å², Cartesian) gets exp(-2π² gᵀU_j g) instead.

Absorption (Bird & King 1990, Acta Cryst. A46, 202; Einstein model of thermal diffuse
scattering after Hall & Hirsch 1965): U′_g has the same form as U_g with f_e replaced by
the absorptive form factor

    f′(g) = (γλ/2) ∫ d²q f_e(q) f_e(|g - q|) [1 - exp(-B (q² - g·q) / 2)],

integrated numerically here (``absorptive_form_factor``). γλ = h/(m0 v), so this is
Bird & King's (2h/m0v) ∫ d²s ... written with q = 2s. At g = 0 it is the TDS cross
section: U′_0 = K μ0 / 2π with μ0 = Σ_j σ_TDS,j / Ω the mean absorption coefficient.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline

# CODATA 2018
_H = 6.62607015e-34  # J s
_M0 = 9.1093837015e-31  # kg
_E = 1.602176634e-19  # C
_C = 299792458.0  # m/s

_DATA = Path(__file__).with_name("data") / "kirkland.json"


def _load_table() -> tuple[dict[str, int], np.ndarray, str]:
    """Read the shipped Kirkland table once at import: symbol->Z and a (Zmax+1, 4, 3) array."""
    raw = json.loads(_DATA.read_text())
    elements = raw["elements"]
    zmax = max(v["Z"] for v in elements.values())
    table = np.full((zmax + 1, 4, 3), np.nan)
    symbols = {}
    for sym, v in elements.items():
        table[v["Z"]] = np.array([v["a"], v["b"], v["c"], v["d"]], dtype=np.float64)
        symbols[sym] = int(v["Z"])
    return symbols, table, raw["citation"]


SYMBOL_TO_Z, KIRKLAND, CITATION = _load_table()
Z_TO_SYMBOL = {z: s for s, z in SYMBOL_TO_Z.items()}


def atomic_number(symbol: str) -> int:
    """Z of an element symbol (raises KeyError naming the symbol if it is not tabulated)."""
    try:
        return SYMBOL_TO_Z[symbol]
    except KeyError:
        raise KeyError(f"element {symbol!r} is not in the Kirkland table (Z=1..103)") from None


def electron_scattering_factor(z: np.ndarray | int, q: np.ndarray | float) -> np.ndarray:
    """Kirkland f_e(q) in Å for atomic numbers z at |g| = q (1/Å), broadcasting z against q."""
    p = KIRKLAND[np.asarray(z)]  # (..., 4, 3)
    q2 = np.asarray(q, dtype=np.float64)[..., None] ** 2
    a, b, c, d = p[..., 0, :], p[..., 1, :], p[..., 2, :], p[..., 3, :]
    return np.sum(a / (q2 + b) + c * np.exp(-d * q2), axis=-1)


def lorentz_gamma(voltage_kv: float) -> float:
    """γ = 1 + eV/(m0 c²)."""
    return 1.0 + _E * voltage_kv * 1e3 / (_M0 * _C**2)


def wavelength(voltage_kv: float) -> float:
    """Relativistic electron wavelength in Å: λ = h / sqrt(2 m0 e V (1 + eV / 2 m0 c²))."""
    ev = _E * voltage_kv * 1e3
    return _H / np.sqrt(2.0 * _M0 * ev * (1.0 + ev / (2.0 * _M0 * _C**2))) * 1e10


def structure_potential(
    g_frac: np.ndarray,
    a: float,
    frac: np.ndarray,
    z: np.ndarray,
    b_iso: np.ndarray,
    voltage_kv: float,
    occ: np.ndarray | None = None,
    u_aniso: np.ndarray | None = None,
    form_factor: Callable[[int, float, np.ndarray], np.ndarray] | None = None,
    damped: bool = False,
) -> np.ndarray:
    """U_g (1/Å², complex) for Miller indices ``g_frac`` (..., 3) of a cubic cell of edge ``a``.

    ``frac`` (M, 3) fractional positions, ``z`` (M,) atomic numbers, ``b_iso`` (M,) Debye–
    Waller B (Å²), ``occ`` (M,) site occupancies (1 if None), ``u_aniso`` (M, 3, 3)
    Cartesian displacement tensors (Å²) that replace B for the Debye–Waller factor where
    given (NaN rows fall back to B). ``form_factor(z, b, q)`` replaces the Kirkland f_e
    (used for the absorptive U′_g with ``absorptive_form_factor``); with ``damped`` it
    already contains the (isotropic) Debye–Waller factor, which is then not applied
    again. Vectorised over g and atoms: one complex exponential per (g, atom).
    """
    g_frac = np.asarray(g_frac, dtype=np.float64)
    shape = g_frac.shape[:-1]
    gf = g_frac.reshape(-1, 3)
    q = np.linalg.norm(gf, axis=1) / a  # 1/Å
    out = np.zeros(gf.shape[0], dtype=np.complex128)
    occ = np.ones(len(z)) if occ is None else np.asarray(occ, dtype=np.float64)
    aniso = np.zeros(len(z), dtype=bool)
    if u_aniso is not None:
        aniso = np.all(np.isfinite(np.asarray(u_aniso).reshape(len(z), 9)), axis=1)
    # group atoms by (Z, B, isotropic?) so the form factor is evaluated once per species
    keys = np.stack([z.astype(np.float64), b_iso.astype(np.float64), aniso], axis=1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    for k, (zk, bk, is_aniso) in enumerate(uniq):
        f = (electron_scattering_factor(int(zk), q) if form_factor is None
             else form_factor(int(zk), float(bk), q))
        sel = np.nonzero(inverse == k)[0]
        phase = np.exp(-2j * np.pi * (gf @ frac[sel].T)) * occ[sel]  # (G, m)
        if damped:
            out += f * phase.sum(axis=1)
        elif is_aniso:
            gc = gf / a  # Cartesian g (1/Å) of the cubic cell
            dw = np.exp(-2.0 * np.pi**2 * np.einsum("gi,mij,gj->gm", gc, u_aniso[sel], gc))
            out += f * np.sum(phase * dw, axis=1)
        else:
            out += f * np.exp(-bk * q**2 / 4.0) * phase.sum(axis=1)
    omega = a**3
    return (lorentz_gamma(voltage_kv) / (np.pi * omega) * out).reshape(shape)


# --- Bird–King absorptive form factors -------------------------------------------------


def _gauss_legendre_panels(edges: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of composite Gauss–Legendre quadrature over the given panels."""
    x, w = np.polynomial.legendre.leggauss(order)
    lo, hi = edges[:-1, None], edges[1:, None]
    nodes = 0.5 * (hi - lo) * x[None, :] + 0.5 * (hi + lo)
    weights = 0.5 * (hi - lo) * w[None, :]
    return nodes.ravel(), weights.ravel()


#: radial panel offsets (1/Å) around |p| = g/2, where both f_e peaks of the integrand sit
_RHO_STEPS = np.array([0.0, 0.005, 0.02, 0.06, 0.15, 0.35, 0.8, 1.6, 3.2, 6.4, 12.8, 30.0,
                       80.0, 250.0, 800.0, 2500.0, 8000.0])
#: angular panels on [0, π/2]; fine near 0 where the two peaks are
_PHI_EDGES = np.array([0.0, 0.002, 0.006, 0.02, 0.06, 0.15, 0.35, 0.75, np.pi / 2])


def bird_king_integral(
    fe: Callable[[np.ndarray], np.ndarray], g: np.ndarray, b: float, order: int = 6
) -> np.ndarray:
    """I(g) = ∫ d²q f(q) f(|g - q|) [1 - exp(-B (q² - g·q)/2)] (Å⁻² · Å² = dimensionless·Å²).

    Centred on the midpoint, q = g/2 + p, the bracket becomes radial,
    1 - exp(-B (p² - g²/4)/2), and the two peaks of f (at q = 0 and q = g) sit on the ring
    |p| = g/2 at φ = 0, π; the integrand is even in φ and in φ → π - φ, so φ runs over
    [0, π/2] (×4). Composite Gauss–Legendre panels cluster nodes on that ring and at small
    φ; the tail of f² ~ q⁻⁴ is integrated out to |p| = 8000 Å⁻¹ (relative remainder < 1e-8).
    """
    g = np.atleast_1d(np.asarray(g, dtype=np.float64))
    phi, wphi = _gauss_legendre_panels(_PHI_EDGES, order)
    cphi = np.cos(phi)
    out = np.empty(g.shape)
    for i, gi in enumerate(g):
        c = 0.5 * gi
        edges = np.unique(np.clip(np.concatenate([c - _RHO_STEPS, c + _RHO_STEPS]), 0.0, None))
        rho, wrho = _gauss_legendre_panels(edges, order)
        r2 = rho[:, None] ** 2 + c * c
        cross = 2.0 * c * rho[:, None] * cphi[None, :]
        f1 = fe(np.sqrt(np.maximum(r2 + cross, 0.0)))
        f2 = fe(np.sqrt(np.maximum(r2 - cross, 0.0)))
        bracket = -np.expm1(-0.5 * b * (rho**2 - c * c))
        integrand = f1 * f2 * (bracket * rho * wrho)[:, None]
        out[i] = 4.0 * np.sum(integrand @ wphi)
    return out


#: |g| grid (1/Å) on which f′ is integrated once per (Z, B) and then interpolated
_FP_GRID = np.concatenate([np.linspace(0.0, 2.0, 21), np.linspace(2.25, 8.0, 24),
                           np.array([9.0, 10.5, 12.5, 15.0, 20.0])])


@functools.lru_cache(maxsize=4096)
def _absorptive_spline(z: int, b: float) -> CubicSpline:
    """Cubic spline of I(g) e^{-Bg²/4} (``bird_king_integral`` for Kirkland f_e) on
    ``_FP_GRID``. The Debye–Waller-damped product is smooth and decays; I alone grows like
    e^{Bg²/8} and cannot be interpolated on a coarse grid."""
    table = bird_king_integral(lambda q: electron_scattering_factor(z, q), _FP_GRID, b)
    return CubicSpline(_FP_GRID, table * np.exp(-b * _FP_GRID**2 / 4.0), bc_type="natural")


def absorptive_form_factor(
    z: int, b: float, q: np.ndarray | float, voltage_kv: float, damped: bool = False
) -> np.ndarray:
    """Bird–King absorptive form factor f′ (Å) of element ``z`` with isotropic B (Å²) at
    |g| = q (1/Å, no 2π), for electrons of ``voltage_kv``: (γλ/2) I(q); with ``damped``
    f′ e^{-Bq²/4}, the factor U′_g is built from. Zero for B = 0 (no thermal motion, no
    TDS). I e^{-Bq²/4} is integrated once per (Z, B) on a |g| grid and interpolated with a
    cubic spline; beyond 20 Å⁻¹ it is set to 0 (it is < 1e-40 there)."""
    q = np.asarray(q, dtype=np.float64)
    if b <= 0.0:
        return np.zeros_like(q)
    spline = _absorptive_spline(int(z), round(float(b), 10))
    inside = q <= _FP_GRID[-1]
    vals = np.where(inside, spline(np.minimum(q, _FP_GRID[-1])), 0.0)
    if not damped:
        vals = vals * np.exp(b * q**2 / 4.0)
    return 0.5 * lorentz_gamma(voltage_kv) * wavelength(voltage_kv) * vals
