"""Counter-based random numbers for the numba kernels of every simulator.

Why not numpy's Generator inside the kernels: a kernel runs many samples or chains in
parallel, and each must draw from its own stream, keyed by (seed, position), so that the
result does not depend on the number of threads. SplitMix64 (Steele, Lea and Flood 2014)
hashes such keys into well-mixed 64-bit words; xoshiro256** (Blackman and Vigna 2018) is
the fast long-period stream a Monte Carlo chain draws from, seeded by SplitMix64.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: the SplitMix64 increment, 2^64 / golden ratio
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
#: odd multiplier that spreads stream ids before hashing (keeps (seed, id) keys apart)
STREAM_KEY = np.uint64(0xD1B54A32D192ED03)


@njit(cache=True, inline="always")
def mix64(z: np.uint64) -> np.uint64:
    """SplitMix64 finaliser: a bijective 64-bit hash with full avalanche."""
    z = (z ^ (z >> np.uint64(30))) * MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def sample_state(seed: np.uint64, index: np.uint64) -> np.uint64:
    """A SplitMix64 counter for sample ``index`` of a call seeded with ``seed``."""
    return mix64(seed ^ mix64(index * GOLDEN + MIX2))


@njit(cache=True)
def xoshiro_state(seed: np.uint64, stream: np.uint64) -> np.ndarray:
    """xoshiro256** state of one stream: SplitMix64 expansion of a (seed, stream id) hash."""
    x = mix64(seed) ^ mix64((stream + np.uint64(1)) * STREAM_KEY)
    st = np.empty(4, dtype=np.uint64)
    for k in range(4):
        x = x + GOLDEN
        st[k] = mix64(x)
    if st[0] == 0 and st[1] == 0 and st[2] == 0 and st[3] == 0:  # pragma: no cover
        st[0] = GOLDEN
    return st


@njit(cache=True)
def rotl(x: np.uint64, k: int) -> np.uint64:
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True)
def xoshiro_next(
    s0: np.uint64, s1: np.uint64, s2: np.uint64, s3: np.uint64
) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64, np.uint64]:
    """One xoshiro256** step on a state held in registers; returns (output, new state)."""
    result = rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = rotl(s3, 45)
    return result, s0, s1, s2, s3


@njit(cache=True)
def uniform_from(word: np.uint64) -> float:
    """A double in [0, 1) from the top 53 bits of a 64-bit word."""
    return float(word >> np.uint64(11)) * (1.0 / 9007199254740992.0)
