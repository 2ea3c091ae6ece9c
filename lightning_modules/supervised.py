"""Classification and regression of labelled states (the paper's ResNet18 studies)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn

from lightning_modules.base import OptimizerFactory, PhysmlModule, SchedulerFactory
from physml.errors import require


class SupervisedModule(PhysmlModule):
    """A network trained with cross-entropy (``task="class"``) or MSE (``task="regression"``).

    One module for both because the loop is the same; the task decides the loss, the
    metrics and what a prediction is. A network that needs more than the label to learn
    (``FloodFillRNN``: dense connectivity targets computed from the input) defines
    ``training_losses(x, target) -> (logits, {"loss": ..., <parts>: ...})``; training uses
    that total and logs each part, while validation and test use the plain loss.
    """

    metric_directions: ClassVar[dict[str, str]] = {"val/loss": "min", "val/acc": "max", "val/mse": "min"}

    def __init__(
        self,
        net: nn.Module,
        task: str,
        num_outputs: int,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        scheduler_interval: str = "epoch",
    ) -> None:
        super().__init__(optimizer, scheduler, scheduler_interval)
        require(task in ("class", "regression"), "task", "'class' or 'regression'", task)
        require(task == "class" or num_outputs == 1, "num_outputs", "1 for regression", num_outputs)
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"])
        self.net = net
        self.task = task
        if task == "class":
            metric = lambda: torchmetrics.Accuracy(task="multiclass", num_classes=num_outputs)  # noqa: E731
        else:
            metric = lambda: torchmetrics.MeanSquaredError()  # noqa: E731
        self.metric_name = "acc" if task == "class" else "mse"
        self.train_metric, self.val_metric = metric(), metric()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return out.squeeze(-1) if self.task == "regression" else out

    def _loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.task == "class":
            return F.cross_entropy(out, target)
        return F.mse_loss(out, target.float())

    def _shared_step(self, batch: dict[str, Any], stage: str) -> torch.Tensor:
        bs = batch["target"].shape[0]
        if stage == "train" and hasattr(self.net, "training_losses"):
            out, parts = self.net.training_losses(batch["input"], batch["target"])
            for name, value in parts.items():
                if name != "loss":
                    self.log(f"train/{name}", value, on_step=False, on_epoch=True, batch_size=bs)
            loss = parts["loss"]
        else:
            out = self(batch["input"])
            loss = self._loss(out, batch["target"])
        metric = self.train_metric if stage == "train" else self.val_metric
        metric(out.argmax(-1) if self.task == "class" else out, batch["target"])
        self.log(f"{stage}/loss", loss, prog_bar=True, on_step=False, on_epoch=True, batch_size=bs, sync_dist=True)
        self.log(f"{stage}/{self.metric_name}", metric, prog_bar=True, on_step=False, on_epoch=True, batch_size=bs)
        return loss

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self._shared_step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def per_sample(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        out = self(batch["input"])
        if self.task == "class":
            probs = out.softmax(-1)
            return {"pred": probs.argmax(-1), "probs": probs}
        return {"pred": out}
