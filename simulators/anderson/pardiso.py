"""A minimal ctypes binding to MKL PARDISO for real symmetric indefinite matrices.

Why not ``pypardiso.spsolve``: it factorises with mtype 11 (unsymmetric LU, twice the
memory and work), re-hashes the matrix on every solve and redoes the fill-reducing
analysis for every matrix. Here the matrix type is -2 (real symmetric indefinite,
Bunch-Kaufman LDL^T on the upper triangle) and the METIS nested-dissection analysis
(phase 11) is done once per sparsity pattern, i.e. once per lattice size M; each disorder
realisation only pays the numerical factorisation (phase 22) and the solves (phase 33).
We borrow pypardiso only for locating ``libmkl_rt``.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np
import scipy.sparse as sp

_LIB: ctypes.CDLL | None = None


def load_mkl() -> ctypes.CDLL:
    """The MKL runtime library (via pypardiso's search); raises ImportError if missing."""
    global _LIB
    if _LIB is None:
        # Conditional numerical reproducibility: without it MKL picks code paths by memory
        # alignment, and the same matrix can give results differing in the last bits.
        os.environ.setdefault("MKL_CBWR", "AUTO")
        import pypardiso  # noqa: F401  (import error means: no PARDISO on this machine)
        from pypardiso.pardiso_wrapper import PyPardisoSolver

        lib = PyPardisoSolver().libmkl
        fn = lib.pardiso
        i32p = ctypes.POINTER(ctypes.c_int32)
        fn.argtypes = [ctypes.c_void_p, i32p, i32p, i32p, i32p, i32p, ctypes.c_void_p,
                       ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, i32p, ctypes.c_void_p,
                       i32p, ctypes.c_void_p, ctypes.c_void_p, i32p]
        fn.restype = None
        _LIB = lib
    return _LIB


def pardiso_available() -> bool:
    """True when MKL PARDISO can be loaded (x86-64 with the mkl wheel)."""
    try:
        load_mkl()
    except (ImportError, OSError):
        return False
    return True


class PardisoError(RuntimeError):
    """PARDISO returned a nonzero error code."""


class SymmetricPardiso:
    """LDL^T factorisation of a real symmetric indefinite CSR matrix (upper triangle).

    ``analyse`` (METIS ordering + symbolic factorisation) is redone only when the sparsity
    pattern changes; ``factorize`` then costs one numerical factorisation.
    """

    MTYPE = -2

    def __init__(self, ordering: int = 2, msglvl: int = 0) -> None:
        self._lib = load_mkl()
        self.pt = np.zeros(64, dtype=np.int64)
        self.iparm = np.zeros(64, dtype=np.int32)
        ip = self.iparm
        ip[0] = 1  # we set the parameters ourselves
        ip[1] = ordering  # 2: METIS nested dissection, 3: OpenMP-parallel METIS
        ip[7] = 0  # iterative refinement: automatic (2 steps only if pivots were perturbed)
        ip[9] = 8  # pivot perturbation 1e-8 (default for symmetric indefinite)
        ip[10] = 0  # no scaling and
        ip[12] = 0  # no weighted matching: both would make the analysis value-dependent
        ip[17] = -1  # report number of nonzeros in the factor
        ip[20] = 1  # Bunch-Kaufman 1x1/2x2 pivoting
        ip[34] = 1  # zero-based indices: pass scipy's arrays without copying
        self.msglvl = msglvl
        self._pattern: tuple[int, int, int] | None = None
        self._indptr: np.ndarray | None = None
        self._indices: np.ndarray | None = None
        self._data: np.ndarray | None = None
        self.n = 0

    def _call(self, phase: int, b: np.ndarray | None = None, x: np.ndarray | None = None,
              nrhs: int = 1) -> None:
        err = ctypes.c_int32(0)
        i32 = ctypes.c_int32
        dummy = np.zeros(1)
        b = dummy if b is None else b
        x = dummy if x is None else x
        data = self._data if self._data is not None else dummy
        indptr = self._indptr if self._indptr is not None else np.zeros(1, np.int32)
        indices = self._indices if self._indices is not None else np.zeros(1, np.int32)
        self._lib.pardiso(
            self.pt.ctypes.data, ctypes.byref(i32(1)), ctypes.byref(i32(1)),
            ctypes.byref(i32(self.MTYPE)), ctypes.byref(i32(phase)), ctypes.byref(i32(self.n)),
            data.ctypes.data, indptr.ctypes.data, indices.ctypes.data, None,
            ctypes.byref(i32(nrhs)), self.iparm.ctypes.data, ctypes.byref(i32(self.msglvl)),
            b.ctypes.data, x.ctypes.data, ctypes.byref(err),
        )
        if err.value != 0:
            raise PardisoError(f"PARDISO phase {phase} failed with error {err.value}")

    def factorize(self, A_upper: sp.csr_matrix) -> None:
        """Numerically factorise A (upper-triangular CSR, sorted, diagonal stored)."""
        A = A_upper
        indptr = np.ascontiguousarray(A.indptr, dtype=np.int32)
        indices = np.ascontiguousarray(A.indices, dtype=np.int32)
        key = (A.shape[0], A.nnz, hash(indptr.tobytes()) ^ hash(indices.tobytes()))
        self._data = np.ascontiguousarray(A.data, dtype=np.float64)
        self._indptr, self._indices = indptr, indices
        if key != self._pattern:
            if self._pattern is not None:
                self.free()
            self.n = A.shape[0]
            self._call(11)
            self._pattern = key
        self._call(22)

    def solve(self, b: np.ndarray) -> np.ndarray:
        """x = A^{-1} b for one vector or the columns of an (n, k) array."""
        b = np.asarray(b, dtype=np.float64)
        nrhs = 1 if b.ndim == 1 else b.shape[1]
        bf = np.asfortranarray(b)
        x = np.empty_like(bf)
        self._call(33, bf, x, nrhs)
        return np.ascontiguousarray(x)

    @property
    def inertia(self) -> tuple[int, int]:
        """(number of positive, number of negative) eigenvalues of the factorised matrix."""
        return int(self.iparm[21]), int(self.iparm[22])

    @property
    def perturbed_pivots(self) -> int:
        return int(self.iparm[13])

    @property
    def factor_nnz(self) -> int:
        return int(self.iparm[17])

    @property
    def peak_memory_kb(self) -> int:
        """PARDISO's own peak memory estimate (analysis vs factor+solve), in KiB."""
        return int(max(self.iparm[14], self.iparm[15] + self.iparm[16]))

    def free(self) -> None:
        """Release all of PARDISO's internal memory for this handle."""
        if self._pattern is not None:
            self._call(-1)
            self._pattern = None

    def __del__(self) -> None:
        try:
            self.free()
        except Exception:  # noqa: BLE001 - interpreter shutdown: nothing sensible to do
            pass
