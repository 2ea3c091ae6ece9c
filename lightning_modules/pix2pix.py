"""Conditional GAN for image-to-image translation (pix2pix / pix2pixHD), review §6.

The generator G maps the condition x (e.g. a projected potential) to an image ŷ (a LACBED
pattern); the discriminator D judges (x, y) pairs patch by patch. Training alternates,
with manual optimisation, one D step and one G step per batch:

    L_D = ½ [ℓ(D(x, y), real) + ℓ(D(x, G(x)), fake)]
    L_G = ℓ(D(x, G(x)), real) + λ_pix · pixel(G(x), y) + λ_fm · FM(D; x, y, G(x))

with ℓ least-squares (LSGAN) or binary cross-entropy, the pixel loss MSE (as in the paper)
or L1, and FM the pix2pixHD feature-matching loss (L1 between D's intermediate features
of real and generated pairs, averaged over layers and scales). Validation logs the R index
of review Eq. (3) (``val/R_mean``, ``val/R_median``) and ``val/loss`` for checkpointing.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from lightning_modules.base import OptimizerFactory, PhysmlModule, SchedulerFactory
from physml.errors import require
from physml.metrics import r_index

ADV_LOSSES = ("lsgan", "bce")
PIXEL_LOSSES = ("mse", "l1")
VAL_LOSSES = ("r", "pixel")


class Pix2Pix(PhysmlModule):
    """pix2pix-style cGAN; with a GlobalGenerator, two scales and λ_fm > 0 it is pix2pixHD."""

    metric_directions: ClassVar[dict[str, str]] = {
        "val/loss": "min",
        "val/R_mean": "max",
        "val/R_median": "max",
        "val/pixel": "min",
    }

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        adversarial_loss: str = "lsgan",
        pixel_loss: str = "mse",
        lambda_pixel: float = 100.0,
        lambda_feature_matching: float = 0.0,
        val_loss: str = "r",
    ) -> None:
        super().__init__(optimizer, scheduler)
        require(
            adversarial_loss in ADV_LOSSES, "adversarial_loss", f"one of {ADV_LOSSES}", adversarial_loss
        )
        require(pixel_loss in PIXEL_LOSSES, "pixel_loss", f"one of {PIXEL_LOSSES}", pixel_loss)
        require(lambda_pixel >= 0, "lambda_pixel", "values >= 0", lambda_pixel)
        require(
            lambda_feature_matching >= 0,
            "lambda_feature_matching",
            "values >= 0",
            lambda_feature_matching,
        )
        require(val_loss in VAL_LOSSES, "val_loss", f"one of {VAL_LOSSES}", val_loss)
        self.save_hyperparameters(ignore=["generator", "discriminator", "optimizer", "scheduler"])
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        self.adversarial_loss = adversarial_loss
        self.pixel_loss = pixel_loss
        self.lambda_pixel = lambda_pixel
        self.lambda_fm = lambda_feature_matching
        self.val_loss = val_loss
        self._val_r: list[torch.Tensor] = []

    # ---- networks and losses ------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.generator(x)

    def _adv(self, outputs: list[list[torch.Tensor]], real: bool) -> torch.Tensor:
        """Adversarial loss averaged over discriminator scales (logits = last feature)."""
        total = 0.0
        for feats in outputs:
            logits = feats[-1]
            target = torch.full_like(logits, 1.0 if real else 0.0)
            if self.adversarial_loss == "lsgan":
                total = total + F.mse_loss(logits, target)
            else:
                total = total + F.binary_cross_entropy_with_logits(logits, target)
        return total / len(outputs)

    def _pixel(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(fake, real) if self.pixel_loss == "mse" else F.l1_loss(fake, real)

    @staticmethod
    def _feature_matching(fake: list[list[torch.Tensor]], real: list[list[torch.Tensor]]) -> torch.Tensor:
        """pix2pixHD: L1 between D features of real and fake pairs (logits excluded)."""
        total, count = 0.0, 0
        for f_scale, r_scale in zip(fake, real, strict=True):
            for f, r in zip(f_scale[:-1], r_scale[:-1], strict=True):
                total = total + F.l1_loss(f, r.detach())
                count += 1
        return total / max(count, 1)

    # ---- optimisation -------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        opt_g = self.optimizer_factory(params=self.generator.parameters())
        opt_d = self.optimizer_factory(params=self.discriminator.parameters())
        if self.scheduler_factory is None:
            return [opt_g, opt_d]
        scheds = [self.scheduler_factory(optimizer=opt_g), self.scheduler_factory(optimizer=opt_d)]
        return [opt_g, opt_d], scheds

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        x, y = batch["input"], batch["target"]
        bs = x.shape[0]
        fake = self.generator(x)

        # discriminator: real pairs -> 1, generated pairs -> 0
        self.toggle_optimizer(opt_d)
        loss_d = 0.5 * (
            self._adv(self.discriminator(x, y), True) + self._adv(self.discriminator(x, fake.detach()), False)
        )
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(loss_d)
        opt_d.step()
        self.untoggle_optimizer(opt_d)

        # generator: fool D, stay close to the target pixel-wise (and in D's features)
        self.toggle_optimizer(opt_g)
        d_fake = self.discriminator(x, fake)
        loss_adv = self._adv(d_fake, True)
        loss_pix = self._pixel(fake, y)
        loss_g = loss_adv + self.lambda_pixel * loss_pix
        if self.lambda_fm > 0:
            with torch.no_grad():
                d_real = self.discriminator(x, y)
            loss_fm = self._feature_matching(d_fake, d_real)
            loss_g = loss_g + self.lambda_fm * loss_fm
            self.log("train/loss_fm", loss_fm, on_step=False, on_epoch=True, batch_size=bs)
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss_g)
        opt_g.step()
        self.untoggle_optimizer(opt_g)

        self.log("train/loss_d", loss_d, prog_bar=True, on_step=False, on_epoch=True, batch_size=bs)
        self.log("train/loss_g", loss_g, prog_bar=True, on_step=False, on_epoch=True, batch_size=bs)
        self.log("train/loss_adv", loss_adv, on_step=False, on_epoch=True, batch_size=bs)
        self.log("train/loss_pixel", loss_pix, on_step=False, on_epoch=True, batch_size=bs)

    def on_train_epoch_end(self) -> None:
        schedulers = self.lr_schedulers()
        for sched in schedulers if isinstance(schedulers, list) else [schedulers] if schedulers else []:
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                metric = self.trainer.callback_metrics.get("val/loss")
                if metric is not None:
                    sched.step(metric)
            else:
                sched.step()

    # ---- validation: R index and val/loss for the checkpoint monitor --------------------
    def on_validation_epoch_start(self) -> None:
        self._val_r = []

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        x, y = batch["input"], batch["target"]
        fake = self.generator(x)
        r = r_index(y, fake).reshape(len(y))
        self._val_r.append(r.detach().cpu())
        bs = x.shape[0]
        pix = self._pixel(fake, y)
        self.log("val/pixel", pix, on_step=False, on_epoch=True, batch_size=bs)
        self.log("val/R_mean", r.mean(), prog_bar=True, on_step=False, on_epoch=True, batch_size=bs)
        # val/loss is what train.py's ModelCheckpoint minimises: 1 - R (the paper's score)
        # by default, or the pixel loss (the training objective)
        loss = 1.0 - r.mean() if self.val_loss == "r" else pix
        self.log("val/loss", loss, prog_bar=True, on_step=False, on_epoch=True, batch_size=bs)

    def on_validation_epoch_end(self) -> None:
        if self._val_r:
            self.log("val/R_median", torch.cat(self._val_r).median(), sync_dist=True)

    # ---- test: per-sample images and R, stored by the PredictionWriter ------------------
    def per_sample(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        x, y = batch["input"], batch["target"]
        fake = self.generator(x)
        return {
            "R": r_index(y, fake).reshape(len(y)),
            "pred_image": fake[:, 0].float(),
            "true_image": y[:, 0].float(),
        }

    def test_step(
        self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0
    ) -> dict[str, torch.Tensor]:
        out = super().test_step(batch, batch_idx, dataloader_idx)
        self.log(
            "test/R_mean",
            out["R"].mean(),
            on_step=False,
            on_epoch=True,
            batch_size=len(out["R"]),
            add_dataloader_idx=True,
        )
        return out
