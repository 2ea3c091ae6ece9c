"""Finite-size scaling of percolation runs (issue 13 §2): a `physml report` study.

Over a multirun in L (``experiment=percolation_fss``) it collapses, with
:func:`physml.analysis.fss.collapse`,

* the true spanning probability P(p, L): the fraction of test lattices whose label is
  "spanning" (binomial errors and bootstrap), and
* the network's P_net(p, L): the mean softmax probability of "spanning" over the same test
  lattices (error: the standard error over lattices, floored at the binomial error of a
  fraction of n lattices at 0 or n, so a saturated output is not given zero error; Gaussian
  bootstrap).

Both use the lattices' own density x = round(p L²) / L² (the datasets hold exactly that
many occupied sites, the canonical ensemble) and only p in ``window`` (fixed before any
fit: the p of the grid where P(p, 16) is neither 0 nor 1). Each is fitted without and with
the leading correction to scaling, ω = 3/2 (R. M. Ziff, Phys. Rev. E 83, 020107 (2011);
docs/fss: in the canonical ensemble ν is biased upwards without it). The errors are
statistical over test lattices only: a second training seed can move P_net by more.

Known values: p_c = 0.592746, ν = 4/3. If the network had learnt spanning, P_net would
collapse like P, with the same p_c and ν; a network that reads the density instead gives a
curve whose width need not shrink like L^{-1/ν}.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import matplotlib.pyplot as plt
import numpy as np

from physml.analysis.common import AnalysisResult
from physml.analysis.fss import CollapseResult, binomial_errors, collapse, quality
from physml.analysis.fss_figures import collapse_figure
from physml.analysis.studies import Study, setting_label
from physml.constants import NU_PERCOLATION_2D, PC_SQUARE_SITE
from physml.errors import ConfigError
from physml.runstore import RunRecord

KNOWN = {"x_c": PC_SQUARE_SITE, "nu": NU_PERCOLATION_2D}
#: the two observables collapsed: table/metric name -> axis label
OBSERVABLES = {"P_true": "P(p, L) (labels)", "P_net": "P_net(p, L) (mean softmax)"}


def spanning_rows(L: int, p: np.ndarray, spanning: np.ndarray, prob: np.ndarray) -> list[dict[str, float]]:
    """One row per p of one size: x = round(p L²)/L², n lattices, k spanning, P ± dP (binomial),
    P_net ± dP_net (mean softmax, standard error floored at the binomial error of 0/n) and
    the fraction predicted spanning (argmax), P_net_hard."""
    rows = []
    for g in np.unique(p):
        sel = p == g
        n = int(sel.sum())
        k = int(spanning[sel].sum())
        P, dP = binomial_errors(k, n)
        q = prob[sel].astype(np.float64)
        floor = float(binomial_errors(0, n)[1])
        sem = float(q.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf
        rows.append(
            {
                "L": int(L),
                "p": float(g),
                "x": round(float(g) * L * L) / (L * L),
                "n": n,
                "k": k,
                "P_true": float(P),
                "P_true_err": float(dP),
                "P_net": float(q.mean()),
                "P_net_err": max(sem, floor),
                "P_net_hard": float((q > 0.5).mean()),
            }
        )
    return rows


def fit_row(observable: str, omega: float | str | None, r: CollapseResult) -> dict[str, Any]:
    """A flat table row of one fit, with the pulls against the known p_c and ν."""
    row: dict[str, Any] = {"observable": observable, "omega": "none" if omega is None else omega}
    # omega "known": not a fit, the data scaled with the known p_c and ν (S only)
    row.update({k: v for k, v in r.summary().items() if k not in ("zeta", "zeta_err", "omega")})
    for key, value in KNOWN.items():
        err = getattr(r, f"{key}_err")
        row[f"{key}_pull"] = (getattr(r, key) - value) / err if err > 0 else math.nan
    return row


def at_known(r: CollapseResult) -> CollapseResult:
    """The fit's data at the known p_c and ν (no correction, no errors): S says how well the
    sizes fall on one curve when scaled like the physics."""
    S, N = quality(r.x, r.y, r.L, r.dy, KNOWN["x_c"], KNOWN["nu"])
    return dataclasses.replace(
        r,
        x_c=KNOWN["x_c"],
        nu=KNOWN["nu"],
        x_c_err=0.0,
        nu_err=0.0,
        quality=S,
        n_terms=N,
        bootstrap=np.empty((0, r.bootstrap.shape[1])),
        at_bound=(),
        method=f"{r.method}, at the known p_c and ν",
    )


def plot_curves(rows: list[dict[str, float]]) -> plt.Figure:
    """P(p, L) from the labels and the network's P_net(p, L), every size, one panel each."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    sizes = sorted({r["L"] for r in rows})
    for ax, key in zip(axes, OBSERVABLES, strict=True):
        for i, L in enumerate(sizes):
            sel = [r for r in rows if r["L"] == L]
            ax.errorbar(
                [r["x"] for r in sel], [r[key] for r in sel], [r[f"{key}_err"] for r in sel],
                fmt="o-", ms=3, lw=1, color=f"C{i}", label=f"L = {L}",
            )  # fmt: skip
        ax.axvline(PC_SQUARE_SITE, color="k", lw=0.8, ls=":", label=f"$p_c$ = {PC_SQUARE_SITE}")
        ax.set_xlabel("p = round(p L²)/L²")
        ax.set_title(OBSERVABLES[key], fontsize=10)
    axes[0].set_ylabel("spanning probability")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


class SpanningCollapse(Study):
    """Data collapse of P(p, L) and of the network's P_net(p, L) over a multirun in L."""

    name = "fss"
    #: p of the grid that enter the fits (fixed before fitting; see the module docstring)
    window: ClassVar[tuple[float, float]] = (0.5, 0.7)
    #: correction exponents fitted (None: no correction)
    omegas: ClassVar[tuple[float | None, ...]] = (None, 1.5)
    n_bootstrap: ClassVar[int] = 100
    seed: ClassVar[int] = 0

    def groups(self, runs: Sequence[RunRecord]) -> list[list[RunRecord]]:
        """Spanning runs with test predictions, grouped by every override except ``system.L``
        (each seed its own group); a group needs at least two sizes, one run each."""
        by_label: dict[str, list[RunRecord]] = {}
        for run in runs:
            if run.system != "percolation" or run.setting("system.target") != "spanning":
                continue
            if run.setting("system.L") is None or not (run.path / "predictions.zarr").exists():
                continue
            by_label.setdefault(setting_label(run, ignore=("system.L",)), []).append(run)
        groups = []
        for group in by_label.values():
            first: dict[int, RunRecord] = {}
            for run in group:
                first.setdefault(int(run.setting("system.L")), run)
            if len(first) >= 2:
                groups.append([first[L] for L in sorted(first)])
        return groups

    def __call__(self, runs: Sequence[RunRecord]) -> AnalysisResult:
        rows: list[dict[str, float]] = []
        for run in runs:
            test = run.predictions()["test"]
            probs = np.asarray(test["probs"], dtype=np.float64)
            rows += spanning_rows(
                int(run.setting("system.L")),
                np.asarray(test["p"], dtype=np.float64),
                np.asarray(test["spanning"]),
                probs[:, 1],
            )
        lo, hi = self.window
        used = [r for r in rows if lo - 1e-9 <= r["p"] <= hi + 1e-9]
        model = str(runs[0].setting("model.name", default="?"))
        result = AnalysisResult(tables={"fss_data": rows})
        result.figures["fss_curves"] = plot_curves(used)
        fits = []
        x = np.array([r["x"] for r in used])
        L = np.array([r["L"] for r in used], dtype=np.float64)
        for observable, label in OBSERVABLES.items():
            y = np.array([r[observable] for r in used])
            kwargs: dict[str, Any] = (
                {"trials": np.array([r["n"] for r in used])}
                if observable == "P_true"
                else {"dy": np.array([r[f"{observable}_err"] for r in used])}
            )
            if observable == "P_true":
                y = np.array([r["k"] / r["n"] for r in used])
            for omega in self.omegas:
                tag = f"{observable}" + ("" if omega is None else f"_omega{omega:g}")
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # at_bound is in the table
                        r = collapse(
                            x, y, L, omega=omega, n_bootstrap=self.n_bootstrap, seed=self.seed, **kwargs
                        )
                except ConfigError as exc:
                    result.notes.append(f"{tag}: no collapse ({exc})")
                    continue
                fits.append(fit_row(observable, omega, r))
                for key in ("x_c", "nu"):
                    result.metrics[f"fss/{tag}/{key}"] = getattr(r, key)
                    result.metrics[f"fss/{tag}/{key}_err"] = getattr(r, f"{key}_err")
                result.metrics[f"fss/{tag}/S"] = r.quality
                title = f"{model}: {label}" + ("" if omega is None else f", ω = {omega:g}")
                result.figures[f"fss_{tag}"] = collapse_figure(r, "p", observable, title, KNOWN)
                if omega is None:  # the same data scaled with the known p_c and ν: S there
                    known = at_known(r)
                    fits.append(fit_row(observable, "known", known))
                    result.metrics[f"fss/{observable}/S_known"] = known.quality
                    title = f"{model}: {label}, scaled with the known p_c and ν"
                    result.figures[f"fss_{observable}_known"] = collapse_figure(
                        known, "p", observable, title, KNOWN
                    )
        result.tables["fss_fits"] = fits
        return result.with_metrics_table()
