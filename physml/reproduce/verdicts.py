"""Claims of the review and the verdicts computed from physml's numbers.

A :class:`Claim` states one result of the review: its value there, the criterion physml
must meet at the study's scale, and a function that computes physml's value from the
study's runs. The criterion is fixed in the study catalogue before any run; the verdict
follows from the numbers:

* **pass** — the criterion holds and is not within one standard deviation (over seeds)
  of flipping;
* **fail** — the criterion does not hold (and not within one standard deviation), with
  the reason;
* **unreliable** — too few runs finished, the value is within one standard deviation of
  the threshold, or the analysis flagged the run as unable to support the number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from physml.analysis.studies import aggregate

PASS, FAIL, UNRELIABLE = "pass", "fail", "unreliable"
#: training seeds a number needs before its verdict can be trusted (issue: >= 3 where training costs minutes)
MIN_SEEDS = 3


@dataclass
class Verdict:
    """physml's value for a claim, the verdict and why."""

    value: str
    verdict: str
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass
class Claim:
    """One result of the review with its criterion at laptop scale."""

    key: str
    text: str
    review: str
    criterion: str
    evaluate: Callable[[Any], Verdict]  # receives the StudyResults of its study

    def row(self, verdict: Verdict) -> dict[str, Any]:
        return {"claim": self.key, "text": self.text, "review": self.review, "criterion": self.criterion, **asdict(verdict)}


def fmt(mean: float, std: float, n: int, scale: float = 1.0, digits: int = 3, unit: str = "") -> str:
    if not math.isfinite(mean):
        return "—"
    spread = f" ± {std * scale:.{digits}g}" if math.isfinite(std) else ""
    return f"{mean * scale:.{digits}g}{spread}{unit} (n = {n})"


def threshold(
    values: Sequence[float],
    limit: float,
    at_least: bool = True,
    scale: float = 1.0,
    unit: str = "",
    min_runs: int = MIN_SEEDS,
    flags: Sequence[str] = (),
) -> Verdict:
    """Verdict of "mean >= limit" (or <= with ``at_least=False``) over runs (seeds)."""
    mean, std, n = aggregate(values)
    value = fmt(mean, std, n, scale, unit=unit)
    numbers = {"mean": mean, "std": std, "n": n, "limit": limit}
    if n == 0:
        return Verdict(value, FAIL, "no run produced the number (see the study's logs)", numbers)
    ok = mean >= limit if at_least else mean <= limit
    margin = abs(mean - limit)
    wanted = f"{'≥' if at_least else '≤'} {limit * scale:g}{unit}"
    if flags:
        return Verdict(value, UNRELIABLE, "; ".join(flags), numbers)
    if n < min_runs:
        return Verdict(value, UNRELIABLE, f"only {n} of {min_runs} runs finished", numbers)
    if math.isfinite(std) and margin < std:
        return Verdict(value, UNRELIABLE, f"within one standard deviation of {wanted}", numbers)
    if ok:
        return Verdict(value, PASS, f"{value} meets {wanted}", numbers)
    return Verdict(value, FAIL, f"{value} misses {wanted} by {margin * scale:.3g}{unit}", numbers)


def condition(ok: bool | None, value: str, reason_ok: str, reason_fail: str, flags: Sequence[str] = ()) -> Verdict:
    """Verdict of a yes/no criterion (None: could not be computed)."""
    if flags:
        return Verdict(value, UNRELIABLE, "; ".join(flags))
    if ok is None:
        return Verdict(value, FAIL, reason_fail)
    return Verdict(value, PASS if ok else FAIL, reason_ok if ok else reason_fail)
