"""Learning-rate schedules: stepped per optimiser step or per epoch, sized by the trainer."""

from __future__ import annotations

import functools

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from lightning_modules.supervised import SupervisedModule
from physml.errors import ConfigError


class _Dicts(TensorDataset):
    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        x, y = super().__getitem__(i)
        return {"input": x, "target": y}


def _fit(interval: str, epochs: int = 2, n: int = 40, batch: int = 8) -> list[float]:
    """Train a linear classifier under OneCycleLR and return the lr seen at every step."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    module = SupervisedModule(
        net,
        task="class",
        num_outputs=2,
        optimizer=functools.partial(torch.optim.SGD, lr=0.1),
        scheduler=functools.partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=0.1, pct_start=0.25),
        scheduler_interval=interval,
    )
    lrs: list[float] = []

    class Record(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):  # noqa: ANN001
            lrs.append(trainer.optimizers[0].param_groups[0]["lr"])

    data = _Dicts(torch.randn(n, 1, 2, 2), torch.randint(0, 2, (n,)))
    trainer = pl.Trainer(
        max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[Record()], num_sanity_val_steps=0,
    )
    trainer.fit(module, DataLoader(data, batch_size=batch), DataLoader(data, batch_size=batch))
    return lrs


def test_one_cycle_per_step_spans_the_whole_run() -> None:
    """Per step: total_steps = the trainer's 2 x 5 optimiser steps; the lr rises for the first
    quarter, then falls, and changes within an epoch. Per epoch it is constant in an epoch."""
    per_step = _fit("step")
    assert len(per_step) == 10
    peak = per_step.index(max(per_step))
    assert 1 <= peak <= 4 and per_step[0] < per_step[peak] and per_step[-1] < per_step[peak] / 10
    assert len(set(per_step[:5])) == 5
    per_epoch = _fit("epoch")
    assert len(set(per_epoch[:5])) == 1 and per_epoch[5] != per_epoch[0]


def test_unknown_interval_is_named() -> None:
    with pytest.raises(ConfigError, match="model.scheduler_interval.*'epoch' or 'step'"):
        SupervisedModule(torch.nn.Linear(1, 2), "class", 2, optimizer=torch.optim.SGD, scheduler_interval="batch")
