"""Cubic crystals for LACBED: random (pyxtal), read from CIF files, and a built-in set.

A crystal is reduced to what the diffraction physics needs: the conventional cubic cell
edge ``a`` (Å), fractional positions, atomic numbers, occupancies and Debye–Waller
factors per atom — isotropic B (Å²) always (the isotropic equivalent B = 8π² tr(U)/3 for
an anisotropic atom) and, where a CIF gives them, anisotropic displacement tensors U
(Å², Cartesian) — plus its labels (space group, formula) and CIF text (which carries the
B and U it was simulated with, so the dataset record is complete).
"""

from __future__ import annotations

import dataclasses
import hashlib
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
    #: (M, 3, 3) Cartesian displacement tensors U (Å²); NaN rows are isotropic atoms;
    #: None when no atom is anisotropic
    u_aniso: np.ndarray | None = None

    @property
    def centering(self) -> str:
        """Lattice centring letter (P, I or F) from the Hermann–Mauguin symbol."""
        return self.sg_symbol[0]


def _structure_to_crystal(
    structure, name: str, b_of: dict[str, float], symprec: float,
    b_site: np.ndarray | None = None, u_site: np.ndarray | None = None,
) -> Crystal:
    """Turn a pymatgen Structure into a Crystal in its conventional standard cubic cell.

    B per element from ``b_of`` (key "*" = any), or per site from ``b_site`` (and
    ``u_site`` tensors) when the structure is already a conventional cubic cell — then it
    is used as it is (its own origin), since standardising would reorder the sites and
    lose the per-site tensors.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    sga = SpacegroupAnalyzer(structure, symprec=symprec)
    if sga.get_crystal_system() != "cubic":
        raise ValueError(f"{name}: crystal system is {sga.get_crystal_system()}, not cubic")
    if b_site is not None:
        lat = structure.lattice
        ok = (np.allclose(lat.abc, lat.a, rtol=1e-4) and np.allclose(lat.angles, 90.0, atol=1e-3)
              and len(structure) == len(sga.get_conventional_standard_structure()))
        if not ok:  # not a conventional cubic cell: standardise, keep isotropic B only
            if u_site is not None and np.any(np.isfinite(u_site)):
                log.warning("%s: cell is not conventional cubic; anisotropic U replaced by "
                            "their isotropic equivalents", name)
            structure = structure.copy(site_properties={"b_iso": list(b_site)})
            conv = SpacegroupAnalyzer(structure, symprec=symprec).get_conventional_standard_structure(
                keep_site_properties=True)
            b_site, u_site = np.array(conv.site_properties["b_iso"], dtype=np.float64), None
        else:
            conv = structure
    else:
        conv = sga.get_conventional_standard_structure()
    frac, zs, occ, bs, us = [], [], [], [], []
    for i, site in enumerate(conv):
        for sp, o in site.species.items():
            sym = getattr(sp, "symbol", str(sp))
            frac.append(np.mod(site.frac_coords, 1.0))
            zs.append(atomic_number(sym))
            occ.append(float(o))
            bs.append(b_of.get(sym, b_of.get("*", 0.5)) if b_site is None else b_site[i])
            us.append(np.full((3, 3), np.nan) if u_site is None else u_site[i])
    u_arr = np.array(us, dtype=np.float64)
    crystal = Crystal(
        name=name,
        a=float(conv.lattice.a),
        frac=np.array(frac, dtype=np.float64),
        z=np.array(zs, dtype=np.int64),
        occ=np.array(occ, dtype=np.float64),
        b_iso=np.array(bs, dtype=np.float64),
        sg_number=int(sga.get_space_group_number()),
        sg_symbol=str(sga.get_space_group_symbol()),
        formula=conv.composition.reduced_formula,
        cif="",
        u_aniso=u_arr if np.any(np.isfinite(u_arr)) else None,
    )
    return dataclasses.replace(crystal, cif=crystal_cif(conv, crystal, symprec))


def crystal_cif(structure, crystal: Crystal, symprec: float) -> str:
    """Symmetrised CIF of ``structure`` with the crystal's Debye–Waller factors added:
    an ``_atom_site_B_iso_or_equiv`` column and, for anisotropic atoms, an
    ``_atom_site_aniso_U_ij`` loop (Cartesian = crystal axes for a cubic cell). Values are
    those of the site each written row stands for (matched by position and element)."""
    from pymatgen.io.cif import CifWriter

    writer = CifWriter(structure, symprec=symprec)
    block = next(iter(writer.cif_file.data.values()))
    rows = block.data["_atom_site_label"]
    xyz = np.array([[float(block.data[f"_atom_site_fract_{c}"][r]) for c in "xyz"]
                    for r in range(len(rows))])
    zs = [atomic_number(t) for t in block.data["_atom_site_type_symbol"]]
    bcol, aniso = [], []
    for r in range(len(rows)):
        d = np.abs((crystal.frac - xyz[r] + 0.5) % 1.0 - 0.5).max(axis=1)
        match = np.nonzero((d < 1e-3) & (crystal.z == zs[r]))[0]
        if len(match) == 0:  # pymatgen wrote another orbit member: same B by symmetry
            match = np.nonzero(crystal.z == zs[r])[0]
        j = int(match[0])
        bcol.append(f"{crystal.b_iso[j]:.5f}")
        if crystal.u_aniso is not None and np.all(np.isfinite(crystal.u_aniso[j])) and len(
                np.nonzero((d < 1e-3) & (crystal.z == zs[r]))[0]):
            aniso.append((rows[r], crystal.u_aniso[j]))
    block.data["_atom_site_B_iso_or_equiv"] = bcol
    loop = next(lp for lp in block.loops if "_atom_site_label" in lp)
    loop.append("_atom_site_B_iso_or_equiv")
    if aniso:
        keys = ["_atom_site_aniso_label"] + [f"_atom_site_aniso_U_{ij}" for ij in _UIJ]
        block.data[keys[0]] = [lab for lab, _ in aniso]
        for k, (i, j) in zip(keys[1:], _UIJ_INDEX, strict=True):
            block.data[k] = [f"{u[i, j]:.6f}" for _, u in aniso]
        block.loops.append(keys)
    return str(writer)


_UIJ = ("11", "22", "33", "12", "13", "23")
_UIJ_INDEX = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))


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


def _cif_float(text: str) -> float:
    """A CIF number without its standard uncertainty, e.g. '0.0123(4)' -> 0.0123; '?' and
    '.' (unknown / inapplicable) -> NaN."""
    text = text.strip()
    if text in ("?", "."):
        return float("nan")
    return float(text.split("(")[0])


def cif_displacements(block, structure, default_b: float | None, name: str):
    """Per-site B (Å²) and Cartesian U tensors (Å², NaN where isotropic) of a parsed CIF.

    Reads ``_atom_site_B_iso_or_equiv`` or ``_atom_site_U_iso_or_equiv`` (B = 8π²U) and the
    ``_atom_site_aniso_U_ij`` / ``_atom_site_aniso_B_ij`` loop of the asymmetric unit. A
    tensor, given in the CIF convention (components on a*, b*, c* normalised axes), is
    made Cartesian, U_c = A N U N Aᵀ (A = cell vectors as columns, N = diag(a*, b*, c*)),
    and carried to each symmetry-equivalent site by the CIF operation (R, t) that maps
    the asymmetric-unit atom there: U_site = R_c U_c R_cᵀ, R_c = A R A⁻¹. An atom with
    neither B, U nor a tensor gets ``default_b``, or raises ValueError naming it when
    ``default_b`` is None.
    """
    from pymatgen.io.cif import CifParser  # noqa: F401 - ensures pymatgen's CIF module

    data = block.data
    labels = list(data.get("_atom_site_label", []))
    iso: dict[str, float] = {}
    for key, factor in (("_atom_site_B_iso_or_equiv", 1.0),
                        ("_atom_site_U_iso_or_equiv", 8.0 * np.pi**2)):
        if key in data:
            for lab, val in zip(labels, data[key], strict=True):
                v = _cif_float(val) * factor
                if np.isfinite(v) and lab not in iso:
                    iso[lab] = v
    lat = structure.lattice
    amat = lat.matrix.T  # columns a, b, c (Å)
    nmat = np.diag(lat.reciprocal_lattice_crystallographic.abc)
    aniso: dict[str, np.ndarray] = {}
    for kind, factor in (("U", 1.0), ("B", 1.0 / (8.0 * np.pi**2))):
        if f"_atom_site_aniso_{kind}_11" not in data:
            continue
        for r, lab in enumerate(data["_atom_site_aniso_label"]):
            comp = [_cif_float(data[f"_atom_site_aniso_{kind}_{ij}"][r]) * factor for ij in _UIJ]
            u = np.zeros((3, 3))
            for (i, j), v in zip(_UIJ_INDEX, comp, strict=True):
                u[i, j] = u[j, i] = v
            if np.all(np.isfinite(u)):
                aniso[lab] = amat @ nmat @ u @ nmat @ amat.T
    # asymmetric-unit positions, to find the operation that generated each site
    x0 = {lab: np.array([_cif_float(data[f"_atom_site_fract_{c}"][r]) for c in "xyz"])
          for r, lab in enumerate(labels)}
    ops = _cif_symops(block)
    b_site = np.empty(len(structure))
    u_site = np.full((len(structure), 3, 3), np.nan)
    missing = []
    for i, site in enumerate(structure):
        lab = getattr(site, "label", None)
        if lab in aniso:
            rot = _generating_rotation(ops, x0[lab], site.frac_coords)
            rc = amat @ rot @ np.linalg.inv(amat)
            u_site[i] = rc @ aniso[lab] @ rc.T
            b_site[i] = 8.0 * np.pi**2 * np.trace(u_site[i]) / 3.0
        elif lab in iso:
            b_site[i] = iso[lab]
        elif default_b is not None:
            b_site[i] = default_b
            missing.append(lab)
        else:
            raise ValueError(f"{name}: no B, U or anisotropic U for atom site {lab!r} and "
                             "default_b is None")
    if missing:
        log.info("%s: no Debye-Waller factor for %s; using default_b = %s Å²", name,
                 sorted(set(map(str, missing))), default_b)
    return b_site, (u_site if np.any(np.isfinite(u_site)) else None)


def _cif_symops(block) -> list[tuple[np.ndarray, np.ndarray]]:
    """(R, t) in fractional coordinates of the CIF's symmetry operations (x,y,z if none)."""
    from pymatgen.core.operations import SymmOp

    for key in ("_space_group_symop_operation_xyz", "_symmetry_equiv_pos_as_xyz",
                "_space_group_symop.operation_xyz", "_symmetry_equiv.pos_as_xyz"):
        if key in block.data:
            ops = [SymmOp.from_xyz_str(str(x)) for x in block.data[key]]
            return [(op.rotation_matrix, op.translation_vector) for op in ops]
    return [(np.eye(3), np.zeros(3))]


def _generating_rotation(ops, x0: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Rotation part R of the first operation with R x0 + t = x (mod 1)."""
    for rot, t in ops:
        d = rot @ x0 + t - x
        if np.max(np.abs(d - np.round(d))) < 2e-3:
            return rot
    raise ValueError(f"no symmetry operation maps {x0} to {x}")


def read_cif_dir(directory: str | Path, default_b: float | None = 0.5) -> list[Crystal]:
    """All cubic crystals in ``directory/*.cif``, with the CIFs' own Debye–Waller factors
    (see ``cif_displacements``; ``default_b`` for atoms without any). Malformed or
    non-cubic files, and files with an atom lacking B when ``default_b`` is None, are
    logged and skipped (never raised), so one bad file cannot stop a dataset run."""
    from pymatgen.io.cif import CifFile, CifParser

    out: list[Crystal] = []
    for path in sorted(Path(directory).glob("*.cif")):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parser = CifParser(str(path))
                structs = parser.parse_structures(primitive=False)
            if not structs:
                raise ValueError("no structure in file")
            blocks = [b for b in CifFile.from_file(str(path)).data.values()
                      if "_atom_site_fract_x" in b.data]
            b_site, u_site = cif_displacements(blocks[0], structs[0], default_b, path.stem)
            out.append(_structure_to_crystal(structs[0], path.stem, {}, 1e-2, b_site, u_site))
        except Exception as exc:  # noqa: BLE001 - any parse failure means "skip this file"
            log.warning("skipping CIF %s: %s", path, exc)
    return out


def cif_digest(directory: str | Path) -> str:
    """SHA-256 over the sorted ``*.cif`` files of a directory (names and bytes): the
    identity of a ``source=cif_dir`` dataset changes whenever a CIF is added, removed,
    renamed or edited."""
    h = hashlib.sha256()
    for path in sorted(Path(directory).glob("*.cif")):
        h.update(path.name.encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


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
