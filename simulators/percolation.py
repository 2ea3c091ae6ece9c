"""2D site percolation on an L x L square lattice (paper section 3).

A unit at grid point j is one lattice with *exactly* ``round(p_j * L**2)`` occupied sites
placed as a uniformly random subset (the paper's "percolation density" ensemble, so that
p is an exact label). Clusters are nearest-neighbour (side-to-side) connected occupied
sites with open boundaries. A lattice *spans* when a single cluster touches both the top
and bottom rows, or both the left and right columns (row 0 is the top).

Two cluster kernels, both Hoshen-Kopelman raster scans with union-find: ``generate`` and
``cluster_stats`` work on horizontal runs of sites and never store per-site labels (the
fast path: cluster count, largest cluster, spanning flags); ``label_clusters`` labels
every site, numbered like ``scipy.ndimage.label``. The tests check both against scipy.

Everything hot runs in numba. ``generate`` builds a whole call's samples in one parallel
kernel; sample ``i`` draws its random numbers from a SplitMix64 stream keyed by one seed
from ``seed_from(rng)`` and by ``i`` alone, so results do not depend on the thread count.

Notebook use::

    sim = PercolationSimulator(PercolationParams(L=64, p_values=(0.5927,)))
    data = sim.generate(np.zeros(1000, dtype=np.int64), np.random.default_rng(0))
    labels = label_clusters(data["x"][0]); spanning_flags(labels)
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple

import numba
import numpy as np
from numba import njit, prange

from physml.errors import ConfigError, require
from physml.simulator import ArraySpec, Simulator, seed_from
from simulators.rng import GOLDEN, mix64, sample_state


def _paper_p_values() -> tuple[float, ...]:
    """The paper's 31 occupation probabilities; rounded so each is the exact decimal."""
    fine = tuple(round(0.555 + 0.005 * k, 3) for k in range(21))  # 0.555 .. 0.655
    return (0.1, 0.2, 0.3, 0.4, 0.5, 0.55, *fine, 0.66, 0.7, 0.8, 0.9)


PAPER_P_VALUES: tuple[float, ...] = _paper_p_values()
assert len(PAPER_P_VALUES) == 31


def n_occupied(p: float, L: int) -> int:
    """Number of occupied sites of an L x L lattice at density p: round(p * L**2).

    Python's round (an exact half goes to the even integer); p * L**2 is an integer for
    the paper's grid at L = 100, so there N_occ / L**2 equals p exactly.
    """
    return int(round(p * L * L))


# --------------------------------------------------------------------------- parameters


@dataclasses.dataclass(frozen=True)
class PercolationParams:
    """Lattice size and the grid of occupation probabilities (one point per p)."""

    L: int = 100
    p_values: tuple[float, ...] = PAPER_P_VALUES

    def __post_init__(self) -> None:
        require(
            isinstance(self.L, (int, np.integer)) and not isinstance(self.L, bool),
            "L",
            "an integer >= 2",
            self.L,
        )
        require(2 <= int(self.L) <= 46340, "L", "integers in [2, 46340]", self.L)
        object.__setattr__(self, "L", int(self.L))
        try:
            values = tuple(self.p_values)
        except TypeError:
            allowed = "a non-empty list of floats in [0, 1]"
            raise ConfigError(f"p_values={self.p_values!r} is invalid: allowed {allowed}") from None
        require(
            0 < len(values) <= np.iinfo(np.int16).max,
            "p_values",
            "a non-empty list (at most 32767 entries) of floats in [0, 1]",
            self.p_values,
        )
        clean = []
        for i, v in enumerate(values):
            ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            require(ok and 0.0 <= float(v) <= 1.0, f"p_values[{i}]", "values in [0, 1]", v)
            clean.append(float(v))
        object.__setattr__(self, "p_values", tuple(clean))


# --------------------------------------------------------------------------- numba core

_LOW32 = np.uint64(0xFFFFFFFF)
_U = np.uint64


@njit(cache=True)
def _place_sites(site: np.ndarray, n_occ: int, state: np.uint64) -> np.uint64:
    """Occupy exactly n_occ of the sites, a uniformly random subset; returns the new state.

    Draws the minority species (occupied or empty) by rejection of repeats, which yields
    a uniformly random subset of that size; at most half the sites are drawn, so on
    average fewer than 1.4 draws are needed per site placed. Each 64-bit SplitMix64 output
    gives two site indices, each made unbiased by Lemire's multiply-shift rejection.
    """
    total = site.size
    fill_empty = n_occ > total // 2
    k = total - n_occ if fill_empty else n_occ
    base = np.uint8(1) if fill_empty else np.uint8(0)
    mark = np.uint8(1) - base
    site[:] = base
    n = np.uint64(total)
    reject_below = ((_LOW32 - n) + np.uint64(1)) % n  # 2**32 mod n
    placed = 0
    while placed < k:
        state = state + GOLDEN
        z = mix64(state)
        m = (z >> np.uint64(32)) * n
        if (m & _LOW32) >= reject_below:  # almost always true
            j = m >> np.uint64(32)
            placed += site[j] == base  # branch-free: repeats are unpredictable
            site[j] = mark
        if placed < k:
            m = (z & _LOW32) * n
            if (m & _LOW32) >= reject_below:
                j = m >> np.uint64(32)
                placed += site[j] == base
                site[j] = mark
    return state


@njit(cache=True, inline="always")
def _find(parent: np.ndarray, i: int) -> int:
    while parent[_U(i)] != i:
        grand = parent[_U(parent[_U(i)])]
        parent[_U(i)] = grand  # path halving
        i = grand
    return i


@njit(cache=True)
def _label_flat(site: np.ndarray, H: int, W: int, parent: np.ndarray, labels: np.ndarray) -> int:
    """Hoshen-Kopelman labelling by union-find; returns the number of clusters.

    Roots are always the smallest site index of their cluster (earlier roots win every
    union), so a raster pass meets each root before its cluster's other sites and labels
    come out 1..n in order of first appearance, the order scipy.ndimage.label uses.
    """
    for r in range(H):
        row = r * W
        for c in range(W):
            i = row + c
            if site[i] == 0:
                labels[i] = 0
                continue
            left = c > 0 and site[i - 1] != 0
            up = r > 0 and site[i - W] != 0
            if left:
                a = _find(parent, i - 1)
                parent[i] = a
                if up:
                    b = _find(parent, i - W)
                    if a < b:
                        parent[b] = a
                    elif b < a:
                        parent[a] = b
                        parent[i] = b
            elif up:
                parent[i] = _find(parent, i - W)
            else:
                parent[i] = i
    n = 0
    for i in range(H * W):
        if site[i] != 0:
            root = _find(parent, i)
            if root == i:
                n += 1
                labels[i] = n
            else:
                labels[i] = labels[root]
    return n


@njit(cache=True)
def _span_flags(labels: np.ndarray, H: int, W: int, n: int) -> tuple[bool, bool]:
    """Whether one label touches top and bottom rows, and one touches left and right."""
    touch = np.zeros(n + 1, dtype=np.uint8)
    for c in range(W):
        touch[labels[c]] |= 1
        touch[labels[(H - 1) * W + c]] |= 2
    for r in range(H):
        touch[labels[r * W]] |= 4
        touch[labels[r * W + W - 1]] |= 8
    tb = False
    lr = False
    for k in range(1, n + 1):
        if touch[k] & 3 == 3:
            tb = True
        if touch[k] & 12 == 12:
            lr = True
    return tb, lr


@njit(cache=True)
def _run_stats(
    site: np.ndarray,
    H: int,
    W: int,
    rowbuf: np.ndarray,
    startcnt: np.ndarray,
    flags: np.ndarray,
    pairs: np.ndarray,
    parent: np.ndarray,
    size: np.ndarray,
) -> tuple[int, int, bool, bool, int]:
    """(n_clusters, largest, spans_tb, spans_lr, n_occupied) without per-site labels.

    Hoshen-Kopelman on horizontal runs: one branch-free raster pass numbers the runs
    1..nr, records how many occupied sites precede each run (so run lengths are
    differences) and the run pairs that touch vertically (one pair per overlap segment);
    union-find then works on runs only and merges sizes and edge flags (1 top, 2 bottom,
    4 left, 8 right) at the roots. rowbuf (2 * W) holds the run id of each column of the
    current and previous row, 0 where empty. The other work arrays need
    ``_run_capacity(H, W)`` entries.
    """
    nr = 0
    k = 0
    nocc = 0
    flags[:] = 0
    rowbuf[:] = 0
    for r in range(H):
        row = r * W
        co = (r & 1) * W
        po = W - co  # row 0 reads the still-zero half: nothing above
        prev = 0
        prevboth = 0
        nr0 = nr
        # unsigned indices spare numba's negative-index wraparound (~20% of this loop)
        for c in range(W):
            occ = np.int64(site[_U(row + c)])
            upid = rowbuf[_U(po + c)]
            isstart = occ & (1 - prev)
            startcnt[_U((nr + 1) * isstart)] = nocc  # slot 0 absorbs writes of non-starts
            nr += isstart
            rowbuf[_U(co + c)] = nr * occ
            both = occ & (upid != 0)
            pairs[_U(k)] = (nr << 32) | upid  # one store per site: (this run, run above)
            k += both & (1 - prevboth)
            prev = occ
            prevboth = both
            nocc += occ
        flags[rowbuf[co]] |= 4  # slot 0 (empty edge site) is ignored below
        flags[rowbuf[co + W - 1]] |= 8
        if r == 0:
            for j in range(nr0 + 1, nr + 1):
                flags[j] |= 1
        if r == H - 1:
            for j in range(nr0 + 1, nr + 1):
                flags[j] |= 2
    startcnt[nr + 1] = nocc
    for j in range(nr + 1):
        parent[j] = j
    for q in range(k):
        a = _find(parent, pairs[_U(q)] >> 32)
        b = _find(parent, pairs[_U(q)] & 0xFFFFFFFF)
        parent[_U(max(a, b))] = min(a, b)  # the earlier root wins; a no-op when a == b
    n_clusters = 0
    for j in range(nr + 1):
        size[j] = 0
    for j in range(1, nr + 1):
        root = _find(parent, j)
        size[_U(root)] += startcnt[_U(j + 1)] - startcnt[_U(j)]
        flags[_U(root)] |= flags[_U(j)]
        n_clusters += root == j
    largest = 0
    tb = False
    lr = False
    for j in range(1, nr + 1):
        if parent[j] == j:
            largest = max(largest, size[j])
            tb |= (flags[j] & 3) == 3
            lr |= (flags[j] & 12) == 12
    return n_clusters, largest, tb, lr, nocc


def _run_capacity(H: int, W: int) -> int:
    """Size of the run work arrays of _run_stats: the most runs an H x W lattice can hold
    (H * ceil(W / 2)), plus slot 0 and one slot past the last run."""
    return H * ((W + 1) // 2) + 2


@njit(cache=True, parallel=True)
def _generate_kernel(
    L: int,
    n_occ: np.ndarray,
    seed: np.uint64,
    block: int,
    x: np.ndarray,
    n_real: np.ndarray,
    spans_tb: np.ndarray,
    spans_lr: np.ndarray,
    n_clusters: np.ndarray,
    largest: np.ndarray,
) -> None:
    """Fill x[s] (flattened L*L lattices) and the per-sample observables.

    Blocks of samples share one set of work arrays; sample s is seeded from (seed, s)
    alone, so the result does not depend on the number of threads or the block size.
    """
    n = n_occ.size
    m = L * ((L + 1) // 2) + 2
    for blk in prange((n + block - 1) // block):
        rowbuf = np.empty(2 * L, dtype=np.int64)
        startcnt = np.empty(m, dtype=np.int64)
        flags = np.empty(m, dtype=np.uint8)
        pairs = np.empty(m, dtype=np.int64)
        parent = np.empty(m, dtype=np.int64)
        size = np.empty(m, dtype=np.int64)
        for s in range(blk * block, min(n, (blk + 1) * block)):
            state = sample_state(seed, np.uint64(s))
            site = x[s]
            _place_sites(site, n_occ[s], state)
            ncl, big, tb, lr, nocc = _run_stats(
                site, L, L, rowbuf, startcnt, flags, pairs, parent, size
            )
            n_real[s] = nocc
            spans_tb[s] = tb
            spans_lr[s] = lr
            n_clusters[s] = ncl
            largest[s] = big


@njit(cache=True)
def _label_kernel(site: np.ndarray, H: int, W: int) -> np.ndarray:
    parent = np.empty(H * W, dtype=np.int32)
    labels = np.empty(H * W, dtype=np.int32)
    _label_flat(site, H, W, parent, labels)
    return labels


@njit(cache=True)
def _flags_kernel(labels: np.ndarray, H: int, W: int) -> tuple[bool, bool]:
    n = 0
    for i in range(labels.size):
        if labels[i] > n:
            n = labels[i]
    return _span_flags(labels, H, W, n)


# --------------------------------------------------------------------------- public helpers


class SpanningFlags(NamedTuple):
    """Spanning status of one labelled lattice (row 0 is the top)."""

    spanning: bool
    spans_tb: bool
    spans_lr: bool


def label_clusters(lattice: np.ndarray) -> np.ndarray:
    """Label 4-connected clusters of a 2D occupation array (nonzero = occupied).

    Returns int32 labels of the same shape: 0 for empty sites, 1..n for clusters, numbered
    in raster order of their first site (the convention of scipy.ndimage.label).
    """
    a = np.asarray(lattice)
    if a.ndim != 2:
        raise ValueError(f"lattice must be 2D, got shape {a.shape}")
    H, W = a.shape
    if a.size == 0:
        return np.zeros(a.shape, dtype=np.int32)
    site = np.ascontiguousarray(a != 0).view(np.uint8).ravel()
    return _label_kernel(site, H, W).reshape(H, W)


def spanning_flags(labels: np.ndarray) -> SpanningFlags:
    """Whether one cluster of a labelled lattice connects top-bottom and/or left-right."""
    lab = np.asarray(labels)
    if lab.ndim != 2:
        raise ValueError(f"labels must be 2D, got shape {lab.shape}")
    if lab.size == 0:
        return SpanningFlags(False, False, False)
    if lab.min() < 0:
        raise ValueError("labels must be >= 0 (0 = empty)")
    H, W = lab.shape
    tb, lr = _flags_kernel(np.ascontiguousarray(lab, dtype=np.int64).ravel(), H, W)
    return SpanningFlags(bool(tb or lr), bool(tb), bool(lr))


class ClusterStats(NamedTuple):
    """Observables of one lattice, as ``generate`` computes them."""

    n_clusters: int
    largest_cluster: int
    spans_tb: bool
    spans_lr: bool
    n_occupied: int

    @property
    def spanning(self) -> bool:
        return self.spans_tb or self.spans_lr


def cluster_stats(lattice: np.ndarray) -> ClusterStats:
    """Cluster count, largest cluster and spanning flags of any 2D lattice (nonzero = occupied).

    Uses the same run-based kernel as ``generate``, so it is the fast path when the labels
    themselves are not needed.
    """
    a = np.asarray(lattice)
    if a.ndim != 2:
        raise ValueError(f"lattice must be 2D, got shape {a.shape}")
    H, W = a.shape
    if a.size == 0:
        return ClusterStats(0, 0, False, False, 0)
    site = np.ascontiguousarray(a != 0).view(np.uint8).ravel()
    m = _run_capacity(H, W)
    ncl, big, tb, lr, nocc = _run_stats(
        site,
        H,
        W,
        np.empty(2 * W, np.int64),
        np.empty(m, np.int64),
        np.empty(m, np.uint8),
        np.empty(m, np.int64),
        np.empty(m, np.int64),
        np.empty(m, np.int64),
    )
    return ClusterStats(int(ncl), int(big), bool(tb), bool(lr), int(nocc))


# --------------------------------------------------------------------------- simulator

_BLOCK = 16  # samples per parallel task; results do not depend on it


class PercolationSimulator(Simulator):
    """Exact-density site percolation states with their spanning labels (paper section 3)."""

    name: ClassVar[str] = "percolation"
    params_type: ClassVar[type] = PercolationParams
    version: ClassVar[str] = "1"
    samples_per_unit: int = 1

    def __init__(self, params: PercolationParams | None = None) -> None:
        super().__init__(params if params is not None else PercolationParams())
        self._n_occ = np.array(
            [n_occupied(p, self.params.L) for p in self.params.p_values], dtype=np.int64
        )

    @property
    def num_points(self) -> int:
        return len(self.params.p_values)

    def schema(self) -> dict[str, ArraySpec]:
        L = self.params.L
        return {
            "x": ArraySpec((L, L), "uint8"),
            "p": ArraySpec((), "float32"),
            "p_index": ArraySpec((), "int16"),
            "occupied_fraction": ArraySpec((), "float32"),
            "spanning": ArraySpec((), "uint8"),
            "spans_tb": ArraySpec((), "uint8"),
            "spans_lr": ArraySpec((), "uint8"),
            "n_clusters": ArraySpec((), "int32"),
            "largest_cluster": ArraySpec((), "int32"),
        }

    def generate(self, points: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        idx = np.asarray(points, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_points):
            raise ValueError(
                f"points must lie in [0, {self.num_points}), got {idx.min()}..{idx.max()}"
            )
        L = self.params.L
        n = idx.size
        seed = np.uint64(seed_from(rng))
        x = np.empty((n, L * L), dtype=np.uint8)
        n_real = np.empty(n, dtype=np.int64)
        tb = np.empty(n, dtype=np.uint8)
        lr = np.empty(n, dtype=np.uint8)
        n_clusters = np.empty(n, dtype=np.int32)
        largest = np.empty(n, dtype=np.int32)
        # dynamic scheduling of blocks: a call may mix cheap and dear p values, and threads
        # may be slowed unevenly by other processes
        with numba.parallel_chunksize(1):
            _generate_kernel(
                L, self._n_occ[idx], seed, _BLOCK, x, n_real, tb, lr, n_clusters, largest
            )
        p_grid = np.asarray(self.params.p_values, dtype=np.float32)
        return {
            "x": x.reshape(n, L, L),
            "p": p_grid[idx],
            "p_index": idx.astype(np.int16),
            "occupied_fraction": (n_real / float(L * L)).astype(np.float32),
            "spanning": tb | lr,
            "spans_tb": tb,
            "spans_lr": lr,
            "n_clusters": n_clusters,
            "largest_cluster": largest,
        }
