"""Phase boundaries T_c(J2): from the VAE's ε (machine learning) and from the χ peak (Monte Carlo)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from datamodules.j1j2 import region_mask
from physml.analysis.j1j2.grid import ChainCurves, Grid


def crossing_temperature(T: np.ndarray, curve: np.ndarray, threshold: float) -> float:
    """Lowest T at which ``curve`` rises through ``threshold`` coming from low T.

    NaN if the curve starts at or above the threshold (that phase is absent at this J2)
    or never reaches it (ordered up to the hottest T, or no data).
    """
    T = np.asarray(T, dtype=np.float64)
    c = np.asarray(curve, dtype=np.float64)
    ok = np.isfinite(c)
    T, c = T[ok], c[ok]
    if c.size == 0 or c[0] >= threshold:
        return math.nan
    above = np.flatnonzero(c >= threshold)
    if above.size == 0:
        return math.nan
    k = int(above[0])
    t0, t1, c0, c1 = T[k - 1], T[k], c[k - 1], c[k]
    return float(t0 + (threshold - c0) * (t1 - t0) / (c1 - c0))


def eps_plateaus(grid: Grid, train_region: Mapping[str, float]) -> tuple[float, float]:
    """(in-phase, out-of-phase) plateaus: mean ε inside the training region, at the hottest T."""
    tt, jj = np.meshgrid(grid.T, grid.J2)
    inside = region_mask(tt, jj, train_region)
    eps_in = float(np.nanmean(grid.mean[inside])) if inside.any() else float(np.nanmin(grid.mean))
    eps_out = float(np.nanmean(grid.mean[:, -1]))
    return eps_in, eps_out


def boundary_from_eps(
    grid: Grid, chains: ChainCurves, threshold: float, dT: float | None = None
) -> list[dict[str, float]]:
    """T_c(J2) where the mean ε crosses ``threshold``; error = chain SEM ⊕ dT/√12.

    The chain term is the standard error of the single-chain crossing temperatures; the
    grid term is the rms error of locating a crossing inside one temperature step.
    """
    if dT is None:
        dT = float(np.median(np.diff(grid.T))) if grid.T.size > 1 else 0.0
    rows = []
    for j, j2 in enumerate(grid.J2):
        tc = crossing_temperature(grid.T, grid.mean[j], threshold)
        own = np.isclose(chains.J2, j2, atol=1e-6)
        per_chain = np.array(
            [crossing_temperature(chains.T, c, threshold) for c in chains.values[own]]
        )
        finite = per_chain[np.isfinite(per_chain)]
        sem = float(finite.std(ddof=1) / math.sqrt(finite.size)) if finite.size > 1 else math.nan
        grid_err = dT / math.sqrt(12.0)
        err = (
            math.sqrt((sem if math.isfinite(sem) else 0.0) ** 2 + grid_err**2)
            if math.isfinite(tc)
            else math.nan
        )
        rows.append(
            {
                "J2": float(j2),
                "T_c_eps": tc,
                "T_c_eps_err": err,
                "T_c_eps_chain_sem": sem,
                "n_chains_crossing": int(finite.size),
                "n_chains": int(own.sum()),
            }
        )
    return rows


def susceptibility(m_abs: np.ndarray, T: np.ndarray, n_sites: int) -> np.ndarray:
    """χ(T) = N (⟨m²⟩ − ⟨|m|⟩²) / T over chains (axis -2), m_abs of shape (..., chains, n_T)."""
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(m_abs, axis=-2)
        mean2 = np.nanmean(m_abs * m_abs, axis=-2)
    return n_sites * (mean2 - mean**2) / T


def peak_temperature(T: np.ndarray, chi: np.ndarray) -> np.ndarray:
    """Argmax of χ(T) refined by a parabola through the maximum and its two neighbours."""
    chi = np.atleast_2d(chi)
    filled = np.where(np.isfinite(chi), chi, -np.inf)
    k = np.argmax(filled, axis=-1)
    out = T[k].astype(np.float64)
    inner = (k > 0) & (k < len(T) - 1)
    rows = np.flatnonzero(inner)
    if rows.size:
        kk = k[rows]
        y0, y1, y2 = chi[rows, kk - 1], chi[rows, kk], chi[rows, kk + 1]
        h = T[kk + 1] - T[kk]
        denom = y0 - 2 * y1 + y2
        with np.errstate(invalid="ignore", divide="ignore"):
            shift = np.where(denom < 0, 0.5 * h * (y0 - y2) / denom, 0.0)
        out[rows] = T[kk] + np.clip(np.nan_to_num(shift), -h / 2, h / 2)
    return out


def saturation_temperature(T: np.ndarray, order: np.ndarray, fraction: float = 0.95) -> float:
    """The highest T at which the mean order parameter is still within ``fraction`` of its cold plateau.

    Below it the order has saturated; a χ "peak" there comes from chains stuck in domains,
    not from the transition. -inf when there is no order to saturate.
    """
    mean = np.nanmean(order, axis=0)
    plateau = mean[0]
    if not np.isfinite(plateau) or plateau < 0.5:
        return -math.inf
    saturated = np.flatnonzero(mean >= fraction * plateau)
    return float(T[saturated[-1]]) if saturated.size else -math.inf


def boundary_from_susceptibility(
    chains_m: ChainCurves,
    chains_stripe: ChainCurves,
    n_sites: int,
    n_bootstrap: int = 200,
    seed: int = 0,
    frozen: np.ndarray | None = None,
) -> tuple[list[dict[str, Any]], dict[float, tuple[str, np.ndarray]]]:
    """Per J2: the order parameter that is larger at the lowest T, and the peak of its χ.

    Frozen chains (``frozen``, one flag per chain: the chain ended with domain walls) are
    left out, and the peak is searched only above the temperature where the order
    saturates, so that stuck chains cannot put the peak at the coldest temperature. The
    uncertainty is the standard deviation of the peak over bootstrap resamplings of the
    chains. Also returns {J2: (order parameter name, χ(T))} for plotting.
    """
    rng = np.random.default_rng(seed)
    T = chains_m.T
    rows, curves = [], {}
    for j2 in np.unique(chains_m.J2):
        own = np.isclose(chains_m.J2, j2, atol=1e-6)
        stuck = frozen[own].astype(bool) if frozen is not None else np.zeros(own.sum(), dtype=bool)
        keep = ~stuck if (~stuck).sum() >= 2 else np.ones_like(stuck)
        m = np.abs(chains_m.values[own])[keep]
        s = np.abs(chains_stripe.values[own])[keep]
        use_m = np.nanmean(m[:, 0]) >= np.nanmean(s[:, 0])
        order = "magnetisation" if use_m else "stripe"
        op = m if use_m else s
        t_sat = saturation_temperature(T, op)
        hot = T > t_sat
        chi = susceptibility(op, T, n_sites)
        chi_hot = np.where(hot, chi, np.nan)
        tc = float(peak_temperature(T, chi_hot)[0])
        n = op.shape[0]
        err = math.nan
        if n > 1 and n_bootstrap > 0:
            pick = rng.integers(0, n, size=(n_bootstrap, n))
            boot = peak_temperature(T, np.where(hot, susceptibility(op[pick], T, n_sites), np.nan))
            err = float(np.std(boot, ddof=1))
        rows.append(
            {
                "J2": float(j2),
                "T_c_chi": tc,
                "T_c_chi_err": err,
                "order_parameter": order,
                "chi_max": float(np.nanmax(chi_hot)) if np.isfinite(chi_hot).any() else math.nan,
                "frozen_fraction": float(stuck.mean()) if stuck.size else 0.0,
                "T_saturation": t_sat,
            }
        )
        curves[float(j2)] = (order, chi)
    return rows, curves


def eps_threshold(eps_in: float, eps_out: float) -> float:
    """Midpoint between the in-phase and out-of-phase plateaus."""
    return 0.5 * (eps_in + eps_out)
