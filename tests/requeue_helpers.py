"""A callback for requeue tests: hold training at a chosen step until a signal has arrived.

Training on tiny data is over in a second, so a test could never hit the middle of an epoch by
timing alone. :class:`PauseForSignal` stops before the training batch that follows
``global_step`` optimizer steps, writes ``flag`` (the test then sends its signal) and waits until
physml's :class:`~physml.requeue.RequeueOnSignal` has seen a signal. The batch then runs and the
requeue callback saves at its end: mid-epoch whenever ``global_step`` is not a multiple of the
epoch length. A continued run starts past that step and never pauses again.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from physml.requeue import RequeueOnSignal


class PauseForSignal(pl.Callback):
    def __init__(self, global_step: int, flag: str, timeout: float = 120.0) -> None:
        self.global_step = global_step
        self.flag = Path(flag)
        self.timeout = timeout

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if trainer.global_step != self.global_step or trainer.global_rank != 0:
            return
        guard = next(c for c in trainer.callbacks if isinstance(c, RequeueOnSignal))
        self.flag.write_text(f"{trainer.current_epoch} {batch_idx} {trainer.global_step}\n")
        deadline = time.monotonic() + self.timeout
        while guard.received is None and time.monotonic() < deadline:
            time.sleep(0.05)
