"""Figures of the J1-J2 VAE study (review Figs. 5 and 6): each takes computed data, returns a Figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Rectangle

from datamodules.j1j2 import region_mask
from physml.analysis.j1j2.phase_map import PHASE_OF_REGION, PhaseMap, RegionResult
from physml.constants import TC_ISING

COLOR_OF_REGION = {"low_J2": "tab:red", "high_J2": "tab:blue"}


def _edges(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.size == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = 0.5 * (v[1:] + v[:-1])
    return np.concatenate([[2 * v[0] - mid[0]], mid, [2 * v[-1] - mid[-1]]])


def _j2_axis(ax: plt.Axes, j2: np.ndarray) -> None:
    """Equal-width J2 columns labelled with their values (the grid crowds near 1/2)."""
    ax.set_xticks(np.arange(len(j2)), [f"{v:g}" for v in j2], rotation=90, fontsize=7)
    ax.set_xlabel("$J_2$")


def _overlay_boundary(
    ax: plt.Axes, rows: list[dict[str, float]], color: str, label: str, key: str = "T_c_eps"
) -> None:
    x = np.arange(len(rows))
    y = np.array([r[key] for r in rows])
    e = np.array([r[f"{key}_err"] for r in rows])
    ok = np.isfinite(y)
    if ok.any():
        ax.errorbar(
            x[ok],
            y[ok],
            yerr=np.nan_to_num(e[ok]),
            fmt="o",
            ms=3,
            color=color,
            capsize=2,
            label=label,
        )


def plot_eps_map(reg: RegionResult, title: str) -> plt.Figure:
    """Review Fig. 6: mean ε over (J2, T), training region outlined, T_c from ε overlaid."""
    g = reg.grid
    fig, ax = plt.subplots(figsize=(8, 5))
    im = ax.pcolormesh(
        np.arange(len(g.J2) + 1) - 0.5,
        _edges(g.T),
        g.mean.T,
        cmap="viridis",
        vmin=0.0,
        vmax=0.5,
        shading="flat",
    )
    fig.colorbar(im, ax=ax, label=r"$\varepsilon$")
    tr = reg.train_region
    if tr is not None:
        tt, jj = np.meshgrid(g.T, g.J2)
        inside = region_mask(tt, jj, tr)  # (n_J2, n_T)
        cols = np.flatnonzero(inside.any(axis=1))
        rows_in = np.flatnonzero(inside.any(axis=0))
        if cols.size and rows_in.size:
            te = _edges(g.T)
            ax.add_patch(
                Rectangle(
                    (cols[0] - 0.5, te[rows_in[0]]),
                    cols[-1] - cols[0] + 1,
                    te[rows_in[-1] + 1] - te[rows_in[0]],
                    fill=False,
                    ec="white",
                    lw=1.5,
                    ls="--",
                    label="training region",
                )
            )
    _overlay_boundary(ax, reg.boundary, "red", rf"$T_c$ from $\varepsilon$ = {reg.threshold:.3f}")
    _j2_axis(ax, g.J2)
    ax.set_ylabel("T")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper right")
    return fig


def plot_eps_curves(reg: RegionResult) -> plt.Figure:
    """ε(T) for every J2 with the two plateaus and the threshold."""
    g = reg.grid
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colors = plt.cm.plasma(np.linspace(0, 0.9, len(g.J2)))
    for j, j2 in enumerate(g.J2):
        ax.plot(g.T, g.mean[j], color=colors[j], lw=1, label=f"{j2:g}")
    for v, ls, name in (
        (reg.eps_in, ":", "in-phase plateau"),
        (reg.eps_out, "-.", "out-of-phase plateau"),
        (reg.threshold, "--", "threshold (midpoint)"),
    ):
        ax.axhline(v, color="k", ls=ls, lw=0.8, label=name)
    ax.set_xlabel("T")
    ax.set_ylabel(r"$\varepsilon$")
    ax.set_ylim(-0.01, 0.55)
    ax.legend(title="$J_2$", fontsize=6, ncol=3, loc="lower right")
    return fig


def plot_boundary(
    reg: RegionResult, rows: list[dict[str, Any]], other: RegionResult | None = None
) -> plt.Figure:
    """T_c(J2) from ε (ML) next to the susceptibility peaks (Monte Carlo observables)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    j2 = np.array([r["J2"] for r in rows])

    def draw(x: np.ndarray, y: np.ndarray, e: np.ndarray, **kw: Any) -> None:
        ok = np.isfinite(y)
        if ok.any():
            ax.errorbar(x[ok], y[ok], yerr=np.nan_to_num(e[ok]), capsize=2, ms=4, **kw)

    draw(
        j2,
        np.array([r["T_c_eps"] for r in rows]),
        np.array([r["T_c_eps_err"] for r in rows]),
        fmt="o-",
        color=COLOR_OF_REGION[reg.region],
        label=rf"VAE $\varepsilon$ ({PHASE_OF_REGION[reg.region]})",
    )
    if other is not None:
        oj = np.array([r["J2"] for r in other.boundary])
        draw(
            oj,
            np.array([r["T_c_eps"] for r in other.boundary]),
            np.array([r["T_c_eps_err"] for r in other.boundary]),
            fmt="s-",
            color=COLOR_OF_REGION[other.region],
            label=rf"VAE $\varepsilon$ ({PHASE_OF_REGION[other.region]})",
        )
    for order, marker, color in (("magnetisation", "^", "k"), ("stripe", "v", "tab:gray")):
        sel = np.array([r["order_parameter"] == order for r in rows])
        if sel.any():
            draw(
                j2[sel],
                np.array([r["T_c_chi"] for r in rows])[sel],
                np.array([r["T_c_chi_err"] for r in rows])[sel],
                fmt=marker,
                mfc="none",
                color=color,
                ls="none",
                label=f"peak of χ ({order})",
            )
    ax.plot(
        [0.0],
        [TC_ISING],
        "*",
        color="gold",
        mec="k",
        ms=12,
        label=r"Onsager $T_c$ ($J_2=0$, $L\to\infty$)",
    )
    ax.axvline(0.5, color="k", ls=":", lw=0.8)
    ax.set_xlabel("$J_2$")
    ax.set_ylabel("$T_c$")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    return fig


def plot_susceptibility(
    T: np.ndarray, curves: dict[float, tuple[str, np.ndarray]]
) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colors = plt.cm.viridis(np.linspace(0, 0.95, max(len(curves), 1)))
    for (j2, (order, chi)), c in zip(sorted(curves.items()), colors, strict=False):
        ax.plot(
            T, chi, color=c, lw=1, ls="-" if order == "magnetisation" else "--", label=f"{j2:g}"
        )
    ax.set_yscale("symlog", linthresh=1e-2)
    ax.set_xlabel("T")
    ax.set_ylabel(r"$\chi = N(\langle m^2\rangle - \langle |m|\rangle^2)/T$")
    ax.set_title("solid: magnetisation, dashed: stripe order")
    ax.legend(title="$J_2$", fontsize=6, ncol=3)
    return fig


def plot_latent(
    mu: np.ndarray, T: np.ndarray, J2: np.ndarray, max_points: int = 20000
) -> plt.Figure:
    """Latent means coloured by T and by J2 (first two principal axes when d > 2)."""
    mu = np.asarray(mu, dtype=np.float64).reshape(len(mu), -1)
    rng = np.random.default_rng(0)
    sel = rng.permutation(len(mu))[:max_points]
    mu, T, J2 = mu[sel], np.asarray(T)[sel], np.asarray(J2)[sel]
    if mu.shape[1] == 1:
        xy, labels = np.column_stack([mu[:, 0], T]), ("$\\mu_1$", "T")
    elif mu.shape[1] == 2:
        xy, labels = mu, ("$\\mu_1$", "$\\mu_2$")
    else:
        centred = mu - mu.mean(0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        xy, labels = centred @ vt[:2].T, ("PC 1", "PC 2")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, c, name, cmap in ((axes[0], T, "T", "coolwarm"), (axes[1], J2, "$J_2$", "viridis")):
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=c, s=3, alpha=0.6, cmap=cmap)
        fig.colorbar(sc, ax=ax, label=name)
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        ax.set_title(f"latent space coloured by {name}")
    return fig


def plot_examples(
    ex: Mapping[str, np.ndarray], wanted: Sequence[Sequence[float]]
) -> plt.Figure:
    """Review Fig. 5: configurations (top, black = up) and their reconstructions (bottom)."""
    T, J2 = np.asarray(ex["T"], dtype=np.float64), np.asarray(ex["J2"], dtype=np.float64)
    picks = []
    for j2_w, t_w in wanted:
        j2_near = J2[np.argmin(np.abs(J2 - j2_w))]
        cand = np.flatnonzero(np.isclose(J2, j2_near))
        picks.append(int(cand[np.argmin(np.abs(T[cand] - t_w))]))
    n = len(picks)
    fig, axes = plt.subplots(2, n, figsize=(2.2 * n, 4.8), squeeze=False)
    for col, i in enumerate(picks):
        for row, key in enumerate(("x", "recon")):
            ax = axes[row, col]
            ax.imshow(ex[key][i], cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, col].set_title(f"$J_2$={J2[i]:g}, T={T[i]:.3g}", fontsize=8)
        if "eps" in ex:
            axes[1, col].set_title(rf"$\varepsilon$={float(ex['eps'][i]):.3f}", fontsize=8)
    axes[0, 0].set_ylabel("configuration")
    axes[1, 0].set_ylabel("reconstruction")
    return fig


def plot_phase_map(phase_map: PhaseMap) -> plt.Figure:
    """Combined three-phase diagram with both ε boundaries."""
    fm, saf, phase = phase_map.fm, phase_map.saf, phase_map.phase
    g = fm.grid
    fig, ax = plt.subplots(figsize=(8, 5))
    cmap = ListedColormap(["tab:red", "tab:blue", "0.85"])
    ax.pcolormesh(
        np.arange(len(g.J2) + 1) - 0.5,
        _edges(g.T),
        phase.T,
        cmap=cmap,
        vmin=-0.5,
        vmax=2.5,
        shading="flat",
    )
    _overlay_boundary(ax, fm.boundary, "darkred", "ferromagnet boundary")
    _overlay_boundary(ax, saf.boundary, "navy", "superantiferromagnet boundary")
    handles = [Rectangle((0, 0), 1, 1, color=c) for c in ("tab:red", "tab:blue", "0.85")]
    leg = ax.legend(
        handles,
        ["ferromagnet", "superantiferromagnet", "paramagnet (by exclusion)"],
        fontsize=7,
        loc="upper right",
    )
    ax.add_artist(leg)
    ax.legend(fontsize=7, loc="upper left")
    _j2_axis(ax, g.J2)
    ax.set_ylabel("T")
    ax.set_title(r"phases from the two single-region VAEs ($\varepsilon$ below threshold)")
    return fig
