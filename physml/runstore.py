"""The layout of a run directory: the one module that knows where a run keeps what.

A run directory holds the composed config (``.hydra/``: ``config.yaml``,
``overrides.yaml``), ``checkpoints/`` (``last.ckpt`` and the best), the CSV training log
(``csv/version_N/metrics.csv``, one version per attempt), ``predictions.zarr``,
``figures/`` (PNGs, CSV tables, ``analysis_metrics.json``) and ``summary.json`` (headline
metrics, dataset fingerprints, the direction in which each validation metric improves,
and tracker run ids). ``train.py`` writes runs through :class:`RunStore`; ``physml
report`` and its studies read them through it and nothing else.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from physml.analysis.common import AnalysisResult, save_figure, write_table

CONFIG = Path(".hydra") / "config.yaml"
OVERRIDES = Path(".hydra") / "overrides.yaml"
SUMMARY = "summary.json"
PREDICTIONS = "predictions.zarr"
FIGURES = "figures"
CHECKPOINTS = "checkpoints"

#: per-epoch metrics: epoch -> metric -> value
History = dict[int, dict[str, float]]


class RunStore:
    """Read and write one run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # ---- where things are ---------------------------------------------------------------
    @property
    def predictions_path(self) -> Path:
        return self.path / PREDICTIONS

    @property
    def figures_dir(self) -> Path:
        return self.path / FIGURES

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoint_dir / "last.ckpt"

    def is_run(self) -> bool:
        return (self.path / CONFIG).exists()

    def holds_results(self) -> bool:
        """True once a run has written a checkpoint, predictions or its summary (never overwrite them)."""
        return self.last_checkpoint.exists() or self.predictions_path.exists() or (self.path / SUMMARY).exists()

    # ---- what was asked -----------------------------------------------------------------
    def config(self) -> Any:
        from omegaconf import OmegaConf

        return OmegaConf.load(self.path / CONFIG)

    def overrides(self) -> list[str]:
        import yaml

        path = self.path / OVERRIDES
        if not path.exists():
            return []
        return [str(o) for o in (yaml.safe_load(path.read_text()) or [])]

    # ---- what happened ------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        path = self.path / SUMMARY
        return json.loads(path.read_text()) if path.exists() else {}

    def write_summary(
        self,
        metrics: Mapping[str, float],
        datasets: Mapping[str, str],
        directions: Mapping[str, str],
        trackers: Mapping[str, str] | None = None,
    ) -> Path:
        path = self.path / SUMMARY
        record = {
            "metrics": dict(metrics),
            "datasets": dict(datasets),
            "metric_directions": dict(directions),
            "trackers": dict(trackers or {}),
            "run_dir": str(self.path),
        }
        path.write_text(json.dumps(record, indent=2))
        return path

    def history(self) -> History:
        """Per-epoch metrics of every ``csv/version_*/metrics.csv``, attempts merged.

        A resumed run writes a new version; for an epoch that several versions hold, the
        later version wins (it is the attempt whose weights continued).
        """
        files = sorted(
            self.path.glob("csv/version_*/metrics.csv"), key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0)
        )
        merged: History = {}
        for path in files:
            epochs: dict[int, dict[str, float]] = defaultdict(dict)
            with path.open(newline="") as fh:
                for row in csv.DictReader(fh):
                    if not row.get("epoch"):
                        continue
                    epoch = int(float(row["epoch"]))
                    for key, value in row.items():
                        if key in ("epoch", "step") or value in ("", None) or not key.startswith(("train/", "val/")):
                            continue
                        epochs[epoch][key] = float(value)
            for epoch, values in epochs.items():
                if values:
                    merged[epoch] = dict(values)
        return dict(sorted(merged.items()))

    def best_metrics(self, directions: Mapping[str, str] | None = None) -> dict[str, float]:
        """Best value over epochs of each validation metric whose direction the run declared.

        ``val/acc`` with direction "max" gives ``val/acc_max``; a metric without a declared
        direction is not ranked (its best epoch is not guessed from its name).
        """
        if directions is None:
            directions = self.summary().get("metric_directions", {})
        series: dict[str, list[float]] = defaultdict(list)
        for values in self.history().values():
            for key, value in values.items():
                if key in directions and math.isfinite(value):
                    series[key].append(value)
        return {
            f"{key}_{directions[key]}": (max(v) if directions[key] == "max" else min(v)) for key, v in series.items()
        }

    def predictions(self) -> dict[str, dict[str, Any]]:
        from physml.predictions import load_predictions

        return load_predictions(self.predictions_path)

    # ---- analysis output ----------------------------------------------------------------
    def save_analysis(self, result: AnalysisResult, out_dir: Path | None = None) -> dict[str, Path]:
        """Write figures (PNG), tables (CSV) and metrics (JSON); returns figure name -> path."""
        return save_result(result, out_dir or self.figures_dir)


def save_result(result: AnalysisResult, out_dir: Path) -> dict[str, Path]:
    """Figures as PNGs (closed after saving), tables as CSVs, metrics as ``analysis_metrics.json``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: save_figure(fig, out_dir / f"{name}.png") for name, fig in result.figures.items()}
    for name, rows in result.tables.items():
        write_table(rows, out_dir / f"{name}.csv")
    (out_dir / "analysis_metrics.json").write_text(json.dumps(result.metrics, indent=2, sort_keys=True))
    if result.notes:
        (out_dir / "notes.txt").write_text("\n".join(result.notes) + "\n")
    return paths


def find_runs(root: Path) -> list[Path]:
    """Run directories at or below ``root`` (DDP helper dirs such as .pl_hydra_rank_1 skipped)."""
    root = Path(root)
    if (root / CONFIG).exists():
        return [root]
    found = [p.parent.parent for p in root.rglob(str(CONFIG))]
    runs = [p for p in found if not any(part.startswith(".") for part in p.relative_to(root).parts)]

    def order(p: Path) -> tuple:
        return tuple(int(s) if s.isdigit() else math.inf for s in p.relative_to(root).parts) + (str(p),)

    return sorted(runs, key=order)


@dataclass
class RunRecord:
    """What a report and its studies know about one run (read through the RunStore)."""

    path: Path
    config: Any
    overrides: list[str]
    metrics: dict[str, float] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    trackers: dict[str, str] = field(default_factory=dict)
    datasets: dict[str, str] = field(default_factory=dict)  # split -> fingerprint

    @property
    def system(self) -> str:
        from omegaconf import OmegaConf

        return str(OmegaConf.select(self.config, "system.name", default="") or "")

    def setting(self, key: str, default: Any = None) -> Any:
        """A resolved config value of the run, e.g. ``setting("system.M")``."""
        from omegaconf import OmegaConf

        return OmegaConf.select(self.config, key, default=default, throw_on_resolution_failure=False)

    def predictions(self) -> dict[str, dict[str, Any]]:
        return RunStore(self.path).predictions()
