"""Sweeps where one bad job does not sink the others.

In a ``-m`` multirun a job whose configuration is rejected records its error in its own
directory (``failed.json`` and ``train.log``) and returns, so the launcher goes on with
the other points. At the end of the sweep :class:`SweepSummary` (a Hydra callback) writes
``<sweep dir>/sweep_summary.json`` (every job, done or failed, with its error) and exits
with code 2 naming the failed jobs if there are any.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

FAILED = "failed.json"
SUMMARY = "sweep_summary.json"
log = logging.getLogger("physml")


def record_failure(run_dir: str | Path, kind: str, message: str, overrides: list[str]) -> None:
    """A rejected job's error, in its own directory and its log."""
    path = Path(run_dir)
    path.mkdir(parents=True, exist_ok=True)
    (path / FAILED).write_text(json.dumps({"error": kind, "message": message, "overrides": overrides}, indent=2))
    log.error("%s: %s", kind, message)


def job_overrides() -> list[str]:
    try:
        from hydra.core.hydra_config import HydraConfig

        return list(HydraConfig.get().overrides.task)
    except (ImportError, ValueError):
        return []


def in_multirun() -> bool:
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        return HydraConfig.get().mode == RunMode.MULTIRUN
    except (ImportError, ValueError):
        return False


def end_with_error(kind: str, exc: BaseException, code: int, run_dir: str | Path | None) -> None:
    """Print ``physml: <kind>: <message>``, keep it with the attempt and the job; exit unless in a sweep.

    In a multirun the job returns instead of exiting, so the launcher runs the other points;
    :class:`SweepSummary` exits non-zero at the end.
    """
    from physml.provenance import record_rejection

    message = str(exc)
    print(f"physml: {kind}: {message}", file=sys.stderr)
    record_rejection(f"{kind}: {message}")
    if in_multirun() and run_dir is not None:
        record_failure(run_dir, kind, message, job_overrides())
        return
    log.error("%s: %s", kind, message)
    sys.exit(code)


def summarise(sweep_dir: Path) -> dict[str, Any]:
    """Every job directory of a sweep: failed (a failed.json), done (a summary.json) or other."""
    jobs = []
    for job in sorted((p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)):
        entry: dict[str, Any] = {"job": job.name}
        if (job / FAILED).exists():
            entry.update(status="failed", **json.loads((job / FAILED).read_text()))
        else:
            entry["status"] = "done" if (job / "summary.json").exists() else "ended"  # simulate jobs write no summary
        jobs.append(entry)
    return {"sweep_dir": str(sweep_dir), "jobs": jobs, "failed": [j["job"] for j in jobs if j["status"] == "failed"]}


class SweepSummary(Callback):
    """Hydra callback: write the sweep summary and exit non-zero when a job failed."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.exists():
            return
        summary = summarise(sweep_dir)
        (sweep_dir / SUMMARY).write_text(json.dumps(summary, indent=2))
        failed = [j for j in summary["jobs"] if j["status"] == "failed"]
        if failed:
            lines = [f"  job {j['job']} ({' '.join(j.get('overrides', []))}): {j['error']}: {j['message']}" for j in failed]
            print(f"physml: {len(failed)} of {len(summary['jobs'])} sweep jobs failed (see {sweep_dir / SUMMARY}):",
                  *lines, sep="\n", file=sys.stderr)
            sys.exit(2)
