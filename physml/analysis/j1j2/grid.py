"""Per-sample J1-J2 test outputs arranged on the (J2, T) grid and into cooled chains."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _levels(values: np.ndarray, decimals: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values (float32 labels rounded) and each sample's position in them."""
    rounded = np.round(np.asarray(values, dtype=np.float64), decimals)
    levels, inverse = np.unique(rounded, return_inverse=True)
    return levels, inverse


@dataclass
class Grid:
    """Mean, standard deviation and count of a per-sample quantity on the (J2, T) grid."""

    J2: np.ndarray  # (n_J2,) ascending
    T: np.ndarray  # (n_T,) ascending
    mean: np.ndarray  # (n_J2, n_T)
    std: np.ndarray
    count: np.ndarray


def grid_average(T: np.ndarray, J2: np.ndarray, values: np.ndarray) -> Grid:
    """Average ``values`` over the samples at each (J2, T) point (NaN where none)."""
    t_lv, ti = _levels(T)
    j_lv, ji = _levels(J2)
    shape = (len(j_lv), len(t_lv))
    v = np.asarray(values, dtype=np.float64)
    count = np.zeros(shape)
    total = np.zeros(shape)
    total2 = np.zeros(shape)
    np.add.at(count, (ji, ti), 1.0)
    np.add.at(total, (ji, ti), v)
    np.add.at(total2, (ji, ti), v * v)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        std = np.sqrt(np.maximum(total2 / count - mean**2, 0.0))
    return Grid(j_lv, t_lv, mean, std, count)


@dataclass
class ChainCurves:
    """Per-chain curves: one successively cooled chain per row, temperatures ascending."""

    J2: np.ndarray  # (n_chains,) J2 of each chain
    T: np.ndarray  # (n_T,) ascending
    values: np.ndarray  # (n_chains, n_T), NaN where a chain lacks a temperature


def chain_curves(
    index: np.ndarray, T: np.ndarray, J2: np.ndarray, values: np.ndarray
) -> ChainCurves:
    """Group samples into chains: a chain is one store unit, ``index // n_T`` samples long.

    (Every unit of a cooled dataset yields exactly one sample per temperature, stored
    contiguously, so the sample index identifies the chain without the shard-local label.)
    """
    t_lv, ti = _levels(T)
    n_t = len(t_lv)
    unit = np.asarray(index, dtype=np.int64) // n_t
    units, ci = np.unique(unit, return_inverse=True)
    out = np.full((len(units), n_t), np.nan)
    out[ci, ti] = np.asarray(values, dtype=np.float64)
    j2 = np.zeros(len(units))
    j2[ci] = np.round(np.asarray(J2, dtype=np.float64), 5)
    return ChainCurves(j2, t_lv, out)
