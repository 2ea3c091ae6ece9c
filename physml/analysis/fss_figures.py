"""The data-collapse figure: raw curves per size next to the collapsed master curve.

Kept apart from :mod:`physml.analysis.fss` so the fit stays free of plotting; builds a
``matplotlib.figure.Figure`` directly (no pyplot state) for the caller to save.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from physml.analysis.fss import CollapseResult


def _pm(value: float, err: float) -> str:
    return f"{value:.5g} ± {err:.2g}" if np.isfinite(err) and err > 0 else f"{value:.5g}"


def collapse_figure(
    result: CollapseResult,
    xlabel: str = "x",
    ylabel: str = "y",
    title: str | None = None,
    reference: dict[str, float] | None = None,
) -> Figure:
    """Two panels: y against x per size (fitted x_c dashed, ``reference["x_c"]`` dotted),
    and y L^{−ζ/ν} against the scaling variable at the best fit, annotated with the
    estimates, S and any ``reference`` values (e.g. {"x_c": 0.5927, "nu": 4/3})."""
    fig = Figure(figsize=(10, 4.6))
    raw, col = fig.subplots(1, 2)
    sx, sy, sdy = result.scaled()
    for i, size in enumerate(result.sizes):
        m = result.L == size
        style = {"color": f"C{i}", "label": f"L = {size:g}", "ms": 3}
        raw.errorbar(result.x[m], result.y[m], result.dy[m], fmt="o-", lw=1, **style)
        col.errorbar(sx[m], sy[m], sdy[m], fmt="o", **style)
    raw.axvline(result.x_c, color="k", lw=1, ls="--", label="fitted $x_c$")
    if reference and "x_c" in reference:
        raw.axvline(reference["x_c"], color="tab:red", lw=1, ls=":", label="known $x_c$")
    raw.set_xlabel(xlabel)
    raw.set_ylabel(ylabel)
    raw.legend(fontsize=8, loc="best")
    u = f"({xlabel} − $x_c$) $L^{{1/ν}}$"
    if result.omega is not None:
        u += f" (1 + s g) + h g,  g = (L/{result.sizes[0]:g})$^{{-{result.omega:g}}}$"
    col.set_xlabel(u)
    col.set_ylabel(f"{ylabel} $L^{{{-result.zeta / result.nu:.3g}}}$" if result.zeta else ylabel)
    lines = [f"$x_c$ = {_pm(result.x_c, result.x_c_err)}", f"ν = {_pm(result.nu, result.nu_err)}"]
    if result.fit_zeta:
        lines.append(f"ζ = {_pm(result.zeta, result.zeta_err)}")
    if result.omega is not None:
        lines.append(
            f"h = {_pm(result.shift, result.shift_err)}, s = {_pm(result.stretch, result.stretch_err)}"
        )
    lines.append(f"S = {result.quality:.3g} (N = {result.n_terms}, {result.method})")
    if reference:
        lines.append("known: " + ", ".join(f"{k} = {v:.6g}" for k, v in reference.items()))
    col.set_title("\n".join(lines), fontsize=8, loc="left")
    col.legend(fontsize=8, loc="best")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
