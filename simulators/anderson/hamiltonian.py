"""The 3D Anderson Hamiltonian on a periodic simple cubic lattice, as sparse CSR.

Convention (the paper's eq. (1)): ``(H psi)(r) = eps(r) psi(r) + sum_{6 nn} psi(r')``,
i.e. hopping ``+1`` to the six nearest neighbours with periodic wrap, on-site energies
``eps(r)`` uniform in ``[-w/2, w/2]``. At ``w = 0`` the spectrum is
``2 (cos kx + cos ky + cos kz)`` with ``k = 2 pi n / M``. Site ``(x, y, z)`` has index
``(x * M + y) * M + z`` so a state reshaped to ``(M, M, M)`` is indexed ``[x, y, z]``.

The sparsity pattern depends only on M, so it is built once per M (cached) and each
disorder realisation only writes its diagonal: no Python loop over sites and no
re-sorting of ~7 N entries per sample.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.sparse as sp

HOPPING = 1.0


def neighbour_indices(M: int) -> np.ndarray:
    """(N, 6) array of the six periodic neighbours of every site (+-x, +-y, +-z)."""
    x, y, z = np.meshgrid(np.arange(M), np.arange(M), np.arange(M), indexing="ij")
    x, y, z = x.ravel(), y.ravel(), z.ravel()

    def idx(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        return ((a % M) * M + (b % M)) * M + (c % M)

    return np.stack(
        [idx(x + 1, y, z), idx(x - 1, y, z), idx(x, y + 1, z), idx(x, y - 1, z),
         idx(x, y, z + 1), idx(x, y, z - 1)],
        axis=1,
    ).astype(np.int64)


@lru_cache(maxsize=8)
def _pattern(M: int, upper: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR (indptr, indices, diagonal positions) of H, full or upper triangle only.

    Requires M >= 3 so the six neighbours are distinct (at M = 2, +x and -x coincide and
    the bond would be counted twice).
    """
    N = M**3
    rows = np.repeat(np.arange(N, dtype=np.int64), 7)
    cols = np.concatenate([np.arange(N, dtype=np.int64)[:, None], neighbour_indices(M)], axis=1)
    cols = cols.ravel()
    if upper:
        keep = cols >= rows
        rows, cols = rows[keep], cols[keep]
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    indptr = np.zeros(N + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=N), out=indptr[1:])
    diag = np.flatnonzero(rows == cols)
    for a in (indptr, cols, diag):
        a.setflags(write=False)
    return indptr.astype(np.int32), cols.astype(np.int32), diag


def anderson_hamiltonian(eps: np.ndarray, upper: bool = False) -> sp.csr_matrix:
    """Sparse H for on-site energies ``eps`` (shape (M, M, M) or (M**3,)).

    ``upper=True`` returns only the upper triangle (with the diagonal always stored, even
    where eps is exactly 0), the storage PARDISO expects for symmetric matrix types.
    """
    eps = np.asarray(eps, dtype=np.float64).ravel()
    M = round(len(eps) ** (1 / 3))
    if M**3 != len(eps) or M < 3:
        raise ValueError(f"eps must hold M**3 values with M >= 3, got {len(eps)}")
    indptr, indices, diag = _pattern(M, upper)
    data = np.full(len(indices), HOPPING, dtype=np.float64)
    data[diag] = eps
    N = M**3
    return sp.csr_matrix((data, indices.copy(), indptr.copy()), shape=(N, N))


def clean_spectrum(M: int) -> np.ndarray:
    """Exact sorted eigenvalues of the clean (w = 0) periodic lattice."""
    c = 2.0 * HOPPING * np.cos(2.0 * np.pi * np.arange(M) / M)
    return np.sort((c[:, None, None] + c[None, :, None] + c[None, None, :]).ravel())


def sample_disorder(M: int, w: float, rng: np.random.Generator) -> np.ndarray:
    """On-site energies uniform in [-w/2, w/2], shape (M, M, M)."""
    return rng.uniform(-0.5 * w, 0.5 * w, size=(M, M, M))
