"""Preemption without SLURM: a signal mid-epoch saves and stops; running the job again continues it.

The relaunch is what a SLURM requeue does: the same command in the same run directory. The
counters are checked against arithmetic (3 epochs of 2 batches: 6 optimizer steps, epoch e
logged at step 2e + 1), not against an earlier run of the code.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from physml.requeue import Interrupted, RequeueOnSignal, append_event, continuation, events
from physml.runstore import RunStore

ROOT = Path(__file__).resolve().parents[1]
BATCHES = 2  # debug=tiny: limit_train_batches=2
EPOCHS = 3


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(PYTHONPATH=str(ROOT), WANDB_MODE="offline", WANDB_SILENT="true", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    return env


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _epoch_steps(run: Path) -> dict[int, int]:
    """epoch -> the step its val/loss was logged at, over every csv version."""
    out: dict[int, int] = {}
    for path in sorted(run.glob("csv/version_*/metrics.csv")):
        for row in _csv_rows(path):
            if row.get("val/loss"):
                assert int(row["epoch"]) not in out, f"epoch {row['epoch']} logged twice"
                out[int(row["epoch"])] = int(row["step"])
    return out


@pytest.mark.parametrize(("signame", "code"), [("SIGUSR2", 128 + 12)])
def test_signal_mid_epoch_saves_and_the_relaunch_continues_the_same_run(tmp_path: Path, signame: str,
                                                                        code: int) -> None:
    run = tmp_path / "run"
    flag = tmp_path / "paused"
    args = [sys.executable, str(ROOT / "train.py"), "debug=tiny", "system.target=spanning",
            f"trainer.max_epochs={EPOCHS}", f"paths.root_dir={tmp_path}", f"hydra.run.dir={run}",
            "+callbacks.pause._target_=tests.requeue_helpers.PauseForSignal",
            "+callbacks.pause.global_step=2", f"+callbacks.pause.flag={flag}"]
    first = subprocess.Popen(args, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    deadline = time.monotonic() + 300
    while not flag.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert flag.exists(), first.communicate()[0][-3000:]
    assert flag.read_text().split() == ["1", "0", "2"]  # epoch 1, its first batch, after 2 steps
    first.send_signal(getattr(signal, signame))
    out, _ = first.communicate(timeout=300)
    assert first.returncode == code, out[-3000:]

    # the state at the interruption: mid-epoch (1 of epoch 1's 2 batches done), nothing else written yet
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert (state["epoch"], state["global_step"]) == (1, 3)
    # saved in on_train_batch_end: the batch is processed, Lightning counts it completed on restore
    assert state["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]["processed"] == 1
    interrupted = events(run)[-1]
    assert interrupted["event"] == "interrupted" and interrupted["signal"] == signame
    assert (interrupted["epoch"], interrupted["global_step"], interrupted["checkpoint_saved"]) == (1, 3, True)
    assert not (run / "summary.json").exists()
    first_csv = (run / "csv" / "version_0" / "metrics.csv").read_bytes()
    first_attempt = sorted((run / ".hydra" / "attempts").iterdir())

    # the relaunch: the same command, as a requeue runs it
    second = subprocess.run(args, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"physml: continuing {run}: interrupted by {signame} at epoch 1, step 3" in second.stdout

    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert (state["epoch"], state["global_step"]) == (EPOCHS - 1, EPOCHS * BATCHES)
    assert state["loops"]["fit_loop"]["epoch_loop.batch_progress"]["total"]["completed"] == EPOCHS * BATCHES
    started = [e for e in events(run) if e["event"] == "started"]
    assert [(e["epoch"], e["global_step"]) for e in started] == [(0, 0), (1, 3)]
    assert started[1]["ckpt_path"] == str(run / "checkpoints" / "last.ckpt")
    # nothing lost: the first attempt's log is untouched, the second writes a new version, every epoch
    # is logged once at the step an uninterrupted run logs it
    assert (run / "csv" / "version_0" / "metrics.csv").read_bytes() == first_csv
    assert sorted(p.name for p in (run / "csv").iterdir()) == ["version_0", "version_1"]
    assert _epoch_steps(run) == {e: BATCHES * (e + 1) - 1 for e in range(EPOCHS)}
    assert sorted(RunStore(run).history()) == list(range(EPOCHS))
    attempts = sorted((run / ".hydra" / "attempts").iterdir())
    assert len(attempts) == 2 and attempts[0] == first_attempt[0]
    assert all((a / "config.yaml").exists() and (a / "accepted.txt").exists() for a in attempts)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["trackers"]["csv"] == "csv/version_1/metrics.csv"
    assert (run / "predictions.zarr").exists()


def _accepted_run(path: Path) -> Path:
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "config.yaml").write_text("seed: 0\n")
    return path


def test_continuation_needs_an_interruption_or_a_slurm_restart(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLURM_RESTART_COUNT", raising=False)
    assert continuation(tmp_path / "nothing") is None
    run = _accepted_run(tmp_path / "run")
    assert continuation(run) is None  # a finished or fresh run is not continued by accident
    append_event(run, {"event": "interrupted", "signal": "SIGTERM", "epoch": 4, "global_step": 40})
    found = continuation(run)
    assert found is not None and found.checkpoint is None  # interrupted before its first checkpoint
    assert found.reason == "interrupted by SIGTERM at epoch 4, step 40"
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "last.ckpt").write_bytes(b"x")
    assert continuation(run).checkpoint == run / "checkpoints" / "last.ckpt"
    append_event(run, {"event": "started", "stage": "fit"})
    assert continuation(run) is None  # the interruption was taken up
    monkeypatch.setenv("SLURM_RESTART_COUNT", "2")  # killed too hard to record anything, requeued by SLURM
    assert continuation(run).reason == "requeued by SLURM (restart 2)"
    assert continuation(tmp_path / "new").__class__ is type(None)  # a requeued job's new run dir: a new run


def test_events_survive_a_torn_last_line(tmp_path: Path) -> None:
    append_event(tmp_path, {"event": "started"})
    with (tmp_path / "requeue.jsonl").open("a") as fh:
        fh.write('{"event": "interr')  # killed while writing
    assert [e["event"] for e in events(tmp_path)] == ["started"]


def test_a_signal_outside_training_leaves_at_once_and_is_recorded(tmp_path: Path) -> None:
    guard = RequeueOnSignal(tmp_path, requeue_signals=["SIGUSR1"], stop_signals=[])
    guard._install()
    try:
        with pytest.raises(Interrupted) as left:
            os.kill(os.getpid(), signal.SIGUSR1)
            time.sleep(1)  # the handler runs between bytecodes
        assert left.value.code == 128 + signal.SIGUSR1
    finally:
        guard._restore()
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL
    (event,) = events(tmp_path)
    assert (event["event"], event["signal"], event["checkpoint_saved"]) == ("interrupted", "SIGUSR1", False)
