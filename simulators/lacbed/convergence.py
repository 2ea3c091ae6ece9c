"""Automatic beam count: double the beams until the pattern stops changing.

Criterion (README, "Beam selection"): beams are ranked by their disc excitation error
(``beams.select_beams`` with the disc's α), and N runs through start, 2·start, 4·start, ...
For each N the bright-field disc is simulated on a coarse probe grid (``probe_n``² tilts,
symmetry wedge only) with N and with the next doubling; the first N whose pattern agrees
with the doubled one to R = (1 + ZNCC)/2 ≥ ``r_target`` is used. The probe grid samples the
same continuous function as the full grid, so R on it estimates R on the full disc; the
check costs a fraction of the final solve. If ``nbeams_max`` is reached first, the
largest N is used and the R reached is reported (the sample records both).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .beams import select_beams
from .bloch import simulate_disc, tilt_grid
from .crystals import Crystal


def r_value(a: np.ndarray, b: np.ndarray) -> float:
    """R = (1 + ZNCC)/2 of two equally shaped images (1.0 if both are flat)."""
    x = a - a.mean()
    y = b - b.mean()
    sx, sy = np.sqrt(np.mean(x * x)), np.sqrt(np.mean(y * y))
    if sx == 0 or sy == 0:
        return 1.0 if sx == sy else 0.5
    return float(0.5 + 0.5 * np.mean(x * y) / (sx * sy))


@dataclasses.dataclass(frozen=True)
class BeamChoice:
    """The beam set chosen, its size and the R it reached against twice the beams."""

    hkl: np.ndarray
    nbeams: int
    r: float
    converged: bool
    history: tuple[tuple[int, float], ...]  # (beams, R against the next doubling)


def choose_beams(
    crystal: Crystal,
    voltage_kv: float,
    thickness: float,
    alpha_mrad: float,
    start: int = 64,
    nbeams_max: int = 1024,
    r_target: float = 0.999,
    probe_n: int = 32,
    holz: bool = False,
    **solver,
) -> BeamChoice:
    """Smallest beam set of the doubling sequence whose probe pattern has R ≥ ``r_target``
    against the next one; ``solver`` is passed to ``bloch.simulate_disc`` (kappa,
    absorption, device, precision)."""
    mask_n = probe_n
    ops: list | None = None  # the symmetry group, verified once on the first probe

    def probe(nb: int) -> tuple[np.ndarray, np.ndarray]:
        nonlocal ops
        hkl = select_beams(crystal, voltage_kv, nb, alpha_mrad, holz)
        res = simulate_disc(crystal, hkl, mask_n, voltage_kv, thickness, alpha_mrad,
                            holz=holz, symmetry_ops=ops, **solver)
        ops = res.symmetry_ops
        return hkl, res.pattern

    disc = tilt_grid(probe_n, alpha_mrad)[1]
    history = []
    nb = start
    hkl, pat = probe(nb)
    while True:
        if 2 * nb > nbeams_max:
            r = history[-1][1] if history else float("nan")
            return BeamChoice(hkl, len(hkl), r, False, tuple(history))
        hkl2, pat2 = probe(2 * nb)
        r = r_value(pat[disc], pat2[disc])
        history.append((len(hkl), r))
        if r >= r_target:
            return BeamChoice(hkl, len(hkl), r, True, tuple(history))
        nb, hkl, pat = 2 * nb, hkl2, pat2
