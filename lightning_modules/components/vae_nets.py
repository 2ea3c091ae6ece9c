"""Convolutional VAE encoder/decoder for periodic lattices (circular padding throughout).

Why this shape: spin configurations live on a torus, so every convolution pads
circularly and the convolutional stacks commute with lattice translations. The encoder
ends in a global average over sites, which makes the latent code translation invariant
(for the superantiferromagnet a shift by one site equals a global spin flip, which the
flip-symmetric error ε ignores anyway). The decoder's only non-equivariant part is the
dense layer from the latent vector to a coarse (L/s x L/s) feature map; the stride-s
transposed convolution (no overlap, so no boundary) and the circular convolutions after
it are equivariant under translations by multiples of s.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from physml.errors import require


def circular_conv(c_in: int, c_out: int, kernel_size: int = 3) -> nn.Conv2d:
    """A 'same'-size convolution with periodic (circular) padding."""
    require(kernel_size % 2 == 1, "kernel_size", "odd integers", kernel_size)
    return nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, padding_mode="circular")


def conv_stack(
    channels: Sequence[int], kernel_size: int = 3, final_activation: bool = True
) -> nn.Sequential:
    """Circular convolutions channels[0] -> channels[1] -> ...; SiLU between them."""
    layers: list[nn.Module] = []
    for k, (a, b) in enumerate(zip(channels[:-1], channels[1:], strict=False)):
        layers.append(circular_conv(a, b, kernel_size))
        if final_activation or k < len(channels) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """Image (B, C, L, L) -> (mu, logvar), each (B, latent_dim).

    ``pooling="mean"`` averages the equivariant feature maps over sites (translation
    invariant code, any L); ``pooling="flatten"`` feeds all sites to the dense head
    (the classic VAE encoder; position-dependent, fixed L).
    """

    def __init__(
        self,
        image_size: int,
        latent_dim: int,
        in_channels: int = 1,
        channels: Sequence[int] = (16, 32, 32),
        kernel_size: int = 3,
        hidden: int = 64,
        pooling: str = "mean",
    ) -> None:
        super().__init__()
        require(pooling in ("mean", "flatten"), "pooling", "'mean' or 'flatten'", pooling)
        require(len(channels) >= 1, "channels", "a non-empty list", list(channels))
        self.features = conv_stack([in_channels, *channels], kernel_size)
        self.pooling = pooling
        width = channels[-1] * (1 if pooling == "mean" else image_size * image_size)
        self.head = nn.Sequential(
            nn.Linear(width, hidden), nn.SiLU(), nn.Linear(hidden, 2 * latent_dim)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        h = h.mean(dim=(-2, -1)) if self.pooling == "mean" else h.flatten(1)
        mu, logvar = self.head(h).chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 8.0)


class Decoder(nn.Module):
    """Latent (B, latent_dim) -> logits (B, C, L, L).

    Dense layers make a coarse (channels[0], L/upsample, L/upsample) map; a transposed
    convolution with kernel = stride = ``upsample`` paints each coarse cell's
    upsample x upsample pattern (stripes have period 2, so ``upsample=2`` draws them
    directly), then circular convolutions refine at full resolution.
    """

    def __init__(
        self,
        image_size: int,
        latent_dim: int,
        out_channels: int = 1,
        channels: Sequence[int] = (32, 32, 16),
        kernel_size: int = 3,
        hidden: int = 64,
        upsample: int = 2,
    ) -> None:
        super().__init__()
        require(upsample >= 1, "upsample", "integers >= 1", upsample)
        require(
            image_size % upsample == 0,
            "upsample",
            f"a divisor of the lattice size L={image_size}",
            upsample,
        )
        require(len(channels) >= 1, "channels", "a non-empty list", list(channels))
        self.coarse = image_size // upsample
        self.c0 = channels[0]
        self.dense = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, self.c0 * self.coarse**2),
            nn.SiLU(),
        )
        self.upsample = (
            nn.Sequential(
                nn.ConvTranspose2d(self.c0, self.c0, upsample, stride=upsample), nn.SiLU()
            )
            if upsample > 1
            else nn.Identity()
        )
        self.refine = conv_stack([*channels, out_channels], kernel_size, final_activation=False)

    def from_coarse(self, h: torch.Tensor) -> torch.Tensor:
        """The equivariant part: coarse feature map -> full-size logits."""
        return self.refine(self.upsample(h))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.dense(z).view(-1, self.c0, self.coarse, self.coarse)
        return self.from_coarse(h)


class ConvVAE(nn.Module):
    """Encoder + decoder; ``forward`` returns (logits, mu, logvar) with z sampled in training."""

    def __init__(
        self,
        image_size: int,
        latent_dim: int = 2,
        in_channels: int = 1,
        encoder_channels: Sequence[int] = (16, 32, 32),
        decoder_channels: Sequence[int] = (32, 32, 16),
        kernel_size: int = 3,
        hidden: int = 64,
        pooling: str = "mean",
        upsample: int = 2,
    ) -> None:
        super().__init__()
        require(latent_dim >= 1, "latent_dim", "integers >= 1", latent_dim)
        require(image_size >= 2, "image_size", "integers >= 2", image_size)
        self.latent_dim = latent_dim
        self.encoder = Encoder(
            image_size,
            latent_dim,
            in_channels,
            list(encoder_channels),
            kernel_size,
            hidden,
            pooling,
        )
        self.decoder = Decoder(
            image_size,
            latent_dim,
            in_channels,
            list(decoder_channels),
            kernel_size,
            hidden,
            upsample,
        )

    def forward(
        self, x: torch.Tensor, sample: bool | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x)
        if sample if sample is not None else self.training:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        else:
            z = mu
        return self.decoder(z), mu, logvar
