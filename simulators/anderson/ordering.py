"""Geometric nested-dissection ordering of the periodic M x M x M lattice.

Used by the pure-scipy fallback: SuperLU's own orderings (COLAMD, MMD) give far more fill
on a 3D lattice than nested dissection, and on a regular lattice the optimal separators
are simply lattice planes, so no graph partitioner is needed. A periodic axis needs two
planes to be cut (the torus wraps around), after which it is an ordinary open axis.
"""

from __future__ import annotations

import numpy as np


def nested_dissection(M: int, leaf: int = 64) -> np.ndarray:
    """Permutation ``perm`` (new position -> site index) with separators ordered last."""
    out: list[np.ndarray] = []
    grid = np.arange(M**3, dtype=np.int64).reshape(M, M, M)

    def region(lo: tuple[int, ...], hi: tuple[int, ...]) -> np.ndarray:
        return grid[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].ravel()

    def visit(lo: tuple[int, ...], hi: tuple[int, ...], periodic: tuple[bool, ...]) -> None:
        ext = [h - low for low, h in zip(lo, hi, strict=True)]
        if min(ext) <= 0:
            return
        if ext[0] * ext[1] * ext[2] <= leaf:
            out.append(region(lo, hi))
            return
        ax = int(np.argmax([e * (1.5 if p else 1.0) for e, p in zip(ext, periodic, strict=True)]))
        if ext[ax] < 3:
            out.append(region(lo, hi))
            return
        mid = lo[ax] + ext[ax] // 2
        seps = [mid]
        if periodic[ax]:
            seps = [lo[ax], mid]
        per = tuple(False if i == ax else p for i, p in enumerate(periodic))
        bounds = sorted(seps) + [hi[ax]]
        start = seps[0] if periodic[ax] else lo[ax]
        pieces = [(start, bounds[0])] if not periodic[ax] else []
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            pieces.append((a + 1, b))
        for a, b in pieces:
            sub_lo = tuple(a if i == ax else v for i, v in enumerate(lo))
            sub_hi = tuple(b if i == ax else v for i, v in enumerate(hi))
            visit(sub_lo, sub_hi, per)
        for s in seps:
            sub_lo = tuple(s if i == ax else v for i, v in enumerate(lo))
            sub_hi = tuple(s + 1 if i == ax else v for i, v in enumerate(hi))
            out.append(region(sub_lo, sub_hi))

    visit((0, 0, 0), (M, M, M), (True, True, True))
    perm = np.concatenate(out)
    if len(perm) != M**3 or len(np.unique(perm)) != M**3:
        raise AssertionError("nested dissection lost or duplicated sites")
    return perm
