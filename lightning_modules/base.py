"""What every physml LightningModule shares: optimiser wiring and per-sample test outputs.

``test_step`` returns a dict of per-sample tensors (predictions and every label of the
batch); :class:`physml.predictions.PredictionWriter` stores them, so analysis can be
rerun from disk without retraining.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar

import pytorch_lightning as pl
import torch

from physml.errors import require

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., Any]
SCHEDULER_INTERVALS = ("epoch", "step")


def _parameters_of(factory: Callable[..., Any]) -> set[str]:
    """Constructor parameters of a (possibly ``functools.partial``) factory not yet bound."""
    func = getattr(factory, "func", factory)
    bound = set(getattr(factory, "keywords", {}) or {})
    try:
        return set(inspect.signature(func).parameters) - bound
    except (TypeError, ValueError):
        return set()


class PhysmlModule(pl.LightningModule):
    """Base class: subclasses implement the training steps and ``per_sample``.

    ``metric_directions`` declares which way each validation metric improves ("min" or
    "max"); runs record it, so reports pick best epochs without guessing from names.
    """

    metric_directions: ClassVar[dict[str, str]] = {"val/loss": "min"}

    def __init__(
        self,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        scheduler_interval: str = "epoch",
    ) -> None:
        super().__init__()
        require(
            scheduler_interval in SCHEDULER_INTERVALS,
            "model.scheduler_interval",
            " or ".join(f"'{i}'" for i in SCHEDULER_INTERVALS),
            scheduler_interval,
        )
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval

    def configure_optimizers(self) -> Any:
        """The optimiser, and the scheduler stepped per epoch or per optimiser step.

        A scheduler whose constructor takes ``total_steps`` (``OneCycleLR``) gets the
        trainer's estimate of optimiser steps (or of epochs, when stepped per epoch), so a
        config never hard-codes a number that depends on dataset size, batch size and epochs.
        """
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        kwargs: dict[str, Any] = {}
        if "total_steps" in _parameters_of(self.scheduler_factory):
            steps = self.trainer.estimated_stepping_batches if self.scheduler_interval == "step" else self.trainer.max_epochs
            kwargs["total_steps"] = int(steps)
        scheduler = self.scheduler_factory(optimizer=optimizer, **kwargs)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": "val/loss", "interval": self.scheduler_interval},
        }

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
