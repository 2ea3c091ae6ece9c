"""J1-J2 VAE analysis (review §5, Figs. 5 and 6): ε maps, phase boundaries, phase diagram.

From a run's test predictions (per configuration: ε, latent mean μ, and the simulator's
labels T, J2, magnetisation, stripe order, sample index) this computes

* the mean spin-adapted error ε(T, J2) over the grid (review Fig. 6) and its plateaus:
  "in" = mean ε over the grid points of the training region, "out" = mean ε at the
  hottest temperature (paramagnet); the boundary threshold is their midpoint;
* T_c(J2) from ε: the temperature at which ε(T) first rises through the threshold coming
  from low T (linear interpolation between grid temperatures), with an uncertainty from
  the chain-to-chain spread of the single-chain crossings and the temperature step;
* T_c(J2) the conventional way: the peak of χ = N (⟨m²⟩ − ⟨|m|⟩²) / T over chains of the
  order parameter that orders at low T (|magnetisation| or stripe order), refined by a
  parabola, with a bootstrap over chains for its uncertainty;
* with a second run's predictions (the other training region), the three-phase map:
  ferromagnet, superantiferromagnet, and the paramagnet by exclusion.

``combine_runs`` / ``combine_run_dirs`` make the combined map from two finished runs
(for ``physml report``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Rectangle

from physml.analysis.common import AnalysisResult, save_figure
from physml.constants import TC_ISING
from physml.errors import require

REGIONS = ("low_J2", "high_J2")
PHASE_NAMES = ("ferromagnet", "superantiferromagnet", "paramagnet")
PHASE_OF_REGION = {"low_J2": "ferromagnet", "high_J2": "superantiferromagnet"}
COLOR_OF_REGION = {"low_J2": "tab:red", "high_J2": "tab:blue"}
ORDER_OF_REGION = {"low_J2": "magnetisation", "high_J2": "stripe"}

Predictions = Mapping[str, Mapping[str, np.ndarray]]


# ---------------------------------------------------------------------------------------
# Grids
# ---------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------
# Boundaries
# ---------------------------------------------------------------------------------------
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
    inside = (tt <= train_region["T_max"] + 1e-5) & (jj >= train_region["J2_min"] - 1e-5)
    inside &= jj <= train_region["J2_max"] + 1e-5
    if train_region.get("T_min") is not None:
        inside &= tt >= train_region["T_min"] - 1e-5
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


def boundary_from_susceptibility(
    chains_m: ChainCurves,
    chains_stripe: ChainCurves,
    n_sites: int,
    n_bootstrap: int = 200,
    seed: int = 0,
) -> tuple[list[dict[str, Any]], dict[float, tuple[str, np.ndarray]]]:
    """Per J2: the order parameter that is larger at the lowest T, and the peak of its χ.

    Uncertainty: standard deviation of the peak over bootstrap resamplings of the chains.
    Also returns {J2: (order parameter name, χ(T))} for plotting.
    """
    rng = np.random.default_rng(seed)
    T = chains_m.T
    rows, curves = [], {}
    for j2 in np.unique(chains_m.J2):
        own = np.isclose(chains_m.J2, j2, atol=1e-6)
        m = np.abs(chains_m.values[own])
        s = np.abs(chains_stripe.values[own])
        use_m = np.nanmean(m[:, 0]) >= np.nanmean(s[:, 0])
        order = "magnetisation" if use_m else "stripe"
        op = m if use_m else s
        chi = susceptibility(op, T, n_sites)
        tc = float(peak_temperature(T, chi)[0])
        n = op.shape[0]
        err = math.nan
        if n > 1 and n_bootstrap > 0:
            pick = rng.integers(0, n, size=(n_bootstrap, n))
            boot = peak_temperature(T, susceptibility(op[pick], T, n_sites))
            err = float(np.std(boot, ddof=1))
        rows.append(
            {
                "J2": float(j2),
                "T_c_chi": tc,
                "T_c_chi_err": err,
                "order_parameter": order,
                "chi_max": float(np.nanmax(chi)),
            }
        )
        curves[float(j2)] = (order, chi)
    return rows, curves


def eps_threshold(eps_in: float, eps_out: float) -> float:
    """Midpoint between the in-phase and out-of-phase plateaus."""
    return 0.5 * (eps_in + eps_out)


# ---------------------------------------------------------------------------------------
# Three-phase map
# ---------------------------------------------------------------------------------------
def guess_region(predictions: Predictions) -> str:
    """Which ordered region a run was trained on: the end of the J2 axis it reconstructs best."""
    test = predictions["test"]
    g = grid_average(test["T"], test["J2"], test["eps"])
    return "low_J2" if g.mean[0, 0] <= g.mean[-1, 0] else "high_J2"


def three_phase_map(
    eps_fm: np.ndarray,
    eps_saf: np.ndarray,
    thr_fm: float,
    thr_saf: float,
    plateaus_fm: tuple[float, float],
    plateaus_saf: tuple[float, float],
) -> np.ndarray:
    """0 ferromagnet, 1 superantiferromagnet, 2 paramagnet (by exclusion), per grid point.

    A point belongs to an ordered phase when that region's VAE reconstructs it (ε below its
    threshold); if both do, the one with the smaller normalised error (ε − in)/(out − in).
    """
    fm = eps_fm < thr_fm
    saf = eps_saf < thr_saf
    nf = (eps_fm - plateaus_fm[0]) / max(plateaus_fm[1] - plateaus_fm[0], 1e-12)
    ns = (eps_saf - plateaus_saf[0]) / max(plateaus_saf[1] - plateaus_saf[0], 1e-12)
    phase = np.full(eps_fm.shape, 2, dtype=np.int64)
    phase[fm & ~saf] = 0
    phase[saf & ~fm] = 1
    both = fm & saf
    phase[both & (nf <= ns)] = 0
    phase[both & (nf > ns)] = 1
    return phase


@dataclass
class RegionResult:
    """Everything derived from one run's test stream."""

    region: str
    grid: Grid
    eps_in: float
    eps_out: float
    threshold: float
    boundary: list[dict[str, float]]
    train_region: Mapping[str, float] | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def analyse_region(
    predictions: Predictions,
    region: str,
    train_region: Mapping[str, float] | None = None,
    threshold: float | None = None,
    dT: float | None = None,
) -> RegionResult:
    """ε grid, plateaus, threshold and the ε boundary of one run."""
    test = predictions["test"]
    grid = grid_average(test["T"], test["J2"], test["eps"])
    if train_region is None:  # not known (e.g. a report on a bare predictions.zarr)
        j = 0 if region == "low_J2" else -1
        eps_in = float(np.nanmean(grid.mean[j, : max(1, grid.T.size // 20)]))
        eps_out = float(np.nanmean(grid.mean[:, -1]))
    else:
        eps_in, eps_out = eps_plateaus(grid, train_region)
    thr = eps_threshold(eps_in, eps_out) if threshold is None else float(threshold)
    chains = chain_curves(test["index"], test["T"], test["J2"], test["eps"])
    rows = boundary_from_eps(grid, chains, thr, dT)
    return RegionResult(region, grid, eps_in, eps_out, thr, rows, train_region)


def combine_runs(
    runs: Sequence[tuple[Predictions, str | None, Mapping[str, float] | None]],
    out_dir: Path,
    result: AnalysisResult | None = None,
    threshold: float | None = None,
) -> AnalysisResult:
    """Three-phase map from the two single-region runs (each: predictions, region, train region).

    Regions given as None are recognised from the data (``guess_region``). Writes
    ``phase_map.png`` and the table ``phase_boundaries`` (J2, T_c of each ordered phase).
    """
    out_dir = Path(out_dir)
    result = result or AnalysisResult()
    require(len(runs) == 2, "runs", "exactly two runs (low_J2 and high_J2)", len(runs))
    regs = [r if r is not None else guess_region(p) for p, r, _ in runs]
    require(
        sorted(regs) == sorted(REGIONS),
        "system.analysis.other_region",
        f"the two regions {REGIONS}",
        regs,
    )
    res = {
        reg: analyse_region(p, reg, tr, threshold)
        for (p, _, tr), reg in zip(runs, regs, strict=True)
    }
    fm, saf = res["low_J2"], res["high_J2"]
    same = fm.grid.mean.shape == saf.grid.mean.shape and np.allclose(fm.grid.T, saf.grid.T)
    require(
        same and np.allclose(fm.grid.J2, saf.grid.J2),
        "system.analysis.other_predictions",
        "predictions on the same (T, J2) grid",
        f"{fm.grid.mean.shape} vs {saf.grid.mean.shape}",
    )
    phase = three_phase_map(
        fm.grid.mean,
        saf.grid.mean,
        fm.threshold,
        saf.threshold,
        (fm.eps_in, fm.eps_out),
        (saf.eps_in, saf.eps_out),
    )
    result.figures["phase_map"] = plot_phase_map(fm, saf, phase, out_dir / "phase_map.png")
    table = []
    for a, b in zip(fm.boundary, saf.boundary, strict=True):
        table.append(
            {
                "J2": a["J2"],
                "T_c_ferromagnet": a["T_c_eps"],
                "T_c_ferromagnet_err": a["T_c_eps_err"],
                "T_c_superantiferromagnet": b["T_c_eps"],
                "T_c_superantiferromagnet_err": b["T_c_eps_err"],
            }
        )
    result.tables["phase_boundaries"] = table
    n = phase.size
    for k, name in enumerate(PHASE_NAMES):
        result.metrics[f"phase_map/fraction_{name}"] = float((phase == k).sum() / n)
    return result


def run_region(run_dir: str | Path) -> tuple[str | None, dict[str, float] | None]:
    """(system.region, system.train_region) of a run directory, from its .hydra/config.yaml."""
    cfg_path = Path(run_dir) / ".hydra" / "config.yaml"
    if not cfg_path.exists():
        return None, None
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(cfg_path)
    region = OmegaConf.select(cfg, "system.region")
    tr = OmegaConf.select(cfg, "system.train_region", throw_on_resolution_failure=False)
    return region, (OmegaConf.to_container(tr, resolve=True) if tr is not None else None)


def combine_run_dirs(
    run_a: str | Path, run_b: str | Path, out_dir: str | Path | None = None
) -> AnalysisResult:
    """``combine_runs`` for two run directories (reads predictions.zarr and .hydra/config.yaml)."""
    from physml.predictions import load_predictions

    runs = []
    for run in (Path(run_a), Path(run_b)):
        region, train_region = run_region(run)
        runs.append((load_predictions(run / "predictions.zarr"), region, train_region))
    out = Path(out_dir) if out_dir is not None else Path(run_a) / "figures" / "combined"
    result = combine_runs(runs, out)
    result.save(out)
    return result


# ---------------------------------------------------------------------------------------
# The configured analysis
# ---------------------------------------------------------------------------------------
@dataclass
class J1J2Analysis:
    """Figures, tables and metrics of one J1-J2 VAE run (``system.analysis``)."""

    region: str
    L: int
    train_region: Mapping[str, float] | None = None
    dT: float | None = None
    other_predictions: str | None = None
    other_region: str | None = None
    examples: Sequence[Sequence[float]] = (
        (0.1, 0.1),
        (0.1, 1.975),
        (0.1, 4.0),
        (0.8, 1.575),
        (0.8, 0.1),
    )
    threshold: float | None = None
    n_bootstrap: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        require(self.region in REGIONS, "system.region", f"one of {list(REGIONS)}", self.region)
        require(int(self.L) >= 2, "system.analysis.L", "the lattice size, integers >= 2", self.L)
        if self.other_region is not None:
            require(
                self.other_region in REGIONS and self.other_region != self.region,
                "system.analysis.other_region",
                f"the region other than {self.region!r}",
                self.other_region,
            )
        if self.other_predictions is not None:
            require(
                Path(self.other_predictions).exists(),
                "system.analysis.other_predictions",
                "null or an existing predictions.zarr of the other region's run",
                self.other_predictions,
            )
        if self.train_region is not None:
            self.train_region = {
                k: (None if v is None else float(v)) for k, v in dict(self.train_region).items()
            }

    def __call__(self, predictions: Predictions, out_dir: Path) -> AnalysisResult:
        out_dir = Path(out_dir)
        result = AnalysisResult()
        test = predictions["test"]
        n_sites = int(self.L) ** 2
        reg = analyse_region(predictions, self.region, self.train_region, self.threshold, self.dT)
        grid = reg.grid

        cm = chain_curves(test["index"], test["T"], test["J2"], test["magnetisation"])
        cs = chain_curves(test["index"], test["T"], test["J2"], test["stripe"])
        chi_rows, chi_curves = boundary_from_susceptibility(
            cm, cs, n_sites, self.n_bootstrap, self.seed
        )
        boundary = [
            {**a, **{k: v for k, v in b.items() if k != "J2"}}
            for a, b in zip(reg.boundary, chi_rows, strict=True)
        ]

        phase = PHASE_OF_REGION[self.region]
        result.metrics.update(
            {
                "test/eps_mean": float(np.mean(test["eps"])),
                "eps/in_region": reg.eps_in,
                "eps/out_hot": reg.eps_out,
                "eps/contrast": reg.eps_out - reg.eps_in,
                "eps/threshold": reg.threshold,
                "boundary/n_J2_with_T_c": float(
                    sum(math.isfinite(r["T_c_eps"]) for r in reg.boundary)
                ),
            }
        )
        for r in boundary:  # the Ising point is a known reference
            if abs(r["J2"]) < 1e-9:
                result.metrics["boundary/T_c_chi_J2_0"] = r["T_c_chi"]
                if math.isfinite(r["T_c_eps"]):
                    result.metrics["boundary/T_c_eps_J2_0"] = r["T_c_eps"]
        finite = [(r["T_c_eps"], r["T_c_chi"]) for r in boundary if math.isfinite(r["T_c_eps"])]
        if finite:
            d = np.array([a - b for a, b in finite])
            result.metrics["boundary/mean_abs_eps_minus_chi"] = float(np.mean(np.abs(d)))

        result.figures["eps_map"] = plot_eps_map(
            reg, out_dir / "eps_map.png", f"VAE trained on {phase} ({self.region})"
        )
        result.figures["eps_curves"] = plot_eps_curves(reg, out_dir / "eps_curves.png")
        other = None
        if self.other_predictions is not None:
            from physml.predictions import load_predictions

            other_preds = load_predictions(self.other_predictions)
            found_region, other_tr = run_region(Path(self.other_predictions).parent)
            other_region = (
                self.other_region or found_region or [r for r in REGIONS if r != self.region][0]
            )
            other = analyse_region(other_preds, other_region, other_tr, self.threshold, self.dT)
            combine_runs(
                [
                    (predictions, self.region, self.train_region),
                    (other_preds, other_region, other_tr),
                ],
                out_dir,
                result,
                self.threshold,
            )
        result.figures["boundary"] = plot_boundary(reg, boundary, other, out_dir / "boundary.png")
        result.figures["susceptibility"] = plot_susceptibility(
            grid.T, chi_curves, out_dir / "susceptibility.png"
        )
        if "mu" in test:
            result.figures["latent"] = plot_latent(
                test["mu"], test["T"], test["J2"], out_dir / "latent.png"
            )
        ex = predictions.get("test_examples")
        if ex is not None and "x" in ex and "recon" in ex and len(ex["x"]):
            result.figures["examples"] = plot_examples(ex, self.examples, out_dir / "examples.png")

        result.tables["boundary"] = boundary
        result.tables["eps_grid"] = [
            {
                "J2": float(j2),
                "T": float(t),
                "eps_mean": float(grid.mean[j, k]),
                "eps_std": float(grid.std[j, k]),
                "n": int(grid.count[j, k]),
            }
            for j, j2 in enumerate(grid.J2)
            for k, t in enumerate(grid.T)
        ]
        result.tables["metrics"] = [
            {"metric": k, "value": v} for k, v in sorted(result.metrics.items())
        ]
        result.save(out_dir)
        return result


# ---------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------
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


def plot_eps_map(reg: RegionResult, path: Path, title: str) -> Path:
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
        cols = np.flatnonzero((g.J2 >= tr["J2_min"] - 1e-5) & (g.J2 <= tr["J2_max"] + 1e-5))
        rows_in = np.flatnonzero(
            (g.T <= tr["T_max"] + 1e-5) & (g.T >= (tr.get("T_min") or -np.inf) - 1e-5)
        )
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
    return save_figure(fig, path)


def plot_eps_curves(reg: RegionResult, path: Path) -> Path:
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
    return save_figure(fig, path)


def plot_boundary(
    reg: RegionResult, rows: list[dict[str, Any]], other: RegionResult | None, path: Path
) -> Path:
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
    return save_figure(fig, path)


def plot_susceptibility(
    T: np.ndarray, curves: dict[float, tuple[str, np.ndarray]], path: Path
) -> Path:
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
    return save_figure(fig, path)


def plot_latent(
    mu: np.ndarray, T: np.ndarray, J2: np.ndarray, path: Path, max_points: int = 20000
) -> Path:
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
    return save_figure(fig, path)


def plot_examples(
    ex: Mapping[str, np.ndarray], wanted: Sequence[Sequence[float]], path: Path
) -> Path:
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
    return save_figure(fig, path)


def plot_phase_map(fm: RegionResult, saf: RegionResult, phase: np.ndarray, path: Path) -> Path:
    """Combined three-phase diagram with both ε boundaries."""
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
    return save_figure(fig, path)
