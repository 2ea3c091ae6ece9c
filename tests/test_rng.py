"""The shared numba random numbers every simulator draws from (simulators/rng.py)."""

from __future__ import annotations

import numpy as np

from simulators.rng import mix64, xoshiro_next


def test_xoshiro256starstar_reference_outputs() -> None:
    """The generator is the published xoshiro256** (Blackman & Vigna): state {1,2,3,4}."""
    state = tuple(np.uint64(v) for v in (1, 2, 3, 4))
    out = []
    for _ in range(4):
        r, *state = xoshiro_next(*state)
        out.append(int(r))
    assert out == [11520, 0, 1509978240, 1215971899390074240]


def test_splitmix64_finaliser_reference_outputs() -> None:
    """SplitMix64 (Steele, Lea & Flood 2014) from state 0: the reference sequence of splitmix64.c."""
    state = np.uint64(0)
    out = []
    for _ in range(3):
        state = np.uint64(state + np.uint64(0x9E3779B97F4A7C15))
        out.append(int(mix64(state)))
    assert out == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
