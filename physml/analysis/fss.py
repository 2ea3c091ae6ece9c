"""Finite-size scaling by data collapse: estimate x_c, ν (and an exponent on y) with bootstrap errors.

Near a continuous transition an observable measured at linear size L follows

    y(x, L) ≈ L^{ζ/ν} f((x − x_c) L^{1/ν}),

so plotting y L^{−ζ/ν} against u = (x − x_c) L^{1/ν} puts every size on one master
curve f. For dimensionless observables (a spanning probability, a Binder cumulant, a
classifier's output) ζ = 0; for an order parameter m ~ L^{−β/ν}, ζ = −β.

The collapse quality is that of J. Houdayer and A. K. Hartmann, Phys. Rev. B 70, 014418
(2004) (as described by O. Melchert, arXiv:0910.5403 (2009), and implemented in pyfssa).
For each point (u_i, y_i ± dy_i) the master curve there, Y_i ± dY_i, is estimated from
the *other* sizes only, and

    S = (1/N) Σ_i (y_i − Y_i)² / (dy_i² + dY_i²)

runs over the N points that at least one other size brackets. It uses the data's own
error bars, so S ≈ 1 for a collapse as good as the noise allows and S ≫ 1 when the sizes
do not fall on one curve; no form of f is assumed. Two estimates of Y (``master=``):

* ``"line"``, the original: one weighted straight line through the two bracketing points
  of every other size. On a curved f sampled coarsely compared with the errors it is
  biased (S > 1 at the true exponents, ν too large), and Y jumps whenever a point slides
  past another size's point, which leaves S full of small steps and side minima.
* ``"cubic"`` (default): each other size's curve at u_i by Lagrange interpolation through
  its four points around the bracket, errors propagated linearly, and the sizes averaged
  with inverse-variance weights. The interpolant passes through its knots, so S is
  continuous except where a size's range begins or ends, and the curvature bias is gone
  (measured in tests/test_fss.py and the report).

The parameters minimise S: Nelder–Mead from the lowest local minima of a coarse (x_c, ν)
grid. The errors are bootstrap standard deviations: the data are redrawn within their
errors (Gaussian, or binomial for fractions of counted trials) and refitted. They are
statistical only. Corrections to scaling can be fitted to first order (``omega=``, see
:func:`collapse`); otherwise check the result against dropping the smallest size.

Why not the ``fssa`` package (pyfssa 0.7.6, 2015, the "line" measure): it no longer
imports with numpy >= 2 (``numpy.asfarray``; also ``np.int``, removed in numpy 1.24),
needs ``pkg_resources`` and ``future``, and imports the private
``scipy.optimize.optimize``. ``jaxfss`` (2022) needs JAX.

Pure numpy/scipy: no simulators, no plotting (see :mod:`physml.analysis.fss_figures`).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize

from physml.errors import ConfigError, require

__all__ = [
    "CollapseResult",
    "binomial_errors",
    "collapse",
    "quality",
    "scale",
]

_PARAMS = ("x_c", "nu", "zeta", "shift", "stretch")
#: How the master curve is estimated at each point from the other sizes (see ``_quality``).
MASTERS = ("cubic", "line")


# --------------------------------------------------------------------------- input checks


@dataclasses.dataclass(frozen=True)
class _Data:
    """Validated input, sorted by (L, x); ``starts`` delimits the sizes."""

    x: np.ndarray
    y: np.ndarray
    dy: np.ndarray
    L: np.ndarray
    sizes: np.ndarray
    starts: np.ndarray  # len(sizes) + 1 offsets into the sorted arrays
    trials: np.ndarray | None

    @property
    def common_range(self) -> tuple[float, float]:
        """The x interval that every size covers."""
        lo = max(float(self.x[a]) for a in self.starts[:-1])
        hi = min(float(self.x[b - 1]) for b in self.starts[1:])
        return lo, hi


def _as_1d(name: str, values: Any, n: int | None) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.ndim == 0 and n is not None:
        a = np.full(n, float(a))
    require(a.ndim == 1, name, "a 1-D array (one entry per data point)", f"shape {a.shape}")
    if n is not None:
        require(a.size == n, name, f"{n} entries, as many as x", f"{a.size} entries")
    bad = ~np.isfinite(a)
    if bad.any():
        where = np.flatnonzero(bad)[:5].tolist()
        raise ConfigError(
            field=name,
            value=f"{int(bad.sum())} non-finite entries (NaN/inf) at {where}...",
            allowed="finite numbers only",
        )
    return a


def _prepare(x: Any, y: Any, L: Any, dy: Any, trials: Any, min_points: int) -> _Data:
    """Check the input and sort it; every message names the argument at fault."""
    xa = _as_1d("x", x, None)
    n = xa.size
    ya = _as_1d("y", y, n)
    La = _as_1d("L", L, n)
    require(bool(np.all(La > 0)), "L", "positive system sizes", f"min {La.min() if n else None}")
    tr = None
    if trials is not None:
        tr = _as_1d("trials", trials, n)
        require(
            bool(np.all(tr >= 1) and np.all(tr == np.round(tr))),
            "trials",
            "positive integers (the number of samples behind each y)",
            f"min {tr.min()}",
        )
        require(
            bool(np.all((ya >= 0) & (ya <= 1))),
            "y",
            "fractions in [0, 1] when trials is given",
            f"range [{ya.min()}, {ya.max()}]",
        )
    if dy is None:
        require(tr is not None, "dy", "per-point errors (or trials=, for binomial fractions)", None)
        dya = binomial_errors(np.round(ya * tr), tr)[1]
    else:
        dya = _as_1d("dy", dy, n)
    require(bool(np.all(dya > 0)), "dy", "errors > 0 (S divides by them)", f"min {dya.min() if n else None}")

    sizes = np.unique(La)
    require(
        sizes.size >= 2,
        "L",
        "at least two different system sizes (a collapse compares sizes)",
        sizes.tolist(),
    )
    order = np.lexsort((xa, La))
    xa, ya, dya, La = xa[order], ya[order], dya[order], La[order]
    tr = tr[order] if tr is not None else None
    starts = np.searchsorted(La, sizes, side="left")
    starts = np.append(starts, n)
    for k, size in enumerate(sizes):
        xs = xa[starts[k] : starts[k + 1]]
        require(
            xs.size >= min_points,
            "x",
            f"at least {min_points} points per size",
            f"{xs.size} points at L={size:g}",
        )
        dup = np.diff(xs) == 0
        require(
            not dup.any(),
            "x",
            "distinct x within each size (average repeated points first)",
            f"repeated x={xs[1:][dup][:3].tolist()} at L={size:g}",
        )
    data = _Data(xa, ya, dya, La, sizes, starts, tr)
    lo, hi = data.common_range
    if not lo < hi:
        ranges = {
            f"{s:g}": (float(xa[a]), float(xa[b - 1]))
            for s, a, b in zip(sizes, starts[:-1], starts[1:], strict=True)
        }
        raise ConfigError(
            field="x",
            value=f"x ranges per L {ranges}",
            allowed="x ranges that overlap for all sizes (each must cover the critical point)",
        )
    return data


def binomial_errors(k: Any, n: Any) -> tuple[np.ndarray, np.ndarray]:
    """Fraction k/n and its error, for probabilities estimated from n trials.

    The error is the standard deviation of the Beta(k + 1, n − k + 1) posterior (uniform
    prior), sqrt(p̃(1 − p̃)/(n + 3)) with p̃ = (k + 1)/(n + 2): the usual binomial error
    for 0 ≪ k ≪ n, but never zero at k = 0 or n, where S would divide by zero.
    """
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    p_tilde = (k + 1.0) / (n + 2.0)
    return k / n, np.sqrt(p_tilde * (1.0 - p_tilde) / (n + 3.0))


# --------------------------------------------------------------------------- the measure


def _scaled_x(x: np.ndarray, L: np.ndarray, p: np.ndarray, omega: float | None) -> np.ndarray:
    """u = (x − x_c) L^{1/ν} (1 + stretch g) + shift g with g = (L / L_min)^{−ω}; without ω,
    plain (x − x_c) L^{1/ν}. The amplitudes are the corrections at the smallest size L_min."""
    u = (x - p[0]) * L ** (1.0 / p[1])
    if omega is not None:
        g = (L / L.min()) ** (-omega)
        u = u * (1.0 + p[4] * g) + p[3] * g
    return u


def _brackets(d: _Data, sx: np.ndarray) -> np.ndarray:
    """Index (into the sorted arrays) of the lower of the two points of each other size whose
    scaled x bracket each point; -1 where that size does not reach the point. (sizes, n)."""
    lower = np.full((d.sizes.size, sx.size), -1, dtype=np.int64)
    for k in range(d.sizes.size):
        a, b = d.starts[k], d.starts[k + 1]
        xs = sx[a:b]  # sorted: x is sorted within a size and u is increasing in x
        j = np.searchsorted(xs, sx, side="right") - 1
        j[sx == xs[-1]] = b - a - 2  # the last point is bracketed from below
        ok = (j >= 0) & (j <= b - a - 2)
        ok[a:b] = False  # only other sizes
        lower[k, ok] = j[ok] + a
    return lower


def _master_line(
    d: _Data, sx: np.ndarray, sy: np.ndarray, w: np.ndarray, lower: np.ndarray, use: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Houdayer–Hartmann: one weighted straight line through all bracketing points of the
    other sizes, evaluated at the point (centred there: Y is the intercept)."""
    valid = lower[:, use] >= 0
    idx = np.where(valid, lower[:, use], 0)[:, :, None] + np.arange(2)  # (sizes, N, 2)
    wj = np.where(valid[:, :, None], w[idx], 0.0)
    dx = sx[idx] - sx[use][None, :, None]
    yj = sy[idx]
    wdx = wj * dx
    m0, m1, m2 = wj.sum(axis=(0, 2)), wdx.sum(axis=(0, 2)), (wdx * dx).sum(axis=(0, 2))
    r0, r1 = (wj * yj).sum(axis=(0, 2)), (wdx * yj).sum(axis=(0, 2))
    det = m0 * m2 - m1 * m1  # first row of the inverse of [[m0, m1], [m1, m2]] by cofactors
    return (m2 * r0 - m1 * r1) / det, m2 / det


def _master_cubic(
    d: _Data, sx: np.ndarray, sy: np.ndarray, sdy: np.ndarray, lower: np.ndarray, use: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each other size's curve at the point by Lagrange interpolation through the four
    points around the bracket (three for a size with three points), errors propagated;
    the sizes are then averaged with inverse-variance weights.

    Every stencil passes through its knots, so Y and dY vary continuously while points
    slide past each other; S only jumps where a size's range begins or ends.
    """
    x0 = sx[use]
    kk, ii = np.nonzero(lower[:, use] >= 0)  # (other size, point) pairs
    a, b = d.starts[kk], d.starts[kk + 1]
    m = np.minimum(4, b - a)
    first = np.clip(lower[kk, np.flatnonzero(use)[ii]] - 1, a, b - m)
    present = np.arange(4) < m[:, None]  # (pairs, 4): a size of three points has three nodes
    idx = np.minimum(first[:, None] + np.arange(4), sx.size - 1)
    xs, t = sx[idx], x0[ii]
    # Lagrange basis polynomials of the stencil at t: coef_q = prod_{r != q} (t - x_r) / (x_q - x_r)
    pair = present[:, :, None] & present[:, None, :] & ~np.eye(4, dtype=bool)
    ratio = np.where(pair, t[:, None, None] - xs[:, None, :], 1.0) / np.where(
        pair, xs[:, :, None] - xs[:, None, :], 1.0
    )
    coef = ratio.prod(axis=2) * present
    Yk = (coef * sy[idx]).sum(axis=1)
    var_k = (coef**2 * sdy[idx] ** 2).sum(axis=1)
    num = np.bincount(ii, Yk / var_k, minlength=x0.size)
    den = np.bincount(ii, 1.0 / var_k, minlength=x0.size)
    return num / den, 1.0 / den


def _quality(
    d: _Data, y: np.ndarray, dy: np.ndarray, p: np.ndarray, omega: float | None, master: str
) -> tuple[float, int]:
    """Houdayer–Hartmann S at p = (x_c, ν, ζ, shift, stretch), and the number N of points in it."""
    sx = _scaled_x(d.x, d.L, p, omega)
    fy = d.L ** (-p[2] / p[1])
    sy, sdy = y * fy, dy * fy
    lower = _brackets(d, sx)
    use = (lower >= 0).any(axis=0)
    N = int(use.sum())
    if N == 0:
        return np.inf, 0
    if master == "line":
        Y, dY2 = _master_line(d, sx, sy, 1.0 / sdy**2, lower, use)
    else:
        Y, dY2 = _master_cubic(d, sx, sy, sdy, lower, use)
    terms = (sy[use] - Y) ** 2 / (sdy[use] ** 2 + dY2)
    return float(terms.mean()), N


def _check_master(master: str) -> None:
    require(master in MASTERS, "master", f"one of {MASTERS}", master)


def quality(
    x: Any,
    y: Any,
    L: Any,
    dy: Any,
    x_c: float,
    nu: float,
    zeta: float = 0.0,
    *,
    omega: float | None = None,
    shift: float = 0.0,
    stretch: float = 0.0,
    master: str = "cubic",
) -> tuple[float, int]:
    """Houdayer–Hartmann collapse quality S and the number of points in it, at given parameters.

    S ≈ 1 means the sizes agree on one curve within their errors; larger is worse.
    """
    require(nu > 0, "nu", "> 0", nu)
    _check_master(master)
    d = _prepare(x, y, L, dy, None, min_points=3)
    p = np.array([x_c, nu, zeta, shift, stretch], dtype=np.float64)
    return _quality(d, d.y, d.dy, p, omega, master)


def scale(
    x: Any,
    y: Any,
    L: Any,
    x_c: float,
    nu: float,
    zeta: float = 0.0,
    dy: Any = None,
    *,
    omega: float | None = None,
    shift: float = 0.0,
    stretch: float = 0.0,
) -> tuple[np.ndarray, ...]:
    """Scaled (u, y L^{−ζ/ν}[, dy L^{−ζ/ν}]) in the input order, u as in :func:`collapse`
    (with ``omega``, L_min is the smallest of the L passed here)."""
    require(nu > 0, "nu", "> 0", nu)
    La = np.asarray(L, dtype=np.float64)
    fy = La ** (-zeta / nu)
    p = np.array([x_c, nu, zeta, shift, stretch], dtype=np.float64)
    out = [_scaled_x(np.asarray(x, dtype=np.float64), La, p, omega), np.asarray(y) * fy]
    if dy is not None:
        out.append(np.asarray(dy) * fy)
    return tuple(out)


# --------------------------------------------------------------------------- the fit


@dataclasses.dataclass(frozen=True)
class CollapseResult:
    """Best parameters with bootstrap errors, S at the optimum, and the data to plot.

    The error of a parameter held fixed is 0 (ζ unless ``fit_zeta``; shift and stretch
    unless ``omega`` was given). ``bootstrap`` holds one (x_c, ν, ζ, shift, stretch) row
    per resample. ``at_bound`` names parameters whose optimum sits on a search bound
    (then their errors mean little: widen the bounds or the data). ``x``, ``y``, ``dy``
    and ``L`` are the input sorted by (L, x).
    """

    x_c: float
    nu: float
    zeta: float
    shift: float
    stretch: float
    x_c_err: float
    nu_err: float
    zeta_err: float
    shift_err: float
    stretch_err: float
    omega: float | None
    quality: float
    n_terms: int
    n_points: int
    fit_zeta: bool
    bootstrap: np.ndarray
    at_bound: tuple[str, ...]
    x: np.ndarray
    y: np.ndarray
    dy: np.ndarray
    L: np.ndarray
    method: str

    @property
    def sizes(self) -> np.ndarray:
        return np.unique(self.L)

    def scaled(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(u, y L^{−ζ/ν}, dy L^{−ζ/ν}) at the best fit, sorted by (L, x)."""
        sx, sy, sdy = scale(
            self.x,
            self.y,
            self.L,
            self.x_c,
            self.nu,
            self.zeta,
            self.dy,
            omega=self.omega,
            shift=self.shift,
            stretch=self.stretch,
        )
        return sx, sy, sdy

    def summary(self) -> dict[str, Any]:
        """Flat numbers for a metrics file or a table row."""
        out: dict[str, Any] = {}
        for name in _PARAMS:
            out[name] = getattr(self, name)
            out[f"{name}_err"] = getattr(self, f"{name}_err")
        out.update(
            omega=float("nan") if self.omega is None else self.omega,
            quality_S=self.quality,
            n_terms=self.n_terms,
            n_points=self.n_points,
            n_bootstrap=int(self.bootstrap.shape[0]),
            sizes=" ".join(f"{s:g}" for s in self.sizes),
            method=self.method,
            at_bound=" ".join(self.at_bound),
        )
        return out


@dataclasses.dataclass(frozen=True)
class _Search:
    """The parameter box, which parameters are free, and the rule that a fit use enough data."""

    lo: np.ndarray
    hi: np.ndarray
    free: np.ndarray  # bool mask over _PARAMS
    fixed: np.ndarray  # full parameter vector; free entries are overwritten
    step: np.ndarray  # initial Nelder-Mead step of every parameter
    min_terms: int
    omega: float | None
    master: str

    def full(self, free_values: np.ndarray) -> np.ndarray:
        p = self.fixed.copy()
        p[self.free] = free_values
        return p

    def objective(self, d: _Data, y: np.ndarray, dy: np.ndarray) -> Callable[[np.ndarray], float]:
        def f(v: np.ndarray) -> float:
            p = self.full(v)
            if np.any(p < self.lo) or np.any(p > self.hi):
                return np.inf
            if self.omega is not None and 1.0 + p[4] <= 0.0:
                return np.inf  # the stretch would reverse the order of the smallest size
            S, N = _quality(d, y, dy, p, self.omega, self.master)
            return S if N >= self.min_terms else np.inf

        return f

    def minimise(self, f: Callable[[np.ndarray], float], start: np.ndarray) -> tuple[np.ndarray, float]:
        """Nelder–Mead from the full vector ``start``, then once more from its end point with
        a smaller simplex (S is only piecewise smooth). Each free parameter is measured in
        units of its step, so one tolerance fits x_c, ν and the corrections alike."""
        step = self.step.copy()
        step[1] = 0.1 * start[1]  # ν moves in proportion to itself
        step = step[self.free]
        best = start[self.free]
        fbest = f(best)
        for shrink in (1.0, 0.25):
            origin, scale = best, step * shrink

            def g(z: np.ndarray, origin: np.ndarray = origin, scale: np.ndarray = scale) -> float:
                return f(origin + z * scale)

            dim = origin.size
            res = minimize(
                g,
                np.zeros(dim),
                method="Nelder-Mead",
                options={
                    "initial_simplex": np.vstack([np.zeros(dim), np.eye(dim)]),
                    "xatol": 1e-4,
                    "fatol": 1e-6,
                    "maxiter": 2000 * dim,
                },
            )
            if np.isfinite(res.fun) and res.fun <= fbest:
                best, fbest = origin + np.asarray(res.x) * scale, float(res.fun)
        return self.full(best), fbest

    def grid_starts(self, f: Callable[[np.ndarray], float], n_grid: int, n_starts: int) -> list[np.ndarray]:
        """Starting points: the ``n_starts`` lowest local minima of S on an (x_c, ν) grid
        (ν on a log grid), the other parameters at their start. S is bumpy, so one start
        from the grid's best point can end in a side minimum."""
        xs = np.linspace(self.lo[0], self.hi[0], n_grid)
        nus = np.geomspace(self.lo[1], self.hi[1], n_grid)
        values = np.full((n_grid, n_grid), np.inf)
        for i, x_c in enumerate(xs):
            for j, nu in enumerate(nus):
                p = self.fixed.copy()
                p[0], p[1] = x_c, nu
                values[i, j] = f(p[self.free])
        if not np.isfinite(values).any():
            raise ConfigError(
                field="x",
                value="no (x_c, nu) in the search box lets the sizes overlap",
                allowed=(
                    "data whose scaled x ranges (x - x_c) L^(1/nu) overlap between sizes for some "
                    f"x_c in [{self.lo[0]:g}, {self.hi[0]:g}] and nu in [{self.lo[1]:g}, {self.hi[1]:g}] "
                    f"(at least {self.min_terms} points bracketed by another size)"
                ),
            )
        padded = np.pad(values, 1, constant_values=np.inf)
        neighbours = np.stack(
            [
                padded[1 + di : 1 + di + n_grid, 1 + dj : 1 + dj + n_grid]
                for di in (-1, 0, 1)
                for dj in (-1, 0, 1)
                if di or dj
            ]
        )
        minima = np.argwhere(np.isfinite(values) & (values <= neighbours.min(axis=0)))
        minima = minima[np.argsort(values[minima[:, 0], minima[:, 1]])][:n_starts]
        starts = []
        for i, j in minima:
            p = self.fixed.copy()
            p[0], p[1] = xs[i], nus[j]
            starts.append(p)
        return starts


def collapse(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    L: Sequence[float] | np.ndarray,
    dy: Sequence[float] | np.ndarray | None = None,
    *,
    trials: Sequence[int] | np.ndarray | int | None = None,
    x_c0: float | None = None,
    nu0: float | None = None,
    zeta0: float = 0.0,
    fit_zeta: bool = False,
    omega: float | None = None,
    x_c_bounds: tuple[float, float] | None = None,
    nu_bounds: tuple[float, float] = (0.2, 5.0),
    zeta_bounds: tuple[float, float] = (-3.0, 3.0),
    correction_bounds: tuple[float, float] = (-1.0, 1.0),
    master: str = "cubic",
    min_overlap: float = 0.5,
    min_points: int = 3,
    n_bootstrap: int = 200,
    n_grid: int = 25,
    n_starts: int = 4,
    seed: int = 0,
    progress: bool = False,
) -> CollapseResult:
    """Fit y(x, L) ≈ L^{ζ/ν} f((x − x_c) L^{1/ν}) by minimising the Houdayer–Hartmann S.

    x, y, L (and dy) are flat arrays, one entry per (size, x) point. Give either ``dy``
    or ``trials`` (y is then a fraction of that many samples: binomial errors and a
    binomial bootstrap). ``x_c`` is searched within ``x_c_bounds`` (default: the x range
    that every size covers, since each size must straddle the transition), ν within
    ``nu_bounds``; ζ stays at ``zeta0`` unless ``fit_zeta``. ``master`` picks the
    estimate of the master curve (module docstring).

    Corrections to scaling: with ``omega`` (the leading correction exponent; not fitted,
    the data rarely fix it) the scaling variable becomes

        u = (x − x_c) L^{1/ν} (1 + stretch g) + shift g,   g = (L / L_min)^{−ω}:

    to first order the leading irrelevant field moves each size's effective critical
    point and rescales its width. ``shift`` and ``stretch`` are those corrections at the
    smallest size L_min, fitted within ``correction_bounds``; x_c and ν are then the
    L → ∞ values. Corrections to y's amplitude are not modelled. Report the fit with and
    without the correction, and for a neighbouring ω.

    Without ``x_c0``/``nu0``, Nelder–Mead starts from the ``n_starts`` lowest local minima
    of S on an ``n_grid`` x ``n_grid`` grid of (x_c, ν) and the best end point wins. A
    parameter set counts only if at least ``min_overlap`` of the points are bracketed by
    another size; without this rule S can drop by collapsing onto a handful of points.
    The errors are standard deviations over ``n_bootstrap`` refits of redrawn data, each
    started from the best fit, seeded by ``seed``.
    """
    require(0.0 < min_overlap <= 1.0, "min_overlap", "a fraction in (0, 1]", min_overlap)
    require(int(min_points) >= 3, "min_points", "an integer >= 3", min_points)
    require(int(n_bootstrap) >= 0, "n_bootstrap", "an integer >= 0 (>= 2 for errors)", n_bootstrap)
    require(int(n_grid) >= 3, "n_grid", "an integer >= 3", n_grid)
    require(int(n_starts) >= 1, "n_starts", "an integer >= 1", n_starts)
    _check_master(master)
    require(omega is None or omega > 0, "omega", "None or a correction exponent > 0", omega)
    for name, bounds in (
        ("nu_bounds", nu_bounds),
        ("zeta_bounds", zeta_bounds),
        ("correction_bounds", correction_bounds),
    ):
        require(len(bounds) == 2 and bounds[0] < bounds[1], name, "(lo, hi) with lo < hi", bounds)
    require(nu_bounds[0] > 0, "nu_bounds", "(lo, hi) with 0 < lo < hi", nu_bounds)
    d = _prepare(x, y, L, dy, trials, int(min_points))
    if x_c_bounds is None:
        x_c_bounds = d.common_range
    require(
        len(x_c_bounds) == 2 and x_c_bounds[0] < x_c_bounds[1],
        "x_c_bounds",
        "(lo, hi) with lo < hi",
        x_c_bounds,
    )
    lo = np.array(
        [x_c_bounds[0], nu_bounds[0], zeta_bounds[0], *[correction_bounds[0]] * 2], dtype=np.float64
    )
    hi = np.array(
        [x_c_bounds[1], nu_bounds[1], zeta_bounds[1], *[correction_bounds[1]] * 2], dtype=np.float64
    )
    free = np.array([True, True, bool(fit_zeta), omega is not None, omega is not None])
    for name, v, i in (("x_c0", x_c0, 0), ("nu0", nu0, 1), ("zeta0", zeta0, 2)):
        if v is not None:
            require(lo[i] <= v <= hi[i], name, f"a value in [{lo[i]:g}, {hi[i]:g}]", v)
    fixed = np.array([0.0, 1.0, float(zeta0), 0.0, 0.0])
    step = np.array([0.1 * (hi[0] - lo[0]), 0.1, 0.1, 0.05, 0.05])
    min_terms = max(2, int(np.ceil(min_overlap * d.x.size)))
    search = _Search(lo, hi, free, fixed, step, min_terms, omega, master)
    f = search.objective(d, d.y, d.dy)

    starts = []
    if x_c0 is not None and nu0 is not None:
        starts = [np.array([x_c0, nu0, zeta0, 0.0, 0.0])]
        if not np.isfinite(f(starts[0][free])):
            starts = []
    if not starts:
        starts = search.grid_starts(f, int(n_grid), int(n_starts))
    p, S = min((search.minimise(f, start) for start in starts), key=lambda fit: fit[1])
    _, N = _quality(d, d.y, d.dy, p, omega, master)

    boot = _bootstrap(d, search, p, int(n_bootstrap), seed, progress)
    err = boot.std(axis=0, ddof=1) if boot.shape[0] >= 2 else np.full(len(_PARAMS), np.nan)
    err[~free] = 0.0
    span = hi - lo
    at_bound = tuple(
        name for i, name in enumerate(_PARAMS) if free[i] and min(p[i] - lo[i], hi[i] - p[i]) < 1e-3 * span[i]
    )
    if at_bound:
        warnings.warn(
            f"collapse: {', '.join(at_bound)} at the edge of the search box "
            f"(x_c in {tuple(x_c_bounds)}, nu in {nu_bounds}); its error is not meaningful",
            stacklevel=2,
        )
    values = {name: float(p[i]) for i, name in enumerate(_PARAMS)}
    errors = {f"{name}_err": float(err[i]) for i, name in enumerate(_PARAMS)}
    return CollapseResult(
        **values,
        **errors,
        omega=None if omega is None else float(omega),
        quality=float(S),
        n_terms=N,
        n_points=int(d.x.size),
        fit_zeta=bool(fit_zeta),
        bootstrap=boot,
        at_bound=at_bound,
        x=d.x,
        y=d.y,
        dy=d.dy,
        L=d.L,
        method=f"houdayer-hartmann, {master} master curve",
    )


def _bootstrap(d: _Data, search: _Search, best: np.ndarray, n: int, seed: int, progress: bool) -> np.ndarray:
    """Refit redrawn data n times, each from the best fit; one row of _PARAMS per refit."""
    rng = np.random.default_rng(seed)
    rows = []
    it: Any = range(n)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="fss bootstrap", unit="fit")
    for _ in it:
        if d.trials is not None:
            k = rng.binomial(d.trials.astype(np.int64), np.clip(d.y, 0.0, 1.0))
            y, dy = binomial_errors(k, d.trials)
        else:
            y, dy = d.y + d.dy * rng.standard_normal(d.y.size), d.dy
        p, S = search.minimise(search.objective(d, y, dy), best)
        if np.isfinite(S):
            rows.append(p)
    return np.array(rows).reshape(-1, len(_PARAMS))
