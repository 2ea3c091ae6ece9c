"""The 2D q-state Potts model, sampled with Swendsen–Wang cluster updates (numba).

    H = -J Σ_<ij> δ(s_i, s_j),   s_i ∈ {0, ..., q-1},   J = 1,   periodic L × L lattice

q = 2 is the Ising model at half the coupling (δ(s, s') = (1 + σσ')/2), and the exact
critical temperature T_c = 1 / ln(1 + √q) holds for every q (self-duality); the
transition is continuous for q <= 4 and first order for q > 4 (Baxter 1973). This is the
benchmark the review's introduction names and the classic first test of machine-learned
phase detection (Carrasquilla & Melko 2017).

Why cluster updates: single-spin Metropolis slows down critically at T_c (τ ∝ L^z,
z ≈ 2.17), while a Swendsen–Wang update (Swendsen & Wang 1987) flips whole
Fortuin–Kasteleyn clusters: bonds between equal neighbours are activated with
probability 1 - exp(-J/T), the clusters they join are found with union-find, and each
cluster takes a new uniformly random state. One update touches every site (a "sweep").

A point of the grid is one temperature; a unit is one independent chain started from
random spins, equilibrated by ``equilibration`` updates, then sampled
``samples_per_chain`` times, ``interval`` updates apart. Chains run in parallel; chain c of
a call draws from its own xoshiro256** stream keyed by (seed, c), so results do not
depend on the number of threads.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np
from numba import njit, prange

from physml.constants import potts_critical_temperature
from physml.errors import ConfigError, require
from physml.simulator import ArraySpec, Simulator, seed_from
from simulators.rng import xoshiro_next, xoshiro_state

_INV_2_53 = 1.0 / 9007199254740992.0


@njit(cache=True)
def _uniform(st: np.ndarray) -> float:
    """A double in [0, 1) from the chain's xoshiro256** state (advanced in place)."""
    r, st[0], st[1], st[2], st[3] = xoshiro_next(st[0], st[1], st[2], st[3])
    return float(r >> np.uint64(11)) * _INV_2_53


@njit(cache=True)
def _below(st: np.ndarray, n: int) -> int:
    """A uniform integer in [0, n)."""
    return min(int(_uniform(st) * n), n - 1)


@njit(cache=True, inline="always")
def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]  # path halving
        i = parent[i]
    return i


@njit(cache=True)
def _sw_update(spins: np.ndarray, L: int, q: int, p_bond: float, st: np.ndarray, parent: np.ndarray, new: np.ndarray) -> None:
    """One Swendsen–Wang update of a flattened L × L periodic lattice, in place."""
    n = L * L
    for i in range(n):
        parent[i] = i
    for i in range(n):
        r, c = i // L, i % L
        right = r * L + (c + 1) % L
        down = ((r + 1) % L) * L + c
        for j in (right, down):
            if spins[i] == spins[j] and _uniform(st) < p_bond:
                a, b = _find(parent, i), _find(parent, j)
                if a != b:
                    if a < b:
                        parent[b] = a
                    else:
                        parent[a] = b
    for i in range(n):
        new[i] = -1
    for i in range(n):
        root = _find(parent, i)
        if new[root] < 0:
            new[root] = _below(st, q)
        spins[i] = new[root]


@njit(cache=True)
def _observables(spins: np.ndarray, L: int, q: int) -> tuple[float, float, float, float]:
    """(E/N, order m = (q max_k n_k/N - 1)/(q - 1), Re and Im of Σ_i exp(2πi s_i/q) / N)."""
    n = L * L
    satisfied = 0
    counts = np.zeros(q, dtype=np.int64)
    for i in range(n):
        r, c = i // L, i % L
        s = spins[i]
        satisfied += (s == spins[r * L + (c + 1) % L]) + (s == spins[((r + 1) % L) * L + c])
        counts[s] += 1
    biggest = 0
    re = 0.0
    im = 0.0
    for k in range(q):
        biggest = max(biggest, counts[k])
        re += counts[k] * math.cos(2.0 * math.pi * k / q)
        im += counts[k] * math.sin(2.0 * math.pi * k / q)
    return -satisfied / n, (q * biggest / n - 1.0) / (q - 1.0), re / n, im / n


@njit(cache=True, parallel=True)
def _chains_kernel(
    L: int,
    q: int,
    temps: np.ndarray,
    equilibration: int,
    n_samples: int,
    interval: int,
    seed: np.uint64,
    out_spins: np.ndarray,
    out_obs: np.ndarray,
) -> None:
    """Chain c at temperature temps[c]: random start, equilibrate, then n_samples samples."""
    n = L * L
    for c in prange(temps.shape[0]):
        st = xoshiro_state(seed, np.uint64(c))
        spins = np.empty(n, dtype=np.int64)
        for i in range(n):
            spins[i] = _below(st, q)
        parent = np.empty(n, dtype=np.int64)
        new = np.empty(n, dtype=np.int64)
        p_bond = 1.0 - math.exp(-1.0 / temps[c])
        for _ in range(equilibration):
            _sw_update(spins, L, q, p_bond, st, parent, new)
        for k in range(n_samples):
            for _ in range(interval):
                _sw_update(spins, L, q, p_bond, st, parent, new)
            for i in range(n):
                out_spins[c, k, i] = spins[i]
            e, m, re, im = _observables(spins, L, q)
            out_obs[c, k, 0] = e
            out_obs[c, k, 1] = m
            out_obs[c, k, 2] = re
            out_obs[c, k, 3] = im


def run_chains(
    L: int,
    q: int,
    temperatures: np.ndarray | float,
    equilibration: int,
    n_samples: int,
    interval: int,
    seed: int,
    n_chains: int | None = None,
) -> dict[str, np.ndarray]:
    """Independent Swendsen–Wang chains, one per temperature (a scalar T with ``n_chains``).

    Returns ``spins`` (chains, n_samples, L, L) uint8 and, per sample, ``energy`` (E/N),
    ``order`` (the Potts order parameter in [0, 1]) and ``m_re``, ``m_im`` (the complex
    order parameter Σ exp(2πi s/q) / N, for Binder cumulants).
    """
    temps = np.atleast_1d(np.asarray(temperatures, dtype=np.float64))
    if n_chains is not None:
        temps = np.broadcast_to(temps, (n_chains,))
    temps = np.ascontiguousarray(temps)
    require(bool(np.all(temps > 0)), "temperatures", "all > 0", temperatures)
    out_spins = np.empty((temps.size, n_samples, L * L), dtype=np.int64)
    out_obs = np.empty((temps.size, n_samples, 4), dtype=np.float64)
    _chains_kernel(L, q, temps, equilibration, n_samples, interval, np.uint64(int(seed) % 2**64), out_spins, out_obs)
    return {
        "spins": out_spins.reshape(temps.size, n_samples, L, L).astype(np.uint8),
        "energy": out_obs[..., 0],
        "order": out_obs[..., 1],
        "m_re": out_obs[..., 2],
        "m_im": out_obs[..., 3],
    }


def binder_cumulant(m_re: np.ndarray, m_im: np.ndarray, q: int) -> np.ndarray:
    """U = 1 - <|m|^4> / (c <|m|^2>^2) over the last axis: c = 3 for q = 2 (real m), 2 otherwise.

    The Potts order parameter for q >= 3 is a two-component vector (the complex
    Σ exp(2πi s/q)), for q = 2 a real number; with the matching c, U -> 1 - 1/c in the
    ordered phase and U -> 0 in the disordered one (Gaussian fluctuations).
    """
    m2 = m_re**2 + m_im**2
    c = 3.0 if q == 2 else 2.0
    return 1.0 - np.mean(m2**2, axis=-1) / (c * np.mean(m2, axis=-1) ** 2)


def temperature_grid(q: int, lo: float = 0.6, hi: float = 1.6, n: int = 21) -> tuple[float, ...]:
    """``n`` temperatures from lo·T_c to hi·T_c (rounded to 4 decimals, so each is an exact label)."""
    tc = potts_critical_temperature(q)
    return tuple(round(tc * f, 4) for f in np.linspace(lo, hi, n))


@dataclasses.dataclass(frozen=True)
class PottsParams:
    """Lattice, number of states, temperature grid and the sampling schedule."""

    L: int = 32
    q: int = 2
    T_values: tuple[float, ...] | None = None  # None: temperature_grid(q)
    equilibration: int = 200  # Swendsen–Wang updates before the first sample
    samples_per_chain: int = 4
    interval: int = 10  # updates between samples of one chain

    def __post_init__(self) -> None:
        def integer(v: Any) -> bool:
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        require(integer(self.L) and 2 <= int(self.L) <= 4096, "L", "an integer in [2, 4096]", self.L)
        require(integer(self.q) and 2 <= int(self.q) <= 255, "q", "an integer in [2, 255] (stored as uint8)", self.q)
        object.__setattr__(self, "L", int(self.L))
        object.__setattr__(self, "q", int(self.q))
        values = temperature_grid(self.q) if self.T_values is None else self.T_values
        try:
            values = tuple(values)
        except TypeError:
            raise ConfigError(field="T_values", value=self.T_values, allowed="null or a non-empty list of temperatures > 0") from None
        require(0 < len(values) <= np.iinfo(np.int16).max, "T_values", "a non-empty list of temperatures > 0", values)
        for i, t in enumerate(values):
            ok = isinstance(t, (int, float, np.integer, np.floating)) and not isinstance(t, bool)
            require(ok and math.isfinite(float(t)) and float(t) > 0, f"T_values[{i}]", "finite temperatures > 0", t)
        object.__setattr__(self, "T_values", tuple(float(t) for t in values))
        for name, lo in (("equilibration", 0), ("samples_per_chain", 1), ("interval", 1)):
            v = getattr(self, name)
            require(integer(v) and v >= lo, name, f"an integer >= {lo}", v)
            object.__setattr__(self, name, int(v))


class PottsSimulator(Simulator):
    """Swendsen–Wang samples of the 2D q-state Potts model on a temperature grid."""

    name: ClassVar[str] = "potts"
    params_type: ClassVar[type] = PottsParams
    version: ClassVar[str] = "1"
    params: PottsParams

    def __init__(self, params: PottsParams | None = None) -> None:
        super().__init__(params if params is not None else PottsParams())
        self.samples_per_unit = self.params.samples_per_chain

    @property
    def num_points(self) -> int:
        return len(self.params.T_values)

    def schema(self) -> dict[str, ArraySpec]:
        L = self.params.L
        return {
            "x": ArraySpec((L, L), "uint8"),
            "T": ArraySpec((), "float32"),
            "T_index": ArraySpec((), "int16"),
            "energy": ArraySpec((), "float32"),
            "order": ArraySpec((), "float32"),
            "m_re": ArraySpec((), "float32"),
            "m_im": ArraySpec((), "float32"),
        }

    def generate(self, points: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        pts = np.asarray(points, dtype=np.int64).reshape(-1)
        require(
            bool(np.all((pts >= 0) & (pts < self.num_points))), "points", f"grid indices in [0, {self.num_points})", pts
        )
        p = self.params
        temps = np.asarray(p.T_values, dtype=np.float64)[pts]
        out = run_chains(p.L, p.q, temps, p.equilibration, p.samples_per_chain, p.interval, seed_from(rng))
        k = p.samples_per_chain
        n = pts.size * k
        return {
            "x": out["spins"].reshape(n, p.L, p.L),
            "T": np.repeat(temps, k).astype(np.float32),
            "T_index": np.repeat(pts, k).astype(np.int16),
            "energy": out["energy"].reshape(n).astype(np.float32),
            "order": out["order"].reshape(n).astype(np.float32),
            "m_re": out["m_re"].reshape(n).astype(np.float32),
            "m_im": out["m_im"].reshape(n).astype(np.float32),
        }
