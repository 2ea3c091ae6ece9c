"""Callbacks that measure: the data-wait share and the samples/s of training."""

from __future__ import annotations

import time

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from physml.callbacks import Throughput


class _Slow(Dataset):
    def __init__(self, delay: float) -> None:
        self.delay = delay

    def __len__(self) -> int:
        return 32

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        time.sleep(self.delay)
        return {"input": torch.ones(4), "target": torch.zeros(1)}


class _Tiny(pl.LightningModule):
    def __init__(self, work: float) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.work = work

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        time.sleep(self.work)
        return torch.nn.functional.mse_loss(self.layer(batch["input"]), batch["target"])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _measure(data_delay: float, work: float) -> dict[str, float]:
    trainer = pl.Trainer(max_epochs=1, callbacks=[Throughput()], logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(_Tiny(work), DataLoader(_Slow(data_delay), batch_size=4))
    return {k: float(v) for k, v in trainer.callback_metrics.items()}


def test_throughput_sees_a_loader_bound_run_and_a_compute_bound_run() -> None:
    loader_bound = _measure(data_delay=0.02, work=0.0)  # 4 × 20 ms of loading per batch, no compute
    compute_bound = _measure(data_delay=0.0, work=0.05)
    assert loader_bound["speed/train_data_wait_fraction"] > 0.7
    assert compute_bound["speed/train_data_wait_fraction"] < 0.3
    # 7 timed batches of 4 samples, each ~80 ms of loading: about 50 samples/s, far below 1000
    assert 10 < loader_bound["speed/train_samples_per_s"] < 200
