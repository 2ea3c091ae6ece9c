"""What every physml LightningModule shares: optimiser wiring and per-sample test outputs.

``test_step`` returns a dict of per-sample tensors (predictions and every label of the
batch); :class:`physml.predictions.PredictionWriter` stores them, so analysis can be
rerun from disk without retraining.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import pytorch_lightning as pl
import torch

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., Any]


class PhysmlModule(pl.LightningModule):
    """Base class: subclasses implement the training steps and ``per_sample``.

    ``metric_directions`` declares which way each validation metric improves ("min" or
    "max"); runs record it, so reports pick best epochs without guessing from names.
    """

    metric_directions: ClassVar[dict[str, str]] = {"val/loss": "min"}

    def __init__(self, optimizer: OptimizerFactory, scheduler: SchedulerFactory | None = None) -> None:
        super().__init__()
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val/loss"}}

    @staticmethod
    def labels_of(batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Every per-sample scalar of the batch except the network input."""
        return {k: v for k, v in batch.items() if k != "input" and torch.is_tensor(v) and v.ndim == 1}

    def per_sample(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def test_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> dict[str, torch.Tensor]:
        out = self.per_sample(batch)
        return {**self.labels_of(batch), **{k: v.detach() for k, v in out.items()}}

    def predict_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> dict[str, torch.Tensor]:
        return self.test_step(batch, batch_idx, dataloader_idx)
