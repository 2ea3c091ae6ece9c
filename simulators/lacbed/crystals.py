"""Cubic crystals for LACBED: random (pyxtal), read from CIF files, and a built-in set.

A crystal is reduced to what the diffraction physics needs: the conventional cubic cell
edge ``a`` (Å), fractional positions, atomic numbers, occupancies and isotropic
Debye–Waller factors B (Å²), plus its labels (space group, formula) and CIF text.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from pathlib import Path

import numpy as np

from .scattering import atomic_number

log = logging.getLogger(__name__)

CUBIC_GROUPS = tuple(range(195, 231))  # the 36 cubic space groups

#: a broad default element set (common in inorganic cubic crystals)
DEFAULT_ELEMENTS = (
    "Li", "Be", "B", "C", "N", "O", "F", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "K",
    "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As",
    "Se", "Br", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Ru", "Rh", "Pd", "Ag", "Cd", "In",
    "Sn", "Sb", "Te", "I", "Cs", "Ba", "La", "Ce", "Hf", "Ta", "W", "Ir", "Pt", "Au",
    "Hg", "Tl", "Pb", "Bi", "U",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Crystal:
    """A cubic crystal in its conventional cell (arrays are per atom site)."""

    name: str
    a: float
    frac: np.ndarray  # (M, 3) fractional coordinates in [0, 1)
    z: np.ndarray  # (M,) atomic numbers
    occ: np.ndarray  # (M,) site occupancies
    b_iso: np.ndarray  # (M,) Debye-Waller B in Å^2
    sg_number: int
    sg_symbol: str
    formula: str
    cif: str

    @property
    def centering(self) -> str:
        """Lattice centring letter (P, I or F) from the Hermann–Mauguin symbol."""
        return self.sg_symbol[0]


def _structure_to_crystal(structure, name: str, b_of: dict[str, float], symprec: float):
    """Turn a pymatgen Structure into a Crystal in its conventional standard cubic cell."""
    from pymatgen.io.cif import CifWriter
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    sga = SpacegroupAnalyzer(structure, symprec=symprec)
    if sga.get_crystal_system() != "cubic":
        raise ValueError(f"{name}: crystal system is {sga.get_crystal_system()}, not cubic")
    conv = sga.get_conventional_standard_structure()
    frac, zs, occ, bs = [], [], [], []
    for site in conv:
        for sp, o in site.species.items():
            sym = getattr(sp, "symbol", str(sp))
            frac.append(np.mod(site.frac_coords, 1.0))
            zs.append(atomic_number(sym))
            occ.append(float(o))
            bs.append(b_of.get(sym, b_of.get("*", 0.5)))
    cif = str(CifWriter(conv, symprec=symprec))
    return Crystal(
        name=name,
        a=float(conv.lattice.a),
        frac=np.array(frac, dtype=np.float64),
        z=np.array(zs, dtype=np.int64),
        occ=np.array(occ, dtype=np.float64),
        b_iso=np.array(bs, dtype=np.float64),
        sg_number=int(sga.get_space_group_number()),
        sg_symbol=str(sga.get_space_group_symbol()),
        formula=conv.composition.reduced_formula,
        cif=cif,
    )


# --- built-in structures: published room-temperature lattice parameters; B are typical
# room-temperature isotropic values (Å²) from the diffraction literature (±20 %).
_FCC = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
_BCC = np.array([[0, 0, 0], [0.5, 0.5, 0.5]])
_Q = np.array([0.25, 0.25, 0.25])

BUILTIN_SPECS: dict[str, tuple[float, list[tuple[str, np.ndarray]], dict[str, float]]] = {
    "Si": (5.4309, [("Si", _FCC), ("Si", _FCC + _Q)], {"Si": 0.46}),
    "GaAs": (5.6533, [("Ga", _FCC), ("As", _FCC + _Q)], {"Ga": 0.66, "As": 0.58}),
    "NaCl": (5.6402, [("Na", _FCC), ("Cl", _FCC + [0.5, 0, 0])], {"Na": 1.62, "Cl": 1.22}),
    "MgO": (4.2117, [("Mg", _FCC), ("O", _FCC + [0.5, 0, 0])], {"Mg": 0.31, "O": 0.34}),
    "Cu": (3.6149, [("Cu", _FCC)], {"Cu": 0.55}),
    "Al": (4.0495, [("Al", _FCC)], {"Al": 0.79}),
    "W": (3.1652, [("W", _BCC)], {"W": 0.16}),
    "CsCl": (4.123, [("Cs", _BCC[:1]), ("Cl", _BCC[1:])], {"Cs": 1.95, "Cl": 1.55}),
    "CaF2": (
        5.4626,
        [("Ca", _FCC), ("F", _FCC + _Q), ("F", _FCC + 3 * _Q)],
        {"Ca": 0.50, "F": 0.69},
    ),
    "SrTiO3": (
        3.905,
        [
            ("Sr", np.zeros((1, 3))),
            ("Ti", np.full((1, 3), 0.5)),
            ("O", np.array([[0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])),
        ],
        {"Sr": 0.55, "Ti": 0.39, "O": 0.60},
    ),
}


def builtin_crystal(name: str) -> Crystal:
    """One of the built-in well-known cubic crystals (see ``BUILTIN_SPECS``)."""
    from pymatgen.core import Lattice, Structure

    if name not in BUILTIN_SPECS:
        raise KeyError(f"unknown built-in crystal {name!r}; known: {sorted(BUILTIN_SPECS)}")
    a, parts, b_of = BUILTIN_SPECS[name]
    species = [el for el, pos in parts for _ in range(len(pos))]
    coords = np.concatenate([np.mod(pos, 1.0) for _, pos in parts])
    s = Structure(Lattice.cubic(a), species, coords)
    return _structure_to_crystal(s, name, b_of, symprec=1e-3)


def read_cif_dir(directory: str | Path, default_b: float = 0.5) -> list[Crystal]:
    """All cubic crystals in ``directory/*.cif``; malformed or non-cubic files are logged
    and skipped (never raised), so one bad file cannot stop a dataset run."""
    from pymatgen.io.cif import CifParser

    out: list[Crystal] = []
    for path in sorted(Path(directory).glob("*.cif")):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                structs = CifParser(str(path)).parse_structures(primitive=False)
            if not structs:
                raise ValueError("no structure in file")
            out.append(_structure_to_crystal(structs[0], path.stem, {"*": default_b}, 1e-2))
        except Exception as exc:  # noqa: BLE001 - any parse failure means "skip this file"
            log.warning("skipping CIF %s: %s", path, exc)
    return out


def _wyckoff_multiplicities(sg: int) -> list[int]:
    from pyxtal.symmetry import Group

    return [w.multiplicity for w in Group(sg).Wyckoff_positions]


def random_crystal(
    rng: np.random.Generator,
    elements: tuple[str, ...] = DEFAULT_ELEMENTS,
    space_groups: tuple[int, ...] = CUBIC_GROUPS,
    weights: np.ndarray | None = None,
    max_species: int = 3,
    max_atoms: int = 48,
    b_range: tuple[float, float] = (0.3, 1.2),
    volume_factor: float = 1.0,
    attempts: int = 50,
) -> Crystal:
    """A random cubic crystal from pyxtal, drawn deterministically from ``rng``.

    The space group is drawn from ``space_groups`` with probabilities ``weights`` (uniform
    if None); 1..max_species distinct elements, each on one randomly chosen Wyckoff orbit
    (so stoichiometries are those the group allows), at most ``max_atoms`` per
    conventional cell. pyxtal sets the cell from atomic volumes (``volume_factor``
    scales them), which gives realistic lattice parameters; B per element is uniform in
    ``b_range`` (typical room-temperature values). The recorded space group is the one
    spglib finds, i.e. the true symmetry of the generated structure.
    """
    from pyxtal import pyxtal

    p = None if weights is None else np.asarray(weights, dtype=np.float64) / np.sum(weights)
    last_error: Exception | None = None
    for _ in range(attempts):
        sg = int(rng.choice(np.asarray(space_groups), p=p))
        mults = [m for m in _wyckoff_multiplicities(sg) if m <= max_atoms]
        nsp = int(rng.integers(1, max_species + 1))
        els = [str(e) for e in rng.choice(np.asarray(elements), size=nsp, replace=False)]
        counts, budget = [], max_atoms
        for _el in els:
            ok = [m for m in mults if m <= budget]
            if not ok:
                break
            m = int(rng.choice(ok))
            counts.append(m)
            budget -= m
        els = els[: len(counts)]
        if not els:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                c = pyxtal()
                c.from_random(
                    3, sg, els, counts, factor=volume_factor,
                    random_state=int(rng.integers(0, 2**31 - 1)),
                )
            if not c.valid:
                continue
            b_of = {el: float(rng.uniform(*b_range)) for el in els}
            return _structure_to_crystal(c.to_pymatgen(), "random", b_of, symprec=1e-3)
        except Exception as exc:  # noqa: BLE001 - pyxtal fails for some compositions; redraw
            last_error = exc
            continue
    raise RuntimeError(f"pyxtal produced no valid cubic crystal in {attempts} draws: {last_error}")
