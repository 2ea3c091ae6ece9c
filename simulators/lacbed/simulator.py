"""The LACBED Simulator: one unit = one crystal -> (projected potential, BF LACBED pattern)."""

from __future__ import annotations

import dataclasses
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from physml.errors import require
from physml.simulator import ArraySpec, Simulator

from .beams import select_beams
from .bloch import ABSORPTION_MODELS, PRECISIONS, simulate_disc
from .convergence import choose_beams
from .crystals import (
    BUILTIN_SPECS,
    CUBIC_GROUPS,
    DEFAULT_ELEMENTS,
    Crystal,
    builtin_crystal,
    cif_digest,
    random_crystal,
    read_cif_dir,
)
from .potential import projected_potential
from .scattering import SYMBOL_TO_Z

SOURCES = ("random", "builtin", "cif_dir")
SAMPLINGS = ("uniform", "weighted")
BEAM_SELECTIONS = ("auto", "fixed")


@dataclasses.dataclass(frozen=True)
class LACBEDParams:
    """Crystal source, sampling policy and microscope/Bloch-wave settings.

    Defaults follow the paper's data (200 kV, 128×128, [001]); thickness 1000 Å and a
    10 mrad convergence half-angle are our documented choices (LACBED-like: the disc
    spans the Bragg lines of all beams up to |g| ≈ 0.8 Å⁻¹). Physics (version 2.0):
    Bird–King absorption, CIF Debye–Waller factors, beams doubled until converged
    (R ≥ ``beam_r_target`` against twice the beams), symmetry wedge; HOLZ optional.
    """

    source: str = "random"
    elements: tuple[str, ...] = DEFAULT_ELEMENTS
    builtin_names: tuple[str, ...] = tuple(BUILTIN_SPECS)
    cif_dir: str | None = None
    sampling: str = "uniform"
    sg_weights: tuple[float, ...] | None = None  # 36 weights for groups 195..230
    max_species: int = 3
    max_atoms: int = 48
    b_min: float = 0.3  # Å^2, random Debye-Waller range
    b_max: float = 1.2
    default_b: float | None = 0.5  # Å^2, CIF atoms without B/U (None: skip such CIFs)
    n: int = 128
    voltage_kv: float = 200.0
    thickness: float = 1000.0  # Å
    thickness_max: float | None = None  # if set: thickness ~ U[thickness, thickness_max]
    alpha_mrad: float = 10.0  # convergence half-angle
    nbeams: int = 64  # fixed: the ZOLZ beam count; auto: the first count tried
    beam_selection: str = "auto"  # auto: double until converged; fixed: nbeams
    nbeams_max: int = 512  # auto: largest beam count tried
    beam_r_target: float = 0.999  # auto: R(N, 2N) on the probe grid that counts as converged
    probe_n: int = 32  # auto: probe grid (pixels per side) of the convergence check
    absorption: str = "bird_king"  # bird_king | proportional | none
    kappa: float = 0.05  # proportional absorption U' = kappa U (absorption="proportional")
    holz: bool = False  # add first-order Laue zone beams (3D excitation errors)
    holz_nbeams: int | None = None  # FOLZ beams (None: as many as ZOLZ beams)
    symmetry: bool = True  # solve the verified irreducible wedge only
    dark_field: tuple[tuple[int, int, int], ...] = ()  # extra (hkl) discs to store
    device: str = "cpu"
    precision: str = "double"  # Chebyshev arithmetic: complex128, or "single" (complex64)
    cif_width: int = 8192

    def __post_init__(self) -> None:
        for name in ("elements", "builtin_names", "sg_weights"):
            v = getattr(self, name)
            if isinstance(v, list):
                object.__setattr__(self, name, tuple(v))
        df = self.dark_field
        ok_df = isinstance(df, (list, tuple)) and all(
            isinstance(g, (list, tuple)) and len(g) == 3
            and all(isinstance(v, (int, np.integer)) for v in g) for g in df)
        require(ok_df, "dark_field", "a list of integer [h, k, l] triples", df)
        object.__setattr__(self, "dark_field", tuple(tuple(int(v) for v in g) for g in df))
        require(self.source in SOURCES, "source", f"one of {SOURCES}", self.source)
        bad = [e for e in self.elements if e not in SYMBOL_TO_Z]
        require(len(self.elements) >= 1 and not bad, "elements",
                "a non-empty list of element symbols with Z in 1..103", self.elements)
        unknown = [b for b in self.builtin_names if b not in BUILTIN_SPECS]
        require(len(self.builtin_names) >= 1 and not unknown, "builtin_names",
                f"a non-empty subset of {sorted(BUILTIN_SPECS)}", self.builtin_names)
        if self.source == "cif_dir":
            require(self.cif_dir is not None and Path(self.cif_dir).is_dir(), "cif_dir",
                    "an existing directory of .cif files when source='cif_dir'", self.cif_dir)
        require(self.sampling in SAMPLINGS, "sampling", f"one of {SAMPLINGS}", self.sampling)
        if self.sampling == "weighted":
            w = self.sg_weights
            require(w is not None and len(w) == 36 and min(w) >= 0 and sum(w) > 0,
                    "sg_weights", "36 non-negative weights (groups 195..230), not all 0", w)
        require(1 <= self.max_species <= 6, "max_species", "an integer in 1..6", self.max_species)
        require(1 <= self.max_atoms <= 512, "max_atoms", "an integer in 1..512", self.max_atoms)
        require(0 <= self.b_min <= self.b_max <= 10, "b_min/b_max",
                "0 <= b_min <= b_max <= 10 (Å²)", (self.b_min, self.b_max))
        require(self.default_b is None or 0 <= self.default_b <= 10, "default_b",
                "None or 0..10 Å²", self.default_b)
        require(8 <= self.n <= 1024, "n", "an integer in 8..1024", self.n)
        require(10 <= self.voltage_kv <= 3000, "voltage_kv", "10..3000 kV", self.voltage_kv)
        require(0 < self.thickness <= 1e5, "thickness", "0 < t <= 1e5 Å", self.thickness)
        require(self.thickness_max is None or self.thickness_max >= self.thickness,
                "thickness_max", "None or >= thickness", self.thickness_max)
        require(0 < self.alpha_mrad <= 200, "alpha_mrad", "0 < alpha <= 200 mrad",
                self.alpha_mrad)
        require(1 <= self.nbeams <= 2000, "nbeams", "an integer in 1..2000", self.nbeams)
        require(self.beam_selection in BEAM_SELECTIONS, "beam_selection",
                f"one of {BEAM_SELECTIONS}", self.beam_selection)
        require(self.nbeams <= self.nbeams_max <= 4000, "nbeams_max",
                "nbeams <= nbeams_max <= 4000", self.nbeams_max)
        require(0.5 < self.beam_r_target < 1.0, "beam_r_target", "0.5 < R < 1",
                self.beam_r_target)
        require(8 <= self.probe_n <= 256, "probe_n", "an integer in 8..256", self.probe_n)
        require(self.absorption in ABSORPTION_MODELS, "absorption",
                f"one of {ABSORPTION_MODELS}", self.absorption)
        require(0 <= self.kappa <= 1, "kappa", "0 <= kappa <= 1", self.kappa)
        require(self.holz_nbeams is None or 1 <= self.holz_nbeams <= 4000, "holz_nbeams",
                "None or an integer in 1..4000", self.holz_nbeams)
        require(self.device == "cpu" or self.device.startswith("cuda"), "device",
                "'cpu' or 'cuda[:i]'", self.device)
        require(self.precision in PRECISIONS, "precision", f"one of {PRECISIONS}",
                self.precision)
        require(256 <= self.cif_width <= 1 << 20, "cif_width", "256..1048576 bytes",
                self.cif_width)


def lacbed_schema(n: int, cif_width: int, n_dark_field: int = 0) -> dict[str, ArraySpec]:
    """The arrays of one LACBED sample; shared with test doubles so they cannot drift.
    ``nbeams``/``beam_r``: beams used and R against twice as many (NaN if fixed);
    ``dark_field`` (only when requested): the |φ_g|² discs of ``params.dark_field``."""
    extra = {"dark_field": ArraySpec((n_dark_field, n, n), "float32")} if n_dark_field else {}
    return extra | {
        "potential": ArraySpec((n, n), "float32"),
        "pattern": ArraySpec((n, n), "float32"),
        "space_group": ArraySpec((), "int16"),
        "sg_symbol": ArraySpec((), "S16"),
        "formula": ArraySpec((), "S32"),
        "lattice_a": ArraySpec((), "float32"),
        "thickness": ArraySpec((), "float32"),
        "cif": ArraySpec((), f"S{cif_width}"),
        "nbeams": ArraySpec((), "int32"),
        "beam_r": ArraySpec((), "float32"),
    }


class LACBEDSimulator(Simulator):
    """Pairs (projected potential, bright-field [001] LACBED) for cubic crystals.

    ``num_points`` is 1 (a crystal dataset has no parameter grid); each unit draws one
    crystal from the configured source with the shard's Generator.
    """

    name: ClassVar[str] = "lacbed"
    params_type: ClassVar[type] = LACBEDParams
    #: 1.0: proportional absorption (κ), ZOLZ beams only, fixed nbeams ranked at the zone
    #: axis, B = default_b for every CIF atom, full disc solved. 2.0: see LACBEDParams.
    #: 2.1: HOLZ rows carry 1/(K_z + g_z) (flux-normalised), Chebyshev time steps sized
    #: by a measured rounding budget (bright fields agree with 2.0 to ~1e-12).
    version: ClassVar[str] = "2.1"
    samples_per_unit: int = 1

    def __init__(self, params: LACBEDParams) -> None:
        super().__init__(params)
        if params.device.startswith("cuda"):
            import torch

            require(torch.cuda.is_available(), "device", "'cpu' (no CUDA device here)",
                    params.device)
        self.cif_digest: str | None = None
        if params.source == "cif_dir":
            self.cif_digest = cif_digest(params.cif_dir)
            require(len(self._cif_crystals) > 0, "cif_dir",
                    "a directory with at least one readable cubic CIF", params.cif_dir)

    def config(self) -> dict[str, Any]:
        """Params as plain data, plus the SHA-256 of the CIF files for ``cif_dir``, so
        the dataset fingerprint changes when the CIFs do."""
        cfg = super().config()
        if self.cif_digest is not None:
            cfg["cif_digest"] = self.cif_digest
        return cfg

    @property
    def num_points(self) -> int:
        return 1

    def schema(self) -> dict[str, ArraySpec]:
        return lacbed_schema(self.params.n, self.params.cif_width, len(self.params.dark_field))

    @cached_property
    def _cif_crystals(self) -> list[Crystal]:
        return read_cif_dir(self.params.cif_dir, default_b=self.params.default_b)

    @cached_property
    def _builtin_crystals(self) -> list[Crystal]:
        return [builtin_crystal(name) for name in self.params.builtin_names]

    def draw_crystal(self, rng: np.random.Generator) -> Crystal:
        """One crystal from the configured source (deterministic given rng)."""
        p = self.params
        if p.source == "builtin":
            return self._builtin_crystals[int(rng.integers(len(self._builtin_crystals)))]
        if p.source == "cif_dir":
            return self._cif_crystals[int(rng.integers(len(self._cif_crystals)))]
        weights = None if p.sampling == "uniform" else np.asarray(p.sg_weights)
        return random_crystal(rng, p.elements, CUBIC_GROUPS, weights, p.max_species,
                              p.max_atoms, (p.b_min, p.b_max))

    def simulate(self, crystal: Crystal, thickness: float) -> tuple[np.ndarray, np.ndarray]:
        """(potential, pattern) for one crystal, float64."""
        pot, res, _ = self.simulate_full(crystal, thickness)
        return pot, res.pattern

    def simulate_full(self, crystal: Crystal, thickness: float):
        """(potential, bloch.LACBEDResult, (beams used, R against twice the beams))."""
        p = self.params
        pot = projected_potential(crystal, p.n, p.voltage_kv)
        solver = dict(kappa=p.kappa, absorption=p.absorption, device=p.device,
                      precision=p.precision, symmetry=p.symmetry)
        if p.beam_selection == "auto":
            choice = choose_beams(crystal, p.voltage_kv, thickness, p.alpha_mrad, p.nbeams,
                                  p.nbeams_max, p.beam_r_target, min(p.probe_n, p.n), p.holz,
                                  **solver)
            hkl, conv = choice.hkl, (choice.nbeams, choice.r)
            if p.holz and p.holz_nbeams is not None:
                hkl = select_beams(crystal, p.voltage_kv, int(np.sum(hkl[:, 2] == 0)),
                                   p.alpha_mrad, True, p.holz_nbeams)
        else:
            hkl = select_beams(crystal, p.voltage_kv, p.nbeams, p.alpha_mrad, p.holz,
                               p.holz_nbeams)
            conv = (len(hkl), float("nan"))
        res = simulate_disc(crystal, hkl, p.n, p.voltage_kv, thickness, p.alpha_mrad,
                            holz=p.holz, dark_field=p.dark_field, **solver)
        return pot, res, (len(hkl), conv[1])

    def generate(self, points: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        p = self.params
        spec = self.schema()
        count = len(points)
        out = {k: np.zeros((count,) + s.shape, dtype=s.dtype) for k, s in spec.items()}
        for i in range(count):  # one crystal per unit: each is a full Bloch-wave solve
            crystal = self.draw_crystal(rng)
            t = p.thickness if p.thickness_max is None else float(
                rng.uniform(p.thickness, p.thickness_max))
            pot, res, (nb, r) = self.simulate_full(crystal, t)
            out["potential"][i] = pot
            out["pattern"][i] = res.pattern
            out["nbeams"][i] = nb
            out["beam_r"][i] = r
            if p.dark_field:
                out["dark_field"][i] = res.dark_field
            out["space_group"][i] = crystal.sg_number
            out["sg_symbol"][i] = _fixed(crystal.sg_symbol, spec["sg_symbol"].dtype, "sg_symbol")
            out["formula"][i] = _fixed(crystal.formula, spec["formula"].dtype, "formula")
            out["lattice_a"][i] = crystal.a
            out["thickness"][i] = t
            out["cif"][i] = _fixed(crystal.cif, spec["cif"].dtype, "cif (raise cif_width)")
        return out


def _fixed(text: str, dtype: str, field: str) -> bytes:
    """Encode to a fixed-width byte string, refusing to truncate."""
    raw = text.encode("utf-8")
    width = int(dtype[1:])
    if len(raw) > width:
        raise ValueError(f"{field}: {len(raw)} bytes do not fit dtype {dtype}")
    return raw


def from_config(**kwargs: Any) -> LACBEDSimulator:
    """Module-level factory for Hydra (``_target_: simulators.lacbed.from_config``)."""
    return LACBEDSimulator.from_config(**kwargs)
