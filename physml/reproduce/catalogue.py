"""The review's results as studies: the runs that reproduce each, and the claims judged on them.

Criteria are the issue's laptop-scale criteria, fixed here before any run; ``scale=paper``
runs the same experiment files at the review's sizes (GPU-hours, see the README).
Seeds: three wherever training costs minutes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from physml.analysis.studies import aggregate
from physml.reproduce.runner import Job, Study, StudyResults
from physml.reproduce.verdicts import FAIL, Claim, Verdict, condition, fmt, threshold

SEEDS = (0, 1, 2)


def _seeds(experiment: str, *extra: str, prefix: str = "") -> list[Job]:
    return [Job(f"{prefix}seed{s}", (f"experiment={experiment}", f"seed={s}", *extra)) for s in SEEDS]


def _flags(runs: list[Any]) -> list[str]:
    """Warnings the runs' analyses raised (metrics named warning/...)."""
    found = sorted({k.split("/", 1)[1] for r in runs for k in r.metrics if k.startswith("warning/")})
    return [f"the analysis warns: {', '.join(found)}"] if found else []


# ---- percolation ---------------------------------------------------------------------------
def _p_class(results: StudyResults) -> Verdict:
    return threshold(results.metric("test/acc"), 0.95, scale=100, unit=" %")


def _p_regression(results: StudyResults) -> Verdict:
    mean, std, n = aggregate(results.metric("test/mse"))
    verdict = threshold(results.metric("test/mse"), 1e-4, at_least=False)
    verdict.value = f"{mean:.2e} ± {std:.1e} (n = {n})" if n else "—"
    return verdict


def _errors_like_rule(results: StudyResults) -> Verdict:
    ratios = [
        abs(r.metrics["proxy/net_wrong"] / r.metrics["proxy/proxy_wrong"] - 1.0)
        for r in results.runs()
        if r.metrics.get("proxy/proxy_wrong", 0) > 0 and "proxy/net_wrong" in r.metrics
    ]
    return threshold(ratios, 0.10, at_least=False, scale=100, unit=" %")


def _agrees_with_rule(results: StudyResults) -> Verdict:
    return threshold(results.metric("proxy/net_agrees_with_proxy"), 0.90, scale=100, unit=" %")


def _pc_near_baseline(results: StudyResults) -> Verdict:
    gaps = [
        abs(r.metrics["test_pc/acc"] - r.metrics["test_pc/majority_baseline"])
        for r in results.runs()
        if "test_pc/acc" in r.metrics
    ]
    verdict = threshold(gaps, 0.05, at_least=False, scale=100, unit=" points")
    pc = aggregate(results.metric("p_c_L"))
    verdict.reason += f"; p_c(L) measured from the data: {pc[0]:.4f}"
    return verdict


PERCOLATION = [
    Study(
        "percolation_p_classification",
        "§3, Fig. 1c: ResNet18 classifies p (31 classes), L = 32",
        lambda scale: _seeds("percolation_p_classification"),
        [Claim("p_class_acc", "test accuracy, 31 classes of p", "99.323 % ± 0.003 (max val., L = 100)", "≥ 95 %", _p_class)],
    ),
    Study(
        "percolation_p_regression",
        "§3: ResNet18 regresses p, L = 32",
        lambda scale: _seeds("percolation_p_regression"),
        [Claim("p_mse", "test MSE of p", "6.2e-5 ± 1.2e-5 (val., L = 100)", "≤ 1e-4", _p_regression)],
    ),
    Study(
        "percolation_spanning",
        "§3, Fig. 2: spanning vs non-spanning, and the p-proxy",
        lambda scale: _seeds("percolation_spanning"),
        [
            Claim("errors_like_rule", "|network errors / p-only-rule errors − 1|", "2282.5 vs 2280 (0.1 %)", "≤ 10 %", _errors_like_rule),
            Claim("agrees_with_rule", "network agrees with the p-only rule", "— (implied: nearly always)", "≥ 90 %", _agrees_with_rule),
            Claim(
                "pc_baseline",
                "fixed-p_c(L) accuracy − majority baseline",
                "~50 % (the network cannot tell)",
                "within 5 points",
                _pc_near_baseline,
            ),
        ],
    ),
]


# ---- Anderson ----------------------------------------------------------------------------------
ANDERSON_SIZES = (8, 12, 16)


def _anderson_jobs(scale: str) -> list[Job]:
    jobs = [
        job
        for M in ANDERSON_SIZES
        for job in _seeds("anderson_w_classification", f"system.M={M}", prefix=f"w_M{M}_")
    ]
    jobs += _seeds("anderson_volume_3d", "system.M=12", prefix="volume_M12_")
    jobs += _seeds("anderson_phase", f"system.M={ANDERSON_SIZES[-1]}", prefix=f"phase_M{ANDERSON_SIZES[-1]}_")
    return jobs


def _rises_with_M(results: StudyResults) -> Verdict:
    rows, ok, chance = [], True, 1 / 17
    previous = -math.inf
    for M in ANDERSON_SIZES:
        mean, std, n = aggregate(results.metric("test/acc", f"w_M{M}_"))
        rows.append(f"M = {M}: {fmt(mean, std, n, 100, unit=' %')}")
        sigma = std if math.isfinite(std) and std > 0 else math.nan
        above = n >= 2 and math.isfinite(sigma) and (mean - chance) >= 5 * sigma
        ok = ok and n > 0 and mean > previous and above
        previous = mean
    value = "; ".join(rows)
    return condition(
        ok,
        value,
        "accuracy rises with M and every size is ≥ 5σ above chance (5.9 %)",
        "accuracy does not rise with M at every step, or a size is < 5σ above chance (5.9 %)",
        _flags(results.runs()),
    )


def _per_class(results: StudyResults, prefix: str) -> dict[float, float]:
    acc: dict[float, list[float]] = defaultdict(list)
    for run in results.runs(prefix):
        for row in run.tables.get("per_w", []):
            if "acc" in row and math.isfinite(row["acc"]):
                acc[float(row["w"])].append(float(row["acc"]))
    return {w: float(np.mean(v)) for w, v in acc.items()}


def _extremes_best(results: StudyResults) -> Verdict:
    prefix = f"w_M{ANDERSON_SIZES[-1]}_"
    acc = _per_class(results, prefix)
    if not acc:
        return Verdict("—", FAIL, "no per-w accuracies")
    ranked = sorted(acc, key=lambda w: -acc[w])
    top = ranked[: max(1, len(ranked) // 4)]
    value = f"w = 15: {100 * acc.get(15.0, math.nan):.0f} %, w = 18: {100 * acc.get(18.0, math.nan):.0f} %; best: {top}"
    return condition(15.0 in top and 18.0 in top, value, "both among the best quarter of classes",
                     "not both among the best quarter of classes")


def _adjacent(results: StudyResults) -> Verdict:
    return threshold(results.metric("test/adjacent_fraction_of_errors", f"w_M{ANDERSON_SIZES[-1]}_"), 0.70, scale=100, unit=" %")


def _phase_far(results: StudyResults) -> Verdict:
    return threshold(results.metric("test/acc_far_from_w_c", f"phase_M{ANDERSON_SIZES[-1]}_"), 0.85, scale=100, unit=" %")


def _beats_ipr(results: StudyResults) -> Verdict:
    prefix = f"w_M{ANDERSON_SIZES[-1]}_"
    gains = [r.metrics["test/acc"] - r.metrics["baseline/ipr_acc"] for r in results.runs(prefix) if "baseline/ipr_acc" in r.metrics]
    verdict = threshold(gains, 0.0, scale=100, unit=" points")
    ipr = aggregate(results.metric("baseline/ipr_acc", prefix))
    verdict.value = f"{verdict.value} over the IPR-only classifier ({100 * ipr[0]:.1f} %)"
    if verdict.verdict == FAIL:
        verdict.reason = "the network does not beat the IPR-only baseline at this scale: " + verdict.reason
    return verdict


def _same_states(results: StudyResults) -> Verdict:
    image, volume = results.runs("w_M12_"), results.runs("volume_M12_")
    if not image or not volume:
        return Verdict("—", FAIL, "a route has no finished run")
    a = aggregate(r.metrics["test/acc"] for r in image)
    b = aggregate(r.metrics["test/acc"] for r in volume)
    value = f"image {fmt(*a, 100, unit=' %')}, volume {fmt(*b, 100, unit=' %')} (M = 12)"
    stores = {r.datasets.get("train") for r in image + volume}
    return condition(len(stores) == 1 and None not in stores, value,
                     f"both routes read the same stored states (dataset {stores.pop()})",
                     f"the routes read different datasets: {sorted(map(str, stores))}")


ANDERSON = [
    Study(
        "anderson",
        "§4, Fig. 4: 17 disorders from E = 0 eigenstates, M = 8/12/16; 3D route; phase",
        _anderson_jobs,
        [
            Claim("rises_with_M", "17-way accuracy against M", "15.9 % (M = 20), 25.7 % (40), 43.3 % (100)", "rises with M; each ≥ 5σ above chance", _rises_with_M),
            Claim("extremes", "w = 15 and w = 18 among the best-classified", "yes (Fig. 4a)", "both in the best quarter", _extremes_best),
            Claim("adjacent", "errors to an adjacent w", "mostly adjacent", "≥ 70 %", _adjacent),
            Claim("phase", "phase accuracy for |w − w_c| ≥ 1", "result not shown", "≥ 85 %", _phase_far),
            Claim("ipr", "accuracy gain over the IPR-only classifier", "—", "> 0 (beats IPR)", _beats_ipr),
            Claim("routes", "image and 3D-volume routes on the same states", "— (beyond the review)", "same dataset", _same_states),
        ],
    ),
]


# ---- J1-J2 ---------------------------------------------------------------------------------------
J1J2_SIZES = (16, 30)
J1J2_J2 = (0.0, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0)  # the laptop grid (conf/scale_size/laptop)


def _j1j2_jobs(scale: str) -> list[Job]:
    return [
        Job(f"L{L}_{region}_seed{s}", (f"experiment=j1j2_vae_{region.lower()}", f"system.L={L}", f"seed={s}"))
        for L in J1J2_SIZES
        for region in ("low_J2", "high_J2")
        for s in SEEDS
    ]


def _j1j2_reference(scale: str, out: Path) -> dict[str, Any]:
    """The Binder-cumulant boundary (L = 16 and 32, no learning), cached in the study's data store."""
    from physml.reference import j1j2_boundary

    rows = j1j2_boundary(J1J2_J2, out / "data", sizes=(16, 32), chains=8, progress=False)
    return {"reference": {r["J2"]: r for r in rows}}


def _ml_boundary(results: StudyResults, key: str, source: str) -> dict[float, tuple[float, float, int]]:
    """J2 -> (mean, std, n) over seeds of the ML T_c, each J2 from the region whose phase orders there."""
    values: dict[float, list[float]] = defaultdict(list)
    if source == "midpoint":
        for run in results.runs(f"L{J1J2_SIZES[-1]}_"):
            region = str(run.setting("system.region"))
            for row in run.tables.get("boundary", []):
                j2 = round(float(row["J2"]), 5)
                if (j2 < 0.5) == (region == "low_J2") and math.isfinite(float(row[key])):
                    values[j2].append(float(row[key]))
    else:
        for output in results.outputs:
            if output.name == "eps_crossing":
                for row in output.result.tables.get("eps_crossing", []):
                    if math.isfinite(float(row["T_c_crossing"])):
                        values[round(float(row["J2"]), 5)].append(float(row["T_c_crossing"]))
    return {j2: aggregate(v) for j2, v in values.items()}


def _within_reference(results: StudyResults, source: str) -> Verdict:
    reference = results.extras.get("reference", {})
    ml = _ml_boundary(results, "T_c_eps", source)
    within = {"below": 0, "above": 0}
    cells = []
    for j2, ref in sorted(reference.items()):
        if j2 not in ml or not math.isfinite(ref["T_c"]):
            continue
        mean = ml[j2][0]
        rel = mean / ref["T_c"] - 1
        ok = abs(rel) <= 0.05
        within["below" if j2 < 0.5 else "above"] += ok
        cells.append(f"{j2:g}: {mean:.3f}/{ref['T_c']:.3f} ({100 * rel:+.1f} %)")
    total = within["below"] + within["above"]
    value = f"{total} J2 within 5 % ({within['below']} below 1/2, {within['above']} above); " + "; ".join(cells)
    ok = total >= 8 and within["below"] >= 3 and within["above"] >= 3
    runs = results.runs(f"L{J1J2_SIZES[-1]}_")
    return condition(ok if cells else None, value, "≥ 8 J2 within 5 %, ≥ 3 on each side of 1/2",
                     "fewer than 8 J2 within 5 % of the Binder reference, or fewer than 3 on a side", _flags(runs))


def _three_phases(results: StudyResults) -> Verdict:
    maps = [o for o in results.outputs if o.name == "phase_map" and all(str(J1J2_SIZES[-1]) in str(r.setting("system.L")) for r in o.runs)]
    if not maps:
        return Verdict("—", FAIL, "no low-J2/high-J2 pair of runs at L = 30 finished")
    fractions = [o.result.metrics for o in maps]
    present = [all(f.get(f"phase_map/fraction_{p}", 0) > 0 for p in ("ferromagnet", "superantiferromagnet", "paramagnet")) for f in fractions]
    mean = {p: np.mean([f.get(f"phase_map/fraction_{p}", 0) for f in fractions]) for p in ("ferromagnet", "superantiferromagnet", "paramagnet")}
    value = ", ".join(f"{p} {100 * v:.0f} %" for p, v in mean.items()) + f" of the grid ({len(maps)} maps)"
    return condition(all(present), value, "all three phases appear in every combined map", "a phase is missing from a combined map")


J1J2 = [
    Study(
        "j1j2",
        "§5, Figs. 5/6: single-region VAEs map the J1-J2 phases; L = 16 and 30",
        _j1j2_jobs,
        [
            Claim("boundary_midpoint", "T_c(J2) from ε (midpoint, L = 30) vs the Binder reference (L = 16/32)",
                  "ε boundary follows the phase diagram", "≥ 8 J2 within 5 %, ≥ 3 each side", lambda r: _within_reference(r, "midpoint")),
            Claim("boundary_crossing", "T_c(J2) from the L = 16/30 crossing of ε's order parameter vs the reference",
                  "— (beyond the review)", "≥ 8 J2 within 5 %, ≥ 3 each side", lambda r: _within_reference(r, "crossing")),
            Claim("three_phases", "ferro-, superantiferro- and paramagnet in the combined map", "three phases (Fig. 6)", "all three present", _three_phases),
        ],
        extras=_j1j2_reference,
    ),
]


# ---- LACBED ---------------------------------------------------------------------------------------
def _r_stat(results: StudyResults, key: str, limit: float) -> Verdict:
    verdict = threshold(results.metric(key), limit)
    n = aggregate(results.metric("test/n"))[0]
    if math.isfinite(n):
        verdict.reason += f"; {n:.0f} test crystals per run"
    return verdict


LACBED = [
    Study(
        "lacbed",
        "§6, Figs. 7/8: pix2pix predicts LACBED patterns from projected potentials (64 px, random cubic crystals)",
        lambda scale: _seeds("lacbed_pix2pix"),
        [
            Claim("R_mean", "mean R over test crystals", "0.934 (12 454 ICSD crystals, 128 px)", "≥ 0.90", lambda r: _r_stat(r, "test/R_mean", 0.90)),
            Claim("R_median", "median R over test crystals", "0.990", "≥ 0.95", lambda r: _r_stat(r, "test/R_median", 0.95)),
        ],
    ),
]


# ---- Potts (the fifth system: the review's introduction, Carrasquilla & Melko 2017) -----------------
POTTS_SIZES = (8, 16, 32)


def _potts_extrapolated(results: StudyResults) -> Verdict:
    outputs = [o for o in results.outputs if o.name == "tc_vs_size"]
    if not outputs:
        return Verdict("—", FAIL, "no size study (fewer than two sizes finished)")
    m = outputs[0].result.metrics
    rel = m.get("tc/extrapolated_relative_error", math.nan)
    value = f"{m.get('tc/extrapolated', math.nan):.4f} ± {m.get('tc/extrapolated_err', math.nan):.4f} (exact {m.get('tc/exact', math.nan):.4f}, {100 * rel:+.1f} %)"
    return condition(abs(rel) <= 0.02 if math.isfinite(rel) else None, value, "within 2 % of the exact T_c", "more than 2 % from the exact T_c")


def _potts_largest(results: StudyResults) -> Verdict:
    errors = [abs(r.metrics["tc/relative_error"]) for r in results.runs(f"L{POTTS_SIZES[-1]}_") if "tc/relative_error" in r.metrics]
    return threshold(errors, 0.05, at_least=False, scale=100, unit=" %")


POTTS = [
    Study(
        "potts",
        "The classic test (Carrasquilla & Melko 2017): a CNN trained far from T_c locates the 2D Potts (q = 2) transition",
        lambda scale: [Job(f"L{L}_seed{s}", ("experiment=potts_phase", f"system.L={L}", f"seed={s}")) for L in POTTS_SIZES for s in SEEDS],
        [
            Claim("tc_largest", f"|T_c(L = {POTTS_SIZES[-1]}) / T_c − 1| where P(ordered) = 1/2", "— (exact T_c = 1/ln(1+√2))", "≤ 5 %", _potts_largest),
            Claim("tc_extrapolated", "T_c extrapolated over L = 8/16/32 with the exact ν", "—", "within 2 %", _potts_extrapolated),
        ],
    ),
]

#: every study, in the order the scorecard lists them
STUDIES: dict[str, Study] = {s.name: s for s in [*PERCOLATION, *ANDERSON, *J1J2, *LACBED, *POTTS]}
