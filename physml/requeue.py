"""Preemption and requeue: save where training is, leave, and continue the same run when started again.

A SLURM job is warned before its time limit or preemption by a signal (submitit asks for
``--signal=USR2@<signal_delay_s>``; hand-written sbatch scripts often use ``USR1``), and
cancelled or preempted with SIGTERM, then SIGKILL. One owner per step, so nothing fights:

- **the signal**: :class:`RequeueOnSignal` (a Lightning callback of every run). It installs its
  handlers in ``setup``, before Lightning registers its own, and Lightning's SLURM auto-requeue
  (a SIGUSR1 handler) installs only where no handler exists: it never runs.
- **the checkpoint**: the callback, at the next batch boundary (every DDP rank at the same one),
  writes ``checkpoints/last.ckpt`` (Lightning saves atomically) with the loops' progress, so a
  resume continues mid-epoch with the same epoch and step counters.
- **the requeue**: submitit. Its handler (hydra-submitit-launcher's ``checkpoint``) resubmits the
  same Hydra job: the sweep dir was resolved at submission and travels with the job, so the job
  lands in the same run directory. A SLURM batch job without submitit is requeued with
  ``scontrol requeue``; SIGTERM requeues nothing (the scheduler decides). Elsewhere the process
  exits with 128 + the signal number and running the same command again continues.
- **the resume**: ``train.py`` asks :func:`continuation`. A run interrupted by a signal (its
  ``requeue.jsonl`` ends with an ``interrupted`` event) or started again by SLURM
  (``SLURM_RESTART_COUNT`` > 0) resumes from ``last.ckpt`` instead of being refused as a run
  that already holds results.

``<run>/requeue.jsonl`` keeps every interruption and every start, one JSON line each, appended
and never rewritten.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from physml.runstore import RunStore

log = logging.getLogger("physml")

EVENTS = "requeue.jsonl"
#: signals that announce a time limit or a preemption: save, then requeue
REQUEUE_SIGNALS = ("SIGUSR1", "SIGUSR2")
#: signals that stop the job (scancel, preemption by SIGTERM): save, requeue nothing
STOP_SIGNALS = ("SIGTERM",)


class Interrupted(SystemExit):
    """Raised to leave a run after its state was saved; the exit code is 128 + the signal number."""


# ---- the run's record of interruptions and starts -----------------------------------------------
def events(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every event of ``requeue.jsonl`` (a torn last line, from a kill while writing, is skipped)."""
    path = Path(run_dir) / EVENTS
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def append_event(run_dir: str | Path, event: dict[str, Any]) -> None:
    """Append one event (one ``write`` of one line, then fsync: earlier lines are never touched)."""
    record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **event, **_slurm_ids()}
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    fd = os.open(Path(run_dir) / EVENTS, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def _slurm_ids() -> dict[str, Any]:
    ids = {key: os.environ[var] for key, var in (("slurm_job_id", "SLURM_JOB_ID"),
                                                 ("slurm_array_job_id", "SLURM_ARRAY_JOB_ID"),
                                                 ("slurm_array_task_id", "SLURM_ARRAY_TASK_ID"))
           if os.environ.get(var)}
    if ids:
        ids["slurm_restart_count"] = restart_count()
    return ids


def restart_count() -> int:
    """How often SLURM has requeued this job (``SLURM_RESTART_COUNT``; unset on the first start)."""
    try:
        return int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0)
    except ValueError:
        return 0


def pending_interruption(run_dir: str | Path) -> dict[str, Any] | None:
    """The last event if it is an interruption that no start has followed yet."""
    history = events(run_dir)
    return history[-1] if history and history[-1].get("event") == "interrupted" else None


@dataclass(frozen=True)
class Continuation:
    """A job that continues an interrupted run: why, and the checkpoint it starts from (None: none yet)."""

    reason: str
    checkpoint: Path | None


def continuation(run_dir: str | Path) -> Continuation | None:
    """How a job started in ``run_dir`` continues an earlier attempt of it, or None for a new run.

    A continuation needs an earlier attempt that was accepted (``.hydra/config.yaml``) and
    either an interruption it recorded or a SLURM requeue (the kill may have been too hard to
    record anything). It starts from ``last.ckpt`` when there is one; a job interrupted before
    its first checkpoint starts again from the beginning, in the same directory.
    """
    store = RunStore(run_dir)
    if not store.is_run():
        return None
    pending = pending_interruption(run_dir)
    if pending is not None:
        reason = (f"interrupted by {pending.get('signal')} at epoch {pending.get('epoch')}, "
                  f"step {pending.get('global_step')}")
    elif restart_count() > 0:
        reason = f"requeued by SLURM (restart {restart_count()})"
    else:
        return None
    checkpoint = store.last_checkpoint if store.last_checkpoint.exists() else None
    return Continuation(reason=reason, checkpoint=checkpoint)


# ---- the callback -----------------------------------------------------------------------------
def _signum(name: str) -> int | None:
    value = getattr(signal, name, None)
    return int(value) if value is not None else None


def _is_submitit_handler(handler: Any) -> bool:
    owner = getattr(handler, "__self__", None)
    return type(owner).__module__.startswith("submitit") if owner is not None else False


class RequeueOnSignal(pl.Callback):
    """Owns the requeue and stop signals of a run: save at the next batch boundary, then leave.

    During training a signal only raises a flag: the checkpoint is written where the state is
    consistent (after a training batch, or after validation). Outside training (data,
    sanity check, test, analysis) the job leaves at once; ``last.ckpt`` already holds
    everything training produced, and test and analysis are redone on resume.
    """

    def __init__(self, run_dir: str | Path, requeue_signals: tuple[str, ...] | list[str] = REQUEUE_SIGNALS,
                 stop_signals: tuple[str, ...] | list[str] = STOP_SIGNALS) -> None:
        self.run_dir = Path(run_dir)
        names = [*requeue_signals, *stop_signals]
        self.requeue = {s for s in (_signum(n) for n in requeue_signals) if s is not None}
        self.signals = [s for s in (_signum(n) for n in names) if s is not None]
        self.received: int | None = None
        self._previous: dict[int, Any] = {}
        self._trainer: pl.Trainer | None = None
        self._training = False
        self._leaving = False

    # -- handlers
    def _install(self) -> None:
        if self._previous or threading.current_thread() is not threading.main_thread():
            return
        for signum in self.signals:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._on_signal)

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._leaving:  # SLURM's SIGTERM after our own requeue: we are already on the way out
            return
        if self.received is None:
            self.received = signum
        name = signal.Signals(signum).name
        if self._training:
            log.warning("physml: %s received; saving a checkpoint at the next batch boundary", name)
            return
        log.warning("physml: %s received outside training; leaving now (last.ckpt holds the training state)",
                    name)
        self._leave(self._trainer, saved=False)

    # -- Lightning hooks
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._trainer = trainer
        self._install()

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._restore()

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._training = True
        self._record_start(trainer, "fit")

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.state.fn == "test" and not self._started_in_this_process(trainer):
            self._record_start(trainer, "test")

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._training = False
        if self._agreed_signal(trainer) is not None:  # asked during the last batch: checkpoints are written
            self._leave(trainer, saved=False)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self._maybe_leave(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._training and not trainer.sanity_checking:
            self._maybe_leave(trainer)

    # -- leaving
    def _agreed_signal(self, trainer: pl.Trainer) -> int | None:
        """The signal any rank received (the same answer on every rank), or None."""
        mine = self.received or 0
        if trainer.world_size > 1:
            value = torch.tensor(mine, device=trainer.strategy.root_device)
            mine = int(trainer.strategy.reduce(value, reduce_op="max").item())
        return mine or None

    def _maybe_leave(self, trainer: pl.Trainer) -> None:
        signum = self._agreed_signal(trainer)
        if signum is None:
            return
        self.received = signum
        self._leaving = True
        trainer.save_checkpoint(RunStore(self.run_dir).last_checkpoint)
        self._leave(trainer, saved=True)

    def _leave(self, trainer: pl.Trainer | None, saved: bool) -> None:
        """Record the interruption, close the trackers, hand the requeue to its owner, exit."""
        self._leaving = True
        signum = self.received or int(signal.SIGTERM)
        name = signal.Signals(signum).name
        requeue = signum in self.requeue
        previous = self._previous.get(signum)
        by_submitit = requeue and _is_submitit_handler(previous)
        owner = "submitit" if by_submitit else ("scontrol" if requeue and os.environ.get("SLURM_JOB_ID") else None)
        rank0 = trainer is None or trainer.global_rank == 0
        if rank0:
            append_event(self.run_dir, {
                "event": "interrupted", "signal": name, "checkpoint_saved": saved,
                "epoch": trainer.current_epoch if trainer else None,
                "global_step": trainer.global_step if trainer else None,
                "requeue": owner,
            })
        if trainer is not None:
            from physml.tracking import close_loggers, mark_preempting

            try:  # nothing here may turn the interruption into a failed job (submitit would report it done)
                mark_preempting()
                close_loggers(trainer.loggers)
            except Exception as exc:  # noqa: BLE001
                log.error("physml: closing the loggers failed: %s", exc)
        self._restore()
        if by_submitit:
            previous(signum, None)  # submitit: checkpoint the job, scontrol requeue, exit (rank 0 only)
        elif owner == "scontrol" and rank0:
            job = os.environ.get("SLURM_JOB_ID", "")
            if os.environ.get("SLURM_ARRAY_JOB_ID"):
                job = f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ.get('SLURM_ARRAY_TASK_ID', '')}"
            done = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                log.error("physml: scontrol requeue %s failed: %s", job, done.stderr.strip())
        raise Interrupted(128 + signum)

    # -- starts
    def _started_in_this_process(self, trainer: pl.Trainer) -> bool:
        return getattr(self, "_start_recorded", False)

    def _record_start(self, trainer: pl.Trainer, stage: str) -> None:
        self._start_recorded = True
        if trainer.global_rank != 0:
            return
        append_event(self.run_dir, {
            "event": "started", "stage": stage, "ckpt_path": trainer.ckpt_path,
            "epoch": trainer.current_epoch, "global_step": trainer.global_step,
        })
