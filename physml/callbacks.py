"""Lightning callbacks that connect a run's models, data and records without coupling them.

* :class:`PredictionWriter` collects what ``test_step`` returns and stores it per stream;
* :class:`ReconstructionWriter` adds a generative model's reconstructions for chosen
  streams (the VAE's example chains), so the model never needs to know stream names;
* :class:`GeneratorSpeed` times a model against the physics simulator it replaces, in
  the same run on the same machine (review §6: "patterns in milliseconds");
* :class:`Throughput` measures training samples/s and the share of step time spent
  waiting for data (a CPU run must not be loader-bound).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

from physml.errors import require
from physml.predictions import gather_to_rank_zero, write_predictions


def _stream_names(trainer: pl.Trainer) -> list[str]:
    return list(getattr(trainer.datamodule, "test_stream_names", None) or [])


class PredictionWriter(pl.Callback):
    """Collects what ``test_step`` returns and writes ``predictions.zarr/<stream>/<key>``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._buffers: dict[int, dict[str, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._buffers.clear()

    def on_test_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not isinstance(outputs, dict):
            return
        for key, value in outputs.items():
            if torch.is_tensor(value):
                value = value.detach()
                value = value.float() if value.dtype == torch.bfloat16 else value
                self._buffers[dataloader_idx][key].append(value.cpu().numpy())

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        streams = {idx: {k: np.concatenate(v) for k, v in arrays.items()} for idx, arrays in self._buffers.items()}
        if trainer.world_size > 1:
            streams = gather_to_rank_zero(streams, trainer.global_rank, trainer.world_size)
        if trainer.global_rank != 0 or not streams:
            return
        names = _stream_names(trainer)
        write_predictions(
            self.path,
            {(names[idx] if idx < len(names) else f"test_{idx}"): arrays for idx, arrays in sorted(streams.items())},
        )


class ReconstructionWriter(pl.Callback):
    """Adds ``x`` and ``recon`` (the model's ``reconstruct``) to the test outputs of ``streams``.

    Must come before the PredictionWriter in the callback list (train.py keeps that order).
    """

    def __init__(self, streams: Sequence[str]) -> None:
        self.streams = [str(s) for s in streams]

    def on_test_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        names = _stream_names(trainer)
        if not isinstance(outputs, dict) or dataloader_idx >= len(names) or names[dataloader_idx] not in self.streams:
            return
        x = batch["input"]
        x_hat = pl_module.reconstruct(x)[0]
        outputs["x"] = x[:, 0].detach()
        outputs["recon"] = x_hat[:, 0].detach()


class GeneratorSpeed(pl.Callback):
    """Per-sample wall time of the model's forward pass next to the simulator's, logged at test end.

    ``simulator_units`` fresh units (seeded, not stored) are simulated for the reference
    (0: the model only); ``batch_size`` and ``repeats`` set the batched timing.
    """

    def __init__(self, simulator: Any, simulator_units: int = 1, batch_size: int = 16, repeats: int = 5) -> None:
        require(simulator_units >= 0, "simulator_units", "integers >= 0 (0: no simulator timing)", simulator_units)
        require(batch_size >= 1, "batch_size", "integers >= 1", batch_size)
        require(repeats >= 1, "repeats", "integers >= 1", repeats)
        self.simulator = simulator
        self.simulator_units = simulator_units
        self.batch_size = batch_size
        self.repeats = repeats
        self._shape: tuple[int, ...] | None = None

    def on_test_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if self._shape is None:
            self._shape = tuple(batch["input"].shape[1:])

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._shape is None:
            return
        speed = {
            "speed/generator_ms_per_pattern_batch1": 1e3 * self._time_model(pl_module, 1),
            f"speed/generator_ms_per_pattern_batch{self.batch_size}": 1e3 * self._time_model(pl_module, self.batch_size),
        }
        if self.simulator_units > 0:
            sim_ms = 1e3 * self._time_simulator()
            speed["speed/simulator_ms_per_pattern"] = sim_ms
            speed["speed/speedup_batch1"] = sim_ms / speed["speed/generator_ms_per_pattern_batch1"]
        for key, value in speed.items():
            pl_module.log(key, float(value), add_dataloader_idx=False)

    def _time_simulator(self) -> float:
        rng = np.random.default_rng(np.random.SeedSequence(0, spawn_key=(0x5EED,)))
        points = np.zeros(self.simulator_units, dtype=np.int64)
        start = time.perf_counter()
        self.simulator.generate(points, rng)
        return (time.perf_counter() - start) / (self.simulator_units * self.simulator.samples_per_unit)

    @torch.no_grad()
    def _time_model(self, pl_module: pl.LightningModule, batch_size: int) -> float:
        """Median wall time per sample of the forward pass on the model's device (after a warm-up)."""
        x = torch.rand((batch_size, *self._shape), device=pl_module.device) * 2 - 1
        was_training = pl_module.training
        pl_module.eval()
        sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)
        pl_module(x)
        sync()
        times = []
        for _ in range(self.repeats):
            start = time.perf_counter()
            pl_module(x)
            sync()
            times.append((time.perf_counter() - start) / batch_size)
        pl_module.train(was_training)
        return float(np.median(times))


class Throughput(pl.Callback):
    """Training samples per second and the fraction of wall time spent waiting for batches.

    The wait of a batch is the time from the end of the previous step to the start of this
    one (the dataloader's fetch and the transfer); the first batch of an epoch (worker
    start-up) is left out. Logged per epoch as ``speed/train_samples_per_s`` and
    ``speed/train_data_wait_fraction``.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._last_end: float | None = None
        self._start = 0.0
        self._wait = self._busy = 0.0
        self._samples = 0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._reset()

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        self._start = time.perf_counter()
        if self._last_end is not None:
            self._wait += self._start - self._last_end

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        end = time.perf_counter()
        if self._last_end is not None:
            self._busy += end - self._start
            self._samples += len(batch["input"]) if isinstance(batch, dict) else 0
        self._last_end = end

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        total = self._wait + self._busy
        if total <= 0 or self._samples == 0:
            return
        pl_module.log("speed/train_samples_per_s", self._samples / total, on_epoch=True, on_step=False)
        pl_module.log("speed/train_data_wait_fraction", self._wait / total, on_epoch=True, on_step=False)
