"""Cross-run studies: analyses of several runs together, run by `physml report`.

A study sees runs only as :class:`~physml.runstore.RunRecord` objects (their config,
overrides, metrics, tables and predictions, all read through the run store), never their
files. A system names its studies in its spec; ``physml report`` offers every run of that
system to each study, which picks the groups of runs it applies to.

Also here: the one aggregator of a metric over runs (mean, sample std, count), which the
report's seed table and every study use.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np

from physml.analysis.common import AnalysisResult
from physml.runstore import RunRecord


def aggregate(values: Iterable[float]) -> tuple[float, float, int]:
    """(mean, sample standard deviation, count) of finite values; std is NaN for one value."""
    v = np.array([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan, 0
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan, int(v.size)


class Study(ABC):
    """A cross-run analysis; subclasses set ``name`` and implement ``groups`` and ``__call__``."""

    name: ClassVar[str]

    @abstractmethod
    def groups(self, runs: Sequence[RunRecord]) -> list[list[RunRecord]]:
        """The sets of runs to analyse together (none: the study does not apply)."""

    @abstractmethod
    def __call__(self, runs: Sequence[RunRecord]) -> AnalysisResult:
        """Metrics, tables and figures of one set of runs."""


class SizeStudy(Study):
    """A metric against the system size over the runs of a multirun (mean ± std over seeds)."""

    name = "size"
    size_key: ClassVar[str]  # e.g. "system.M"
    metric: ClassVar[str]  # e.g. "test/acc"
    size_label: ClassVar[str] = "system size"
    #: published values to draw next to ours: size -> value
    reference: ClassVar[dict[int, float]] = {}
    reference_label: ClassVar[str] = "review"

    def chance(self, runs: Sequence[RunRecord]) -> float | None:
        """The chance level of the metric, if it has one (drawn as a line)."""
        return None

    def groups(self, runs: Sequence[RunRecord]) -> list[list[RunRecord]]:
        having = [r for r in runs if self.metric in r.metrics and r.setting(self.size_key) is not None]
        sizes = {r.setting(self.size_key) for r in having}
        return [having] if len(sizes) >= 2 else []

    def table(self, runs: Sequence[RunRecord]) -> list[dict[str, float]]:
        by_size: dict[int, list[float]] = defaultdict(list)
        for run in runs:
            by_size[int(run.setting(self.size_key))].append(run.metrics[self.metric])
        rows = []
        for size, values in sorted(by_size.items()):
            mean, std, n = aggregate(values)
            rows.append({"size": size, "mean": mean, "std": std, "n": n})
        return rows

    def __call__(self, runs: Sequence[RunRecord]) -> AnalysisResult:
        rows = self.table(runs)
        result = AnalysisResult(tables={f"{self.name}_table": rows})
        for row in rows:
            result.metrics[f"{self.name}/{self.metric}@{row['size']}"] = row["mean"]
        result.figures[self.name] = self.figure(rows, self.chance(runs))
        return result

    def figure(self, rows: list[dict[str, float]], chance: float | None) -> plt.Figure:
        fig, ax = plt.subplots(figsize=(5.5, 4))
        ax.errorbar(
            [r["size"] for r in rows],
            [r["mean"] for r in rows],
            yerr=[0.0 if math.isnan(r["std"]) else r["std"] for r in rows],
            fmt="o-",
            capsize=3,
            label="physml (mean ± std over runs)",
        )
        if self.reference:
            ax.plot(list(self.reference), list(self.reference.values()), "k^", mfc="none", label=self.reference_label)
        if chance is not None:
            ax.axhline(chance, color="gray", ls=":", label=f"chance = {chance:.3f}")
        ax.set_xlabel(self.size_label)
        ax.set_ylabel(self.metric)
        ax.legend(fontsize=8)
        return fig


#: overrides that repeat a run without changing what is studied
SEED_KEYS = ("seed", "system.split_seed")


def setting_label(run: RunRecord, ignore: Sequence[str] = SEED_KEYS) -> str:
    """The run's overrides without the ignored keys: runs with equal labels are repetitions."""
    kept = [o for o in run.overrides if o.split("=", 1)[0].lstrip("+~") not in ignore]
    return " ".join(kept) or "default"
