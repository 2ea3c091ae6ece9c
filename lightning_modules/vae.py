"""Variational autoencoder for lattice configurations (review §2.2 and §5).

loss = reconstruction + c · KL, with the reconstruction measured by default by the
spin-adapted error ε of the paper, so the network is not asked to guess which of two
globally flipped (degenerate) ordered states it was shown. Test outputs per sample: ε of
the deterministic reconstruction (z = μ), the latent mean μ and the KL term;
:class:`physml.callbacks.ReconstructionWriter` adds the images for chosen test streams.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from lightning_modules.base import OptimizerFactory, PhysmlModule, SchedulerFactory
from lightning_modules.components.vae_nets import ConvVAE
from physml.errors import require

RECON_LOSSES = ("eps", "mse", "bce")


def spin_adapted_error(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """ε = min(MSE(x, x̂), MSE(1 - x, x̂)) per sample, spins mapped to {0, 1}.

    0: perfect; 0.25: the uninformative constant 0.5; 0.5: the worst possible. The min
    makes a globally flipped reconstruction as good as the original (Z2 symmetry).
    """
    dims = tuple(range(1, x.ndim))
    direct = ((x - x_hat) ** 2).mean(dim=dims)
    flipped = ((1.0 - x - x_hat) ** 2).mean(dim=dims)
    return torch.minimum(direct, flipped)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) || N(0, 1)) per sample, summed over latent dimensions."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)


class VAE(PhysmlModule):
    """A VAE trained on configurations only (unsupervised): the input is its own target."""

    metric_directions: ClassVar[dict[str, str]] = {
        "val/loss": "min",
        "val/recon": "min",
        "val/kl": "min",
        "val/eps": "min",
    }

    def __init__(
        self,
        net: ConvVAE,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        kl_weight: float = 1.0e-3,
        recon_loss: str = "eps",
    ) -> None:
        super().__init__(optimizer, scheduler)
        require(
            recon_loss in RECON_LOSSES,
            "recon_loss",
            f"one of {list(RECON_LOSSES)}",
            recon_loss,
        )
        require(kl_weight >= 0, "kl_weight", "numbers >= 0", kl_weight)
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"])
        self.net = net
        self.kl_weight = float(kl_weight)
        self.recon_loss = recon_loss

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.net(x)

    def _recon(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """Per-sample reconstruction loss."""
        if self.recon_loss == "bce":
            return (
                F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).mean(-1)
            )
        x_hat = torch.sigmoid(logits)
        if self.recon_loss == "mse":
            return ((x - x_hat) ** 2).flatten(1).mean(-1)
        return spin_adapted_error(x, x_hat)

    def _shared_step(self, batch: dict[str, Any], stage: str) -> torch.Tensor:
        x = batch["input"]
        logits, mu, logvar = self.net(x)
        recon = self._recon(x, logits)
        kl = kl_divergence(mu, logvar)
        loss = (recon + self.kl_weight * kl).mean()
        bs = x.shape[0]
        logs = {
            f"{stage}/loss": loss,
            f"{stage}/recon": recon.mean(),
            f"{stage}/kl": kl.mean(),
            f"{stage}/eps": spin_adapted_error(x, torch.sigmoid(logits)).mean(),
        }
        self.log_dict(logs, prog_bar=False, on_step=False, on_epoch=True, batch_size=bs)
        self.log(
            f"{stage}/eps_bar",
            logs[f"{stage}/eps"],
            prog_bar=True,
            on_step=False,
            on_epoch=True,
            batch_size=bs,
            logger=False,
        )
        return loss

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self._shared_step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._shared_step(batch, "val")

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Deterministic reconstruction (z = μ) in [0, 1], with μ and log σ²."""
        logits, mu, logvar = self.net(x, sample=False)
        return torch.sigmoid(logits), mu, logvar

    def per_sample(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        x = batch["input"]
        x_hat, mu, logvar = self.reconstruct(x)
        return {"eps": spin_adapted_error(x, x_hat), "mu": mu, "kl": kl_divergence(mu, logvar)}
