"""LACBED training pairs: cubic crystals, projected potentials and Bloch-wave patterns."""

from .crystals import Crystal, builtin_crystal, random_crystal, read_cif_dir
from .simulator import LACBEDParams, LACBEDSimulator, from_config

__all__ = [
    "Crystal",
    "LACBEDParams",
    "LACBEDSimulator",
    "builtin_crystal",
    "from_config",
    "random_crystal",
    "read_cif_dir",
]
