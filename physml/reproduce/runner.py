"""Run the studies of the scorecard: each job a ``train.py`` process, resumable, with progress.

A study's jobs run one after the other as subprocesses (``python train.py <overrides>
scale=<scale> hydra.run.dir=<out>/<study>/<job>``), sharing one data directory
(``<out>/data``), so studies that read the same states generate them once. A job whose
run directory holds a ``summary.json`` is finished and skipped; one with a checkpoint
but no summary is resumed (``ckpt_path=last``). A failed job is recorded, the others go
on. Wall times are kept per job in ``<out>/<study>/timing.json`` across invocations.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from physml.reproduce.verdicts import Claim
from physml.runstore import RunRecord, RunStore

TRAIN = Path(__file__).resolve().parents[2] / "train.py"


@dataclass(frozen=True)
class Job:
    """One training run of a study: its folder name and its Hydra overrides."""

    name: str
    overrides: tuple[str, ...]


@dataclass
class Study:
    """One result of the review: the runs that reproduce it and the claims judged on them."""

    name: str
    title: str
    jobs: Callable[[str], list[Job]]  # scale -> jobs
    claims: list[Claim]
    #: computations outside training that the claims need (e.g. a Monte Carlo reference), cached under out
    extras: Callable[[str, Path], dict[str, Any]] | None = None
    budget: str = ""  # what the laptop scale costs, for the scorecard


@dataclass
class StudyResults:
    """What a study produced: run records by job name, report-study outputs, failures, extras."""

    study: Study
    records: dict[str, RunRecord]
    outputs: list[Any]
    failed: dict[str, str]
    extras: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def runs(self, prefix: str = "") -> list[RunRecord]:
        return [r for name, r in self.records.items() if name.startswith(prefix)]

    def metric(self, key: str, prefix: str = "") -> list[float]:
        return [r.metrics[key] for r in self.runs(prefix) if key in r.metrics]

    def output(self, name: str) -> Any | None:
        return next((o for o in self.outputs if o.name == name), None)


def _tail(path: Path, lines: int = 3) -> str:
    text = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    return " | ".join(text[-lines:])


def run_job(job: Job, study_dir: Path, scale: str, data_dir: Path, extra: Sequence[str] = ()) -> tuple[bool, float]:
    """Run (or resume) one job; True when its summary exists afterwards, and the seconds spent."""
    run_dir = study_dir / job.name
    store = RunStore(run_dir)
    if (run_dir / "summary.json").exists():
        return True, 0.0
    command = [
        sys.executable,
        str(TRAIN),
        *job.overrides,
        f"scale={scale}",
        f"hydra.run.dir={run_dir}",
        f"paths.data_dir={data_dir}",
        "trainer.enable_progress_bar=false",
        *extra,
    ]
    if store.last_checkpoint.exists():
        command.append("ckpt_path=last")
    study_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with (study_dir / f"{job.name}.log").open("a") as log:
        log.write(f"\n$ {' '.join(command)}\n")
        log.flush()
        subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
    return (run_dir / "summary.json").exists(), time.perf_counter() - start


def run_study(study: Study, scale: str, out: Path, progress: bool = True, extra: Sequence[str] = ()) -> StudyResults:
    """Run every unfinished job of ``study``, then read the finished runs and run their report studies."""
    from physml.report import record_run, run_studies

    study_dir = out / study.name
    data_dir = out / "data"
    timing_path = study_dir / "timing.json"
    timing: dict[str, float] = json.loads(timing_path.read_text()) if timing_path.exists() else {}
    failed: dict[str, str] = {}
    jobs = study.jobs(scale)
    bar = tqdm(jobs, desc=study.name, unit="run", disable=not progress, leave=False)
    for job in bar:
        bar.set_postfix_str(job.name)
        ok, seconds = run_job(job, study_dir, scale, data_dir, extra)
        if seconds:
            timing[job.name] = timing.get(job.name, 0.0) + seconds
            study_dir.mkdir(parents=True, exist_ok=True)
            timing_path.write_text(json.dumps(timing, indent=2))
        if not ok:
            failed[job.name] = _tail(study_dir / f"{job.name}.log")
    extras: dict[str, Any] = {}
    if study.extras is not None:
        start = time.perf_counter()
        extras = study.extras(scale, out)
        if time.perf_counter() - start > 1.0:
            timing["extras"] = timing.get("extras", 0.0) + time.perf_counter() - start
            timing_path.write_text(json.dumps(timing, indent=2))
    report_dir = out / "report_files" / study.name
    records = {
        job.name: record_run(study_dir / job.name, report_dir / job.name)
        for job in jobs
        if (study_dir / job.name / "summary.json").exists()
    }
    outputs = run_studies(list(records.values()), report_dir)
    return StudyResults(study, records, outputs, failed, extras, sum(timing.values()))
