"""J1-J2 Ising model on the periodic square lattice: numba Metropolis with successive cooling.

    H = -J1 sum_<ij> s_i s_j + J2 sum_<<ij>> s_i s_j,   J1 = 1, J2 >= 0, s = +-1

(nearest neighbours ferromagnetic, next-nearest (diagonal) neighbours antiferromagnetic).
Ground states: the ferromagnet with E/N = -2 J1 + 2 J2 for J2 < J1/2 and the
superantiferromagnetic stripe state with E/N = -2 J2 for J2 > J1/2.

Why the sweep is organised as it is: the four 2x2 sublattices {(y mod 2, x mod 2)} share no
nearest or next-nearest bond, so the updates inside one sublattice commute and a sweep
(all four sublattices in turn) is a valid Metropolis sweep in any order within a
sublattice. Independent chains run in parallel over cores (``prange``), each with its own
generator (4 interleaved xoshiro256** streams seeded by splitmix64 from (seed, chain
position)), so results do not depend on the number of threads. Acceptance probabilities
are precomputed per temperature as 32-bit integer thresholds for the 5 x 5 possible
(nearest, next-nearest) local fields.

Paper (section 5.2): for each J2, C chains start from random spins at T = 4.0 and are cooled
in steps of 0.025 down to T = 0.1 (157 temperatures); one configuration per temperature.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np
from numba import njit, prange, uintp
from scipy.special import ellipk

from physml.constants import TC_ISING
from physml.errors import ConfigError, require
from physml.simulator import ArraySpec, Simulator, seed_from
from simulators.rng import xoshiro_next, xoshiro_state

__all__ = [
    "TC_ISING",
    "ground_state_energy",
    "has_domain_walls",
    "J1J2MomentsSimulator",
    "PAPER_J2_VALUES",
    "J1J2Params",
    "J1J2Simulator",
    "cooling_temperatures",
    "cool_chains",
    "run_fixed_temperature",
    "onsager_energy",
    "onsager_magnetisation",
    "energy_per_site",
    "magnetisation",
    "stripe_order",
    "integrated_autocorrelation_time",
]

#: The 22 J2 values of the paper (section 5.2).
PAPER_J2_VALUES: tuple[float, ...] = (
    0.0,
    0.1,
    0.2,
    0.3,
    0.4,
    0.45,
    0.48,
    0.49,
    0.495,
    0.5,
    0.505,
    0.51,
    0.52,
    0.55,
    0.6,
    0.65,
    0.7,
    0.8,
    0.9,
    1.0,
    1.2,
    1.5,
)

#: Default sweeps per temperature, from the measured integrated autocorrelation times along
#: the cooling ladder at L = 30 (`bench_j1j2.py --autocorr`, README, J1–J2 section): the
#: largest tau_int are ~100 sweeps (|m| at J2 = 0.45, T = 0.7) and ~35 (E), so 1000 sweeps
#: give >= 10 tau_int everywhere except the glassy J2 ~ 0.5, T < ~0.5 corner (tau_int of
#: several hundred sweeps, then frozen), which gets more sweeps (below).
DEFAULT_SWEEPS_PER_T: int = 1000
#: Optional extra sweeps at the first (hottest) temperature. 0 by default: tau_int ~ 1 sweep
#: at T = 4, so the sweeps_per_T sweeps there already forget the random start.
DEFAULT_EXTRA_FIRST_SWEEPS: int = 0
#: Near the degenerate point J2 = 1/2 the order parameter's tau_int reaches ~400-530 sweeps
#: at T = 0.3-0.5 before freezing, and successively cooled chains at 0.45 <= J2 <= 0.6 froze
#: into domains with 100 sweeps per temperature (measured, issue 12). So |J2 - 1/2| <= 0.1
#: gets 4000 sweeps per temperature (>= 7.5 tau_int).
DEFAULT_SWEEPS_PER_T_NEAR_HALF: int = 4000
DEFAULT_NEAR_HALF_WIDTH: float = 0.1


def ground_state_energy(J2: np.ndarray | float, J1: float = 1.0) -> np.ndarray | float:
    """E/N of the ground state: ferromagnet -2 J1 + 2 J2 below J2 = J1/2, stripes -2 J2 above."""
    j2 = np.asarray(J2, dtype=np.float64)
    e = np.minimum(-2.0 * J1 + 2.0 * j2, -2.0 * j2)
    return float(e) if np.ndim(J2) == 0 else e


def has_domain_walls(energy: np.ndarray, J2: np.ndarray, L: int) -> np.ndarray:
    """True where a configuration's E/N lies above the ground state by at least half a domain wall.

    A straight wall across an L × L ferromagnet breaks L nearest-neighbour bonds (2 J1 each)
    and 2L diagonal ones, several / L per site; at the coldest temperature of a cooling
    ladder (T ~ 0.1) thermal excitations cost exp(-8/T), so any such excess is a frozen defect.
    """
    return np.asarray(energy, dtype=np.float64) - ground_state_energy(J2) > 0.5 / L

_TWO32 = 4294967296.0


# ---------------------------------------------------------------------------------------
# Metropolis kernels
#
# Layout: inside the kernels a configuration is stored "blocked": sublattice q = 2a + b
# (sites (2I + a, 2J + b)) occupies A[q*H*H : (q+1)*H*H] row-major in (I, J), H = L/2, so a
# sublattice row is contiguous and every neighbour lies at a fixed offset in another block.
# Indices are unsigned (uintp) so numba emits no negative-index wraparound code; random
# numbers for a whole sweep are drawn first from 4 interleaved xoshiro256** streams (the
# interleaving hides the generator's latency) and compared as 32-bit integers with
# precomputed thresholds ceil(p * 2^32) (p = 1 gives 2^32: always accepted).
# ---------------------------------------------------------------------------------------
_N_STREAMS = 4


@njit(cache=True)
def _thresholds(T: float, J1: float, J2: float) -> np.ndarray:
    """Acceptance thresholds ceil(min(1, exp(-dE/T)) * 2^32) indexed by 5*a + b.

    a = (s*h1 + 4)/2 and b = (s*h2 + 4)/2 with h1 (h2) the sum of the 4 nearest (4
    next-nearest) neighbours; flipping s costs dE = 2 s (J1 h1 - J2 h2).
    """
    thr = np.empty(25, dtype=np.uint64)
    for a in range(5):
        for b in range(5):
            de = 2.0 * (J1 * (2 * a - 4) - J2 * (2 * b - 4))
            p = 1.0 if de <= 0.0 else math.exp(-de / T)
            thr[5 * a + b] = np.uint64(math.ceil(p * _TWO32))
    return thr


@njit(cache=True)
def _chain_rng(seed: np.uint64, chain: np.uint64) -> np.ndarray:
    """State (4 streams x 4 words) of one chain's interleaved xoshiro256** generator."""
    st = np.empty((_N_STREAMS, 4), dtype=np.uint64)
    for k in range(_N_STREAMS):
        st[k] = xoshiro_state(seed, chain * np.uint64(_N_STREAMS) + np.uint64(k))
    return st


@njit(cache=True)
def _fill(buf: np.ndarray, st: np.ndarray) -> None:
    """Fill ``buf`` (uint32, length a multiple of 8) from the 4 interleaved streams."""
    a0, a1, a2, a3 = st[0, 0], st[0, 1], st[0, 2], st[0, 3]
    b0, b1, b2, b3 = st[1, 0], st[1, 1], st[1, 2], st[1, 3]
    c0, c1, c2, c3 = st[2, 0], st[2, 1], st[2, 2], st[2, 3]
    d0, d1, d2, d3 = st[3, 0], st[3, 1], st[3, 2], st[3, 3]
    m = np.uint64(0xFFFFFFFF)
    sh = np.uint64(32)
    for k0 in range(0, buf.shape[0], 8):
        k = uintp(k0)
        ra, a0, a1, a2, a3 = xoshiro_next(a0, a1, a2, a3)
        rb, b0, b1, b2, b3 = xoshiro_next(b0, b1, b2, b3)
        rc, c0, c1, c2, c3 = xoshiro_next(c0, c1, c2, c3)
        rd, d0, d1, d2, d3 = xoshiro_next(d0, d1, d2, d3)
        buf[k] = np.uint32(ra & m)
        buf[k + uintp(1)] = np.uint32(ra >> sh)
        buf[k + uintp(2)] = np.uint32(rb & m)
        buf[k + uintp(3)] = np.uint32(rb >> sh)
        buf[k + uintp(4)] = np.uint32(rc & m)
        buf[k + uintp(5)] = np.uint32(rc >> sh)
        buf[k + uintp(6)] = np.uint32(rd & m)
        buf[k + uintp(7)] = np.uint32(rd >> sh)
    st[0, 0], st[0, 1], st[0, 2], st[0, 3] = a0, a1, a2, a3
    st[1, 0], st[1, 1], st[1, 2], st[1, 3] = b0, b1, b2, b3
    st[2, 0], st[2, 1], st[2, 2], st[2, 3] = c0, c1, c2, c3
    st[3, 0], st[3, 1], st[3, 2], st[3, 3] = d0, d1, d2, d3


def _buffer_size(L: int) -> int:
    return ((L * L + 7) // 8) * 8


@njit(cache=True)
def _to_blocked(spins: np.ndarray, A: np.ndarray) -> None:
    H = spins.shape[0] // 2
    for a in range(2):
        for b in range(2):
            q = (2 * a + b) * H * H
            for i in range(H):
                for j in range(H):
                    A[q + i * H + j] = spins[2 * i + a, 2 * j + b]


@njit(cache=True)
def _from_blocked(A: np.ndarray, spins: np.ndarray) -> None:
    H = spins.shape[0] // 2
    for a in range(2):
        for b in range(2):
            q = (2 * a + b) * H * H
            for i in range(H):
                for j in range(H):
                    spins[2 * i + a, 2 * j + b] = A[q + i * H + j]


@njit(cache=True, inline="always")
def _site(
    A: np.ndarray,
    o_row: int,
    o_u: int,
    o_d: int,
    o_s: int,
    o_uu: int,
    o_dd: int,
    j: int,
    jd: int,
    r: np.uint32,
    thr: np.ndarray,
) -> None:
    """Metropolis step of the site at offset o_row + j; jd is its horizontal partner column."""
    s = np.int32(A[o_row + j])
    h1 = (np.int32(A[o_u + j]) + np.int32(A[o_d + j])) + (
        np.int32(A[o_s + j]) + np.int32(A[o_s + jd])
    )
    h2 = (np.int32(A[o_uu + j]) + np.int32(A[o_uu + jd])) + (
        np.int32(A[o_dd + j]) + np.int32(A[o_dd + jd])
    )
    k = uintp(((s * h1 + 4) >> 1) * 5 + ((s * h2 + 4) >> 1))
    flip = np.int32(np.uint64(r) < thr[k])  # branch-free: acceptance is unpredictable
    A[o_row + j] = np.int8(s ^ (flip * -2))  # x ^ -2 swaps +1 <-> -1


@njit(cache=True)
def _sweeps(
    A: np.ndarray, H: int, thr: np.ndarray, st: np.ndarray, buf: np.ndarray, n_sweeps: int
) -> None:
    """``n_sweeps`` Metropolis sweeps in place on a blocked configuration (L = 2H).

    Sublattices (a, b) = (0,0), (0,1), (1,0), (1,1) in turn; inside one sublattice no two
    sites interact, so the row-by-row order is immaterial. The horizontal partner column
    is j - 1 for b = 0 and j + 1 for b = 1; the one wrapping column is peeled off the loop.
    """
    HH = H * H
    one = uintp(1)
    for _ in range(n_sweeps):
        _fill(buf, st)
        pos = 0
        for a in range(2):
            for b in range(2):
                ap = 1 - a
                bp = 1 - b
                q0 = (2 * a + b) * HH  # this sublattice
                qn = (2 * ap + b) * HH  # vertical nearest neighbours
                qs = (2 * a + bp) * HH  # horizontal nearest neighbours
                qd = (2 * ap + bp) * HH  # diagonal (next-nearest) neighbours
                for i in range(H):
                    if a == 1:
                        ru = i
                        rd = i + 1 if i < H - 1 else 0
                    else:
                        ru = i - 1 if i > 0 else H - 1
                        rd = i
                    o_row = uintp(q0 + i * H)
                    o_u = uintp(qn + ru * H)
                    o_d = uintp(qn + rd * H)
                    o_s = uintp(qs + i * H)
                    o_uu = uintp(qd + ru * H)
                    o_dd = uintp(qd + rd * H)
                    if b == 0:
                        _site(
                            A,
                            o_row,
                            o_u,
                            o_d,
                            o_s,
                            o_uu,
                            o_dd,
                            uintp(0),
                            uintp(H - 1),
                            buf[pos],
                            thr,
                        )
                        for j0 in range(1, H):
                            j = uintp(j0)
                            _site(
                                A,
                                o_row,
                                o_u,
                                o_d,
                                o_s,
                                o_uu,
                                o_dd,
                                j,
                                j - one,
                                buf[uintp(pos + j0)],
                                thr,
                            )
                    else:
                        for j0 in range(H - 1):
                            j = uintp(j0)
                            _site(
                                A,
                                o_row,
                                o_u,
                                o_d,
                                o_s,
                                o_uu,
                                o_dd,
                                j,
                                j + one,
                                buf[uintp(pos + j0)],
                                thr,
                            )
                        _site(
                            A,
                            o_row,
                            o_u,
                            o_d,
                            o_s,
                            o_uu,
                            o_dd,
                            uintp(H - 1),
                            uintp(0),
                            buf[pos + H - 1],
                            thr,
                        )
                    pos += H


@njit(cache=True)
def _observables(spins: np.ndarray, J1: float, J2: float) -> tuple[float, float, float, float]:
    """(energy per site, magnetisation, m_x, m_y) of one configuration, exact integer sums."""
    L = spins.shape[0]
    nn = 0
    nnn = 0
    m = 0
    mx = 0
    my = 0
    for i in range(L):
        idn = i + 1 if i < L - 1 else 0
        sy = 1 if i % 2 == 0 else -1
        for j in range(L):
            jr = j + 1 if j < L - 1 else 0
            jl = j - 1 if j > 0 else L - 1
            s = np.int64(spins[i, j])
            nn += s * (np.int64(spins[i, jr]) + spins[idn, j])
            nnn += s * (np.int64(spins[idn, jr]) + spins[idn, jl])
            m += s
            mx += s if j % 2 == 0 else -s
            my += s * sy
    n = L * L
    return (-J1 * nn + J2 * nnn) / n, m / n, mx / n, my / n


@njit(cache=True)
def _random_spins(L: int, st: np.ndarray, buf: np.ndarray) -> np.ndarray:
    _fill(buf, st)
    spins = np.empty((L, L), dtype=np.int8)
    for i in range(L):
        for j in range(L):
            spins[i, j] = 1 if buf[i * L + j] < np.uint32(0x80000000) else -1
    return spins


@njit(cache=True, parallel=True)
def _cool_kernel(
    L: int,
    J1: float,
    j2s: np.ndarray,
    temps: np.ndarray,
    sweeps_per_T: np.ndarray,
    extra_first: int,
    seed: np.uint64,
    nbuf: int,
    out_spins: np.ndarray,
    out_obs: np.ndarray,
) -> None:
    """Successive cooling of ``len(j2s)`` chains; chain c uses stream (seed, c)."""
    n_chains = j2s.shape[0]
    n_t = temps.shape[0]
    H = L // 2
    for c in prange(n_chains):
        st = _chain_rng(seed, np.uint64(c))
        buf = np.empty(nbuf, dtype=np.uint32)
        spins = _random_spins(L, st, buf)
        A = np.empty(L * L, dtype=np.int8)
        _to_blocked(spins, A)
        for t in range(n_t):
            thr = _thresholds(temps[t], J1, j2s[c])
            n = sweeps_per_T[c] + extra_first if t == 0 else sweeps_per_T[c]
            _sweeps(A, H, thr, st, buf, n)
            _from_blocked(A, spins)
            out_spins[c, t] = spins
            e, m, mx, my = _observables(spins, J1, j2s[c])
            out_obs[c, t, 0] = e
            out_obs[c, t, 1] = m
            out_obs[c, t, 2] = math.sqrt(mx * mx + my * my)


@njit(cache=True, parallel=True)
def _fixed_kernel(
    spins0: np.ndarray,
    J1: float,
    J2: float,
    T: float,
    n_sweeps: int,
    n_measure: int,
    sweeps_between: int,
    seed: np.uint64,
    random_start: bool,
    nbuf: int,
    out_obs: np.ndarray,
    out_spins: np.ndarray,
) -> None:
    n_chains = spins0.shape[0]
    L = spins0.shape[1]
    H = L // 2
    thr = _thresholds(T, J1, J2)
    for c in prange(n_chains):
        st = _chain_rng(seed, np.uint64(c))
        buf = np.empty(nbuf, dtype=np.uint32)
        if random_start:
            spins = _random_spins(L, st, buf)
        else:
            spins = spins0[c].copy()
        A = np.empty(L * L, dtype=np.int8)
        _to_blocked(spins, A)
        _sweeps(A, H, thr, st, buf, n_sweeps)
        for k in range(n_measure):
            _sweeps(A, H, thr, st, buf, sweeps_between)
            _from_blocked(A, spins)
            e, m, mx, my = _observables(spins, J1, J2)
            out_obs[c, k, 0] = e
            out_obs[c, k, 1] = m
            out_obs[c, k, 2] = mx
            out_obs[c, k, 3] = my
        _from_blocked(A, spins)
        out_spins[c] = spins


# ---------------------------------------------------------------------------------------
# Public low-level functions
# ---------------------------------------------------------------------------------------
def _check_L(L: int) -> None:
    require(
        isinstance(L, (int, np.integer)) and not isinstance(L, bool) and L >= 4 and L % 2 == 0,
        "L",
        "an even integer >= 4 (the 2x2 sublattice sweep needs even L)",
        L,
    )


def cooling_temperatures(T_max: float = 4.0, T_min: float = 0.1, dT: float = 0.025) -> np.ndarray:
    """The cooling ladder T_max, T_max - dT, ..., T_min (157 values for the defaults)."""
    n = int(round((T_max - T_min) / dT)) + 1 if T_max > T_min else 1
    return T_max - dT * np.arange(n, dtype=np.float64)


def cool_chains(
    L: int,
    J2: np.ndarray | float,
    temperatures: np.ndarray,
    sweeps_per_T: int | np.ndarray,
    seed: int,
    n_chains: int | None = None,
    extra_first_sweeps: int = 0,
    J1: float = 1.0,
) -> dict[str, np.ndarray]:
    """Successively cool independent chains from random spins through ``temperatures``.

    ``J2`` is one value per chain (or a scalar with ``n_chains``). At each temperature a
    chain makes ``sweeps_per_T`` sweeps (scalar or one per chain; plus
    ``extra_first_sweeps`` at the first temperature) and
    then stores its configuration. Returns ``spins`` (n_chains, n_T, L, L) int8 and
    ``energy``, ``magnetisation``, ``stripe`` (n_chains, n_T) float64.
    """
    _check_L(L)
    j2s = np.atleast_1d(np.asarray(J2, dtype=np.float64))
    if n_chains is not None:
        j2s = np.broadcast_to(j2s, (n_chains,))
    j2s = np.ascontiguousarray(j2s, dtype=np.float64)
    temps = np.ascontiguousarray(temperatures, dtype=np.float64)
    require(bool(np.all(temps > 0)), "temperatures", "all > 0", temperatures)
    n_c, n_t = j2s.shape[0], temps.shape[0]
    sweeps = np.ascontiguousarray(np.broadcast_to(np.asarray(sweeps_per_T, np.int64), (n_c,)))
    require(bool(np.all(sweeps >= 1)), "sweeps_per_T", ">= 1", sweeps_per_T)
    out_spins = np.empty((n_c, n_t, L, L), dtype=np.int8)
    out_obs = np.empty((n_c, n_t, 3), dtype=np.float64)
    _cool_kernel(
        int(L),
        float(J1),
        j2s,
        temps,
        sweeps,
        int(extra_first_sweeps),
        np.uint64(int(seed) % 2**64),
        _buffer_size(L),
        out_spins,
        out_obs,
    )
    return {
        "spins": out_spins,
        "energy": out_obs[..., 0],
        "magnetisation": out_obs[..., 1],
        "stripe": out_obs[..., 2],
    }


def run_fixed_temperature(
    L: int,
    J2: float,
    T: float,
    n_sweeps: int,
    n_measure: int,
    seed: int,
    n_chains: int = 1,
    sweeps_between: int = 1,
    init: str | np.ndarray = "random",
    J1: float = 1.0,
) -> dict[str, np.ndarray]:
    """Fixed-temperature Metropolis chains (for validation and autocorrelation studies).

    Each chain starts from ``init`` ("random", "up" (ferromagnet), "stripe" (columnar
    superantiferromagnet) or an (n_chains, L, L) array), makes ``n_sweeps`` equilibration
    sweeps, then measures ``n_measure`` times, every ``sweeps_between`` sweeps.
    Returns per-measurement arrays (n_chains, n_measure) ``energy`` (per site),
    ``magnetisation`` (signed, per site), ``m_x``, ``m_y``, ``stripe`` and the final
    ``spins`` (n_chains, L, L) int8.
    """
    _check_L(L)
    require(T > 0, "T", "> 0", T)
    require(n_chains >= 1, "n_chains", ">= 1", n_chains)
    random_start = isinstance(init, str) and init == "random"
    if isinstance(init, str):
        y, x = np.indices((L, L))
        base = {
            "random": np.ones((L, L)),
            "up": np.ones((L, L)),
            "stripe": np.where(x % 2 == 0, 1, -1),
        }
        require(init in base, "init", "'random', 'up', 'stripe' or an array", init)
        spins0 = np.broadcast_to(base[init].astype(np.int8), (n_chains, L, L)).copy()
    else:
        spins0 = np.ascontiguousarray(init, dtype=np.int8).reshape(n_chains, L, L).copy()
    out_obs = np.empty((n_chains, n_measure, 4), dtype=np.float64)
    out_spins = np.empty((n_chains, L, L), dtype=np.int8)
    _fixed_kernel(
        spins0,
        float(J1),
        float(J2),
        float(T),
        int(n_sweeps),
        int(n_measure),
        int(sweeps_between),
        np.uint64(int(seed) % 2**64),
        random_start,
        _buffer_size(L),
        out_obs,
        out_spins,
    )
    mx, my = out_obs[..., 2], out_obs[..., 3]
    return {
        "energy": out_obs[..., 0],
        "magnetisation": out_obs[..., 1],
        "m_x": mx,
        "m_y": my,
        "stripe": np.sqrt(mx * mx + my * my),
        "spins": out_spins,
    }


# ---------------------------------------------------------------------------------------
# Pure helpers: exact results and observables on arrays of configurations
# ---------------------------------------------------------------------------------------
def onsager_energy(T: np.ndarray | float) -> np.ndarray | float:
    """Exact energy per site of the infinite square-lattice Ising model (J1 = 1, J2 = 0)."""
    t = np.asarray(T, dtype=np.float64)
    b2 = 2.0 / t
    k = 2.0 * np.sinh(b2) / np.cosh(b2) ** 2
    K = ellipk(np.minimum(k * k, 1.0))  # the log singularity at Tc is integrable
    u = -(1.0 / np.tanh(b2)) * (1.0 + (2.0 / np.pi) * (2.0 * np.tanh(b2) ** 2 - 1.0) * K)
    u = np.where(np.isclose(t, TC_ISING, rtol=0, atol=1e-12), -math.sqrt(2.0), u)
    return float(u) if np.ndim(T) == 0 else u


def onsager_magnetisation(T: np.ndarray | float) -> np.ndarray | float:
    """Exact spontaneous magnetisation (1 - sinh(2/T)^-4)^(1/8) below T_c, 0 above."""
    t = np.asarray(T, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        m = np.where(t < TC_ISING, np.clip(1.0 - np.sinh(2.0 / t) ** -4.0, 0, None) ** 0.125, 0.0)
    return float(m) if np.ndim(T) == 0 else m


def _as_spins(spins: np.ndarray) -> np.ndarray:
    s = np.asarray(spins)
    if s.ndim < 2 or s.shape[-1] != s.shape[-2]:
        raise ValueError(f"spins must have shape (..., L, L), got {s.shape}")
    return s.astype(np.int64, copy=False)


def energy_per_site(spins: np.ndarray, J2: np.ndarray | float, J1: float = 1.0) -> np.ndarray:
    """E/N of configurations (..., L, L) with periodic boundaries; J2 broadcasts over (...)."""
    s = _as_spins(spins)
    down = np.roll(s, -1, axis=-2)
    nn = (s * (np.roll(s, -1, axis=-1) + down)).sum(axis=(-2, -1))
    nnn = (s * (np.roll(down, -1, axis=-1) + np.roll(down, 1, axis=-1))).sum(axis=(-2, -1))
    n = s.shape[-1] * s.shape[-2]
    return (-J1 * nn + np.asarray(J2, dtype=np.float64) * nnn) / n


def magnetisation(spins: np.ndarray) -> np.ndarray:
    """Signed magnetisation per site of configurations (..., L, L)."""
    return _as_spins(spins).mean(axis=(-2, -1))


def stripe_order(spins: np.ndarray) -> np.ndarray:
    """Superantiferromagnetic order sqrt(m_x^2 + m_y^2), m_x = <s (-1)^x>, m_y = <s (-1)^y>.

    Equals 1 for either stripe orientation and ~N^-1/2 for the ferromagnet and paramagnet.
    """
    s = _as_spins(spins)
    L = s.shape[-1]
    sign = np.where(np.arange(L) % 2 == 0, 1, -1)
    mx = (s * sign[None, :]).mean(axis=(-2, -1))
    my = (s * sign[:, None]).mean(axis=(-2, -1))
    return np.sqrt(mx * mx + my * my)


def integrated_autocorrelation_time(series: np.ndarray, c: float = 5.0) -> float:
    """Integrated autocorrelation time (Sokal's automatic window, W >= c tau) in samples.

    ``series`` is (n,) or (n_chains, n); chains are averaged in the autocorrelation
    function, which makes the estimate usable for short series.
    """
    x = np.atleast_2d(np.asarray(series, dtype=np.float64))
    x = x - x.mean(axis=1, keepdims=True)
    n = x.shape[1]
    f = np.fft.rfft(x, n=2 * n, axis=1)
    acf = np.fft.irfft(f * np.conj(f), axis=1)[:, :n].mean(axis=0)
    if acf[0] <= 0:
        return 0.5
    rho = acf / acf[0]
    tau = 0.5
    for w in range(1, n):
        tau += rho[w]
        if w >= c * tau:
            break
    return float(max(tau, 0.5))


# ---------------------------------------------------------------------------------------
# The Simulator
# ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class J1J2Params:
    """Parameters of a successively cooled J1-J2 dataset (paper defaults)."""

    L: int = 30
    J2_values: tuple[float, ...] = PAPER_J2_VALUES
    T_max: float = 4.0
    T_min: float = 0.1
    dT: float = 0.025
    sweeps_per_T: int = DEFAULT_SWEEPS_PER_T
    extra_first_sweeps: int = DEFAULT_EXTRA_FIRST_SWEEPS
    sweeps_per_T_near_half: int = DEFAULT_SWEEPS_PER_T_NEAR_HALF
    near_half_width: float = DEFAULT_NEAR_HALF_WIDTH

    def __post_init__(self) -> None:
        _check_L(self.L)
        vals = self.J2_values
        require(
            isinstance(vals, (list, tuple, np.ndarray)) and len(vals) > 0,
            "J2_values",
            "a non-empty list of numbers >= 0",
            vals,
        )
        vals = tuple(float(v) for v in vals)
        require(
            all(math.isfinite(v) and v >= 0 for v in vals),
            "J2_values",
            "finite numbers >= 0 (J2 is antiferromagnetic)",
            vals,
        )
        object.__setattr__(self, "J2_values", vals)
        for f in ("T_max", "T_min", "dT"):
            v = getattr(self, f)
            require(isinstance(v, (int, float)) and math.isfinite(v) and v > 0, f, "> 0", v)
            object.__setattr__(self, f, float(v))
        require(self.T_max >= self.T_min, "T_max", f">= T_min={self.T_min}", self.T_max)
        steps = (self.T_max - self.T_min) / self.dT
        require(
            abs(steps - round(steps)) < 1e-6,
            "dT",
            f"a divisor of T_max - T_min = {self.T_max - self.T_min:g}",
            self.dT,
        )
        w = self.near_half_width
        require(
            isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) and w >= 0,
            "near_half_width",
            "a number >= 0 (|J2 - 1/2| <= width gets sweeps_per_T_near_half)",
            w,
        )
        object.__setattr__(self, "near_half_width", float(w))
        for f, lo in (
            ("sweeps_per_T", 1),
            ("extra_first_sweeps", 0),
            ("sweeps_per_T_near_half", 1),
        ):
            v = getattr(self, f)
            require(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= lo,
                f,
                f"an integer >= {lo}",
                v,
            )


class J1J2Simulator(Simulator):
    """Successively cooled Metropolis chains of the J1-J2 Ising model.

    point = one J2 value; unit = one chain cooled from T_max to T_min; one sample per
    temperature (``samples_per_unit`` = number of temperatures, hottest first).
    """

    name: ClassVar[str] = "j1j2"
    params_type: ClassVar[type] = J1J2Params
    #: 1.1: a ``frozen`` label (the chain ended with domain walls); near-1/2 window 0.1
    version: ClassVar[str] = "1.1"
    params: J1J2Params

    def __init__(self, params: J1J2Params | None = None) -> None:
        super().__init__(params if params is not None else J1J2Params())
        self.temperatures = cooling_temperatures(
            self.params.T_max, self.params.T_min, self.params.dT
        )
        self.samples_per_unit = int(self.temperatures.size)

    @classmethod
    def from_config(cls, **kwargs: Any) -> J1J2Simulator:
        """As the base, but a single J2 given as a number is accepted as it is."""
        values = kwargs.get("J2_values")
        if values is not None and not isinstance(values, (int, float)):
            kwargs["J2_values"] = tuple(values)
        return super().from_config(**kwargs)

    def sweeps_for(self, J2: np.ndarray) -> np.ndarray:
        """Sweeps per temperature for each J2: more near the degenerate point J2 = 1/2."""
        p = self.params
        near = np.abs(np.asarray(J2, dtype=np.float64) - 0.5) <= p.near_half_width + 1e-12
        return np.where(near, max(p.sweeps_per_T, p.sweeps_per_T_near_half), p.sweeps_per_T)

    @property
    def num_points(self) -> int:
        return len(self.params.J2_values)

    def schema(self) -> dict[str, ArraySpec]:
        L = self.params.L
        return {
            "x": ArraySpec((L, L), "int8"),
            "T": ArraySpec((), "float32"),
            "J2": ArraySpec((), "float32"),
            "J2_index": ArraySpec((), "int16"),
            "chain": ArraySpec((), "int32"),
            "energy": ArraySpec((), "float32"),
            "magnetisation": ArraySpec((), "float32"),
            "stripe": ArraySpec((), "float32"),
            "frozen": ArraySpec((), "uint8"),
        }

    def generate(self, points: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Cool one chain per entry of ``points``; samples unit-major, hottest T first.

        ``frozen`` (per chain, on every sample of it) is 1 when the chain's coldest
        configuration still has domain walls: it did not reach an ordered ground state.
        """
        pts = np.asarray(points, dtype=np.int64).reshape(-1)
        require(
            bool(np.all((pts >= 0) & (pts < self.num_points))),
            "points",
            f"grid indices in [0, {self.num_points})",
            pts,
        )
        p = self.params
        j2 = np.asarray(p.J2_values, dtype=np.float64)[pts]
        out = cool_chains(
            p.L,
            j2,
            self.temperatures,
            self.sweeps_for(j2),
            seed_from(rng),
            extra_first_sweeps=p.extra_first_sweeps,
        )
        n_u, n_t = pts.size, self.samples_per_unit
        n = n_u * n_t
        frozen = has_domain_walls(out["energy"][:, -1], j2, p.L).astype(np.uint8)
        return {
            "x": out["spins"].reshape(n, p.L, p.L),
            "T": np.tile(self.temperatures, n_u).astype(np.float32),
            "J2": np.repeat(j2, n_t).astype(np.float32),
            "J2_index": np.repeat(pts, n_t).astype(np.int16),
            "chain": np.repeat(np.arange(n_u), n_t).astype(np.int32),
            "energy": out["energy"].reshape(n).astype(np.float32),
            "magnetisation": out["magnetisation"].reshape(n).astype(np.float32),
            "stripe": out["stripe"].reshape(n).astype(np.float32),
            "frozen": np.repeat(frozen, n_t),
        }


# ---------------------------------------------------------------------------------------
# Equilibrium moments at fixed (J2, T): the raw material of Binder-cumulant references
# ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class J1J2MomentsParams:
    """Fixed-temperature chains at (J2, T) pairs; each chain yields the moments of its order parameters."""

    L: int = 16
    pairs: tuple[tuple[float, float], ...] = ((0.0, 2.269),)
    equilibration: int = 4000
    measurements: int = 4000
    interval: int = 2

    def __post_init__(self) -> None:
        _check_L(self.L)
        try:
            pairs = tuple((float(a), float(b)) for a, b in self.pairs)
        except (TypeError, ValueError):
            raise ConfigError(field="pairs", value=self.pairs, allowed="a list of (J2, T) pairs") from None
        require(len(pairs) > 0, "pairs", "a non-empty list of (J2, T) pairs", self.pairs)
        for i, (j2, t) in enumerate(pairs):
            require(math.isfinite(j2) and j2 >= 0 and math.isfinite(t) and t > 0, f"pairs[{i}]", "J2 >= 0 and T > 0", (j2, t))
        object.__setattr__(self, "pairs", pairs)
        for f, lo in (("equilibration", 0), ("measurements", 2), ("interval", 1)):
            v = getattr(self, f)
            require(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= lo, f, f"an integer >= {lo}", v)


class J1J2MomentsSimulator(Simulator):
    """point = one (J2, T) pair; unit = one chain from random spins; sample = its moments.

    Per chain: <m^2>, <m^4> of the magnetisation and <s^2>, <s^4> of the stripe order
    vector (m_x, m_y) over ``measurements`` configurations ``interval`` sweeps apart, after
    ``equilibration`` sweeps, and <E>/N. Binder cumulants and their errors come from
    averaging over chains (see physml.reference).
    """

    name: ClassVar[str] = "j1j2_moments"
    params_type: ClassVar[type] = J1J2MomentsParams
    version: ClassVar[str] = "1"
    params: J1J2MomentsParams

    def __init__(self, params: J1J2MomentsParams | None = None) -> None:
        super().__init__(params if params is not None else J1J2MomentsParams())

    @property
    def num_points(self) -> int:
        return len(self.params.pairs)

    def schema(self) -> dict[str, ArraySpec]:
        scalars = ("J2", "T", "m2", "m4", "s2", "s4", "energy")
        return {"point": ArraySpec((), "int32"), **{k: ArraySpec((), "float64") for k in scalars}}

    def generate(self, points: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        pts = np.asarray(points, dtype=np.int64).reshape(-1)
        require(bool(np.all((pts >= 0) & (pts < self.num_points))), "points", f"in [0, {self.num_points})", pts)
        p = self.params
        out = {k: np.empty(pts.size, dtype=np.float64) for k in ("J2", "T", "m2", "m4", "s2", "s4", "energy")}
        seed = seed_from(rng)
        for point in np.unique(pts):  # the chains of one point run in parallel
            where = np.flatnonzero(pts == point)
            j2, T = p.pairs[int(point)]
            run = run_fixed_temperature(
                p.L, j2, T, p.equilibration, p.measurements, seed=seed + int(point), n_chains=where.size,
                sweeps_between=p.interval,
            )
            m2 = run["magnetisation"] ** 2
            s2 = run["m_x"] ** 2 + run["m_y"] ** 2
            out["J2"][where], out["T"][where] = j2, T
            out["m2"][where], out["m4"][where] = m2.mean(axis=1), (m2 * m2).mean(axis=1)
            out["s2"][where], out["s4"][where] = s2.mean(axis=1), (s2 * s2).mean(axis=1)
            out["energy"][where] = run["energy"].mean(axis=1)
        return {"point": pts.astype(np.int32), **out}
