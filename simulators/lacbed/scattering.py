"""Electron scattering factors (Kirkland 2010), wavelength and structure-factor potentials.

Conventions (those of Spence & Zuo, *Electron Microdiffraction*, and of FELIX):
reciprocal vectors g are in 1/Å *without* 2π (|g| = 1/d); the crystal potential is
U(r) = Σ_g U_g exp(+2πi g·r) in 1/Å², with

    U_g = γ / (π Ω) Σ_j f_e,j(|g|) exp(-B_j |g|²/4) exp(-2πi g·r_j),

where Ω is the cell volume (Å³), f_e the Kirkland electron scattering factor (Å) at
q = |g|, B_j = 8π²<u²> the Debye–Waller factor (Å²) and γ the Lorentz factor. With this
U(r) the Schrödinger equation reads ∇²ψ + 4π²(k0² + U)ψ = 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

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
) -> np.ndarray:
    """U_g (1/Å², complex) for Miller indices ``g_frac`` (..., 3) of a cubic cell of edge ``a``.

    ``frac`` (M, 3) fractional positions, ``z`` (M,) atomic numbers, ``b_iso`` (M,) Debye–
    Waller B (Å²), ``occ`` (M,) site occupancies (1 if None). Vectorised over g and atoms: one complex exponential per (g, atom).
    """
    g_frac = np.asarray(g_frac, dtype=np.float64)
    shape = g_frac.shape[:-1]
    gf = g_frac.reshape(-1, 3)
    q = np.linalg.norm(gf, axis=1) / a  # 1/Å
    out = np.zeros(gf.shape[0], dtype=np.complex128)
    occ = np.ones(len(z)) if occ is None else np.asarray(occ, dtype=np.float64)
    # group atoms by (Z, B) so f_e is evaluated once per species
    keys = np.stack([z.astype(np.float64), b_iso.astype(np.float64)], axis=1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    for k, (zk, bk) in enumerate(uniq):
        f = electron_scattering_factor(int(zk), q) * np.exp(-bk * q**2 / 4.0)
        sel = inverse == k
        phase = np.exp(-2j * np.pi * (gf @ frac[sel].T)) @ occ[sel]
        out += f * phase
    omega = a**3
    return (lorentz_gamma(voltage_kv) / (np.pi * omega) * out).reshape(shape)
