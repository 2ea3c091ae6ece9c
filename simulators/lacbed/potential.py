"""Projected potential image: the cGAN input (paper section 6.1).

ρ(x, y) ∝ Σ_{g ∈ ZOLZ} U_g exp(2πi g·r) over one conventional cell viewed along [001]
(the zero-order Laue zone (hk0) is exactly the Fourier series of the potential averaged
along c), with Debye–Waller damping, evaluated by one inverse FFT and normalised to
[0, 1]. Row index ↔ y ([010]), column ↔ x ([100]); pixel (0, 0) is the cell origin.
"""

from __future__ import annotations

import numpy as np

from .crystals import Crystal
from .scattering import structure_potential


def projected_potential(crystal: Crystal, n: int = 128, voltage_kv: float = 200.0) -> np.ndarray:
    """n×n projected potential of one unit cell along [001], min-max normalised to [0, 1]."""
    m = n // 2 - 1  # stay below Nyquist so the series is real and symmetric
    r = np.arange(-m, m + 1)
    hh, kk = np.meshgrid(r, r, indexing="xy")  # hh varies along columns (x)
    hkl = np.stack([hh, kk, np.zeros_like(hh)], axis=-1)
    u = structure_potential(hkl, crystal.a, crystal.frac, crystal.z, crystal.b_iso,
                            voltage_kv, crystal.occ)
    spec = np.zeros((n, n), dtype=np.complex128)
    spec[kk % n, hh % n] = u
    rho = np.real(np.fft.ifft2(spec)) * n * n
    lo, hi = rho.min(), rho.max()
    return (rho - lo) / (hi - lo) if hi > lo else np.zeros_like(rho)
