"""The 3D Anderson model of localisation (paper section 4): E = 0 eigenstates as images.

A point of the grid is one disorder strength w; a unit is one disorder realisation on a
periodic M x M x M simple cubic lattice, from which we keep exactly one eigenstate, the
one with eigenvalue closest to ``target_energy`` (0, the band centre), as in the paper's
data set (one state per realisation avoids the correlations between states of one
sample). Per sample we store |psi|^2 (float32, sums to 1), the rendered image, the
energy, w, its grid index and the inverse participation ratio sum |psi|^4.

Conventions (see hamiltonian.py): H = eps(r) + sum over the six neighbours with hopping
+1 (the paper's eq. (1)); eps uniform in [-w/2, w/2]; site (x, y, z) is ``psi2[x, y, z]``;
psi is normalised with its largest-magnitude component positive.

Speed: shift-invert Lanczos with a nested-dissection LDL^T factorisation (MKL PARDISO,
analysis reused per M) — see eigensolver.py and tests/benchmarks/bench_anderson.py.
PARDISO uses all cores through MKL's OpenMP threads; when several generator processes
share a machine, set ``MKL_NUM_THREADS`` so that processes x threads <= cores.

Notebook use::

    sim = AndersonSimulator.from_config(M=20, w_values=[15.0, 18.0], renderer="boxes")
    data = sim.generate(np.array([0, 1]), np.random.default_rng(0))
    data["psi2"].shape, data["image"].shape   # (2, 20, 20, 20), (2, 1, 100, 100)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np

from physml.errors import ConfigError, require
from physml.simulator import ArraySpec, Simulator
from simulators.anderson.eigensolver import SOLVERS, Eigenpair, ShiftInvertSolver
from simulators.anderson.hamiltonian import anderson_hamiltonian, sample_disorder
from simulators.anderson.render import RENDERERS, channels, render

__all__ = [
    "PAPER_W_VALUES",
    "AndersonParams",
    "AndersonSimulator",
    "Eigenpair",
    "ShiftInvertSolver",
    "anderson_hamiltonian",
    "render",
    "sample_disorder",
]

# The paper's 17 disorder strengths around w_c ~ 16.57 (section 4.2).
PAPER_W_VALUES: tuple[float, ...] = (
    15.0, 15.25, 15.5, 15.75, 16.0, 16.2, 16.3, 16.4, 16.5, 16.6, 16.7, 16.8,
    17.0, 17.25, 17.5, 17.75, 18.0,
)
PAPER_M_VALUES: tuple[int, ...] = (20, 30, 40, 50, 60, 70, 80, 90, 100)
M_MAX = 128  # N = 2.1e6; M = 100 needs ~ 9 GiB (see the benchmark)


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


@dataclasses.dataclass(frozen=True)
class AndersonParams:
    """Lattice size, disorder grid, image settings and the eigensolver backend.

    M >= 3 is the smallest periodic lattice on which the six neighbours of a site are
    distinct (at M = 2, +x and -x are the same site and the bond would count twice).
    """

    M: int = 20
    w_values: tuple[float, ...] = PAPER_W_VALUES
    image_size: int = 100
    renderer: str = "boxes"
    solver: str = "auto"
    target_energy: float = 0.0

    def __post_init__(self) -> None:
        require(_is_int(self.M) and 3 <= int(self.M) <= M_MAX, "M",
                f"an integer in [3, {M_MAX}]", self.M)
        object.__setattr__(self, "M", int(self.M))
        try:
            values = tuple(self.w_values)
        except TypeError:
            raise ConfigError(f"w_values={self.w_values!r} is invalid: allowed a non-empty "
                              "list of finite floats >= 0") from None
        require(0 < len(values) <= np.iinfo(np.int16).max, "w_values",
                "a non-empty list (at most 32767 entries) of finite floats >= 0", self.w_values)
        clean = []
        for i, v in enumerate(values):
            ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            require(ok and math.isfinite(float(v)) and float(v) >= 0.0, f"w_values[{i}]",
                    "finite floats >= 0", v)
            clean.append(float(v))
        object.__setattr__(self, "w_values", tuple(clean))
        require(_is_int(self.image_size) and 8 <= int(self.image_size) <= 2048, "image_size",
                "an integer in [8, 2048]", self.image_size)
        object.__setattr__(self, "image_size", int(self.image_size))
        require(self.renderer in RENDERERS, "renderer", f"one of {RENDERERS}", self.renderer)
        require(self.solver in SOLVERS, "solver", f"one of {SOLVERS}", self.solver)
        e = self.target_energy
        ok = isinstance(e, (int, float, np.integer, np.floating)) and not isinstance(e, bool)
        bound = 6.0 + 0.5 * max(clean)
        require(ok and math.isfinite(float(e)) and abs(float(e)) <= bound, "target_energy",
                f"a float inside the spectrum bound |E| <= 6 + max(w)/2 = {bound}", e)
        object.__setattr__(self, "target_energy", float(e))


class AndersonSimulator(Simulator):
    """Eigenstates nearest E = 0 of the 3D Anderson model, with rendered images."""

    name: ClassVar[str] = "anderson"
    params_type: ClassVar[type] = AndersonParams
    version: ClassVar[str] = "1"
    samples_per_unit: int = 1

    def __init__(self, params: AndersonParams | None = None) -> None:
        super().__init__(params if params is not None else AndersonParams())
        self._solver: ShiftInvertSolver | None = None
        if self.params.solver == "pardiso":
            ShiftInvertSolver("pardiso")  # fail now, at config time, if MKL is missing


    def __getstate__(self) -> dict[str, Any]:
        # the solver holds MKL handles (ctypes pointers): rebuild it lazily after pickling
        state = self.__dict__.copy()
        state["_solver"] = None
        return state

    @property
    def solver(self) -> ShiftInvertSolver:
        if self._solver is None:
            self._solver = ShiftInvertSolver(self.params.solver)
        return self._solver

    @property
    def num_points(self) -> int:
        return len(self.params.w_values)

    def schema(self) -> dict[str, ArraySpec]:
        M, s = self.params.M, self.params.image_size
        return {
            "psi2": ArraySpec((M, M, M), "float32"),
            "image": ArraySpec((channels(self.params.renderer), s, s), "float32"),
            "energy": ArraySpec((), "float64"),
            "w": ArraySpec((), "float32"),
            "w_index": ArraySpec((), "int16"),
            "ipr": ArraySpec((), "float64"),
        }

    def eigenstate(self, w: float, rng: np.random.Generator) -> tuple[Eigenpair, np.ndarray]:
        """One realisation at disorder w: its eigenpair nearest the target and |psi|^2."""
        M = self.params.M
        eps = sample_disorder(M, w, rng)
        pair = self.solver.closest(eps, self.params.target_energy)
        return pair, (pair.psi**2).reshape(M, M, M)

    def generate(self, points: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        idx = np.asarray(points, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_points):
            raise ValueError(f"points must lie in [0, {self.num_points}), got "
                             f"{idx.min()}..{idx.max()}")
        spec = self.schema()
        n = idx.size
        out = {k: np.empty((n, *a.shape), dtype=a.dtype) for k, a in spec.items()}
        w_grid = np.asarray(self.params.w_values, dtype=np.float64)
        for u, j in enumerate(idx):
            pair, psi2 = self.eigenstate(float(w_grid[j]), rng)
            p32 = psi2.astype(np.float32)
            out["psi2"][u] = p32
            # render from the stored float32 array, so an image is a function of psi2
            out["image"][u] = render(p32, self.params.image_size, self.params.renderer)
            out["energy"][u] = pair.energy
            out["ipr"][u] = float(np.sum(pair.psi**4))
        out["w"][:] = w_grid[idx].astype(np.float32)
        out["w_index"][:] = idx.astype(np.int16)
        return out
