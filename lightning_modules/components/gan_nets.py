"""Generators and discriminators for image-to-image cGANs (pix2pix and pix2pixHD).

* :class:`UNetGenerator` — pix2pix (Isola et al. 2017): an encoder–decoder with skip
  connections down to a 1×1 bottleneck; dropout in the innermost decoder blocks plays
  the role of the noise z.
* :class:`GlobalGenerator` — pix2pixHD's global network (Wang et al. 2018): strided
  convolutions, residual blocks at the bottleneck, transposed convolutions back.
* :class:`MultiscaleDiscriminator` — ``num_scales`` PatchGANs on the pair (input, image)
  at successively halved resolutions; with ``num_scales=1`` and ``padding=1`` it is the
  pix2pix 70×70 PatchGAN. It returns every intermediate feature map so that the
  pix2pixHD feature-matching loss can use them.

No perceptual (VGG) loss: it needs pretrained weights, which are not available offline.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from physml.errors import require

NORMS = ("batch", "instance", "none")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    return nn.Identity()


class _UNetBlock(nn.Module):
    """One level: down-conv, the inner levels, up-conv, concatenated with the skip."""

    def __init__(
        self,
        outer: int,
        inner: int,
        sub: nn.Module | None,
        norm: str,
        dropout: float,
        outermost: bool = False,
        in_channels: int | None = None,
        out_channels: int | None = None,
    ) -> None:
        super().__init__()
        innermost = sub is None
        use_bias = norm != "batch"
        down_in = in_channels if outermost else outer
        down = [nn.Conv2d(down_in, inner, 4, 2, 1, bias=use_bias)]
        if not outermost:
            down = [nn.LeakyReLU(0.2, True), *down]
            if not innermost:
                down.append(_norm(norm, inner))
        up_in = inner if innermost else 2 * inner
        up_out = out_channels if outermost else outer
        up: list[nn.Module] = [
            nn.ReLU(True),
            nn.ConvTranspose2d(up_in, up_out, 4, 2, 1, bias=use_bias or outermost),
        ]
        if outermost:
            up.append(nn.Tanh())
        else:
            up.append(_norm(norm, outer))
            if dropout > 0:
                up.append(nn.Dropout(dropout))
        self.outermost = outermost
        self.model = nn.Sequential(*down, *([sub] if sub is not None else []), *up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], dim=1)


class UNetGenerator(nn.Module):
    """pix2pix U-Net: ``num_downs`` halvings (default: down to 1×1), tanh output in [-1, 1]."""

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        image_size: int = 128,
        ngf: int = 64,
        num_downs: int | None = None,
        norm: str = "batch",
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        require(norm in NORMS, "norm", f"one of {NORMS}", norm)
        require(0.0 <= dropout < 1.0, "dropout", "values in [0, 1)", dropout)
        if num_downs is None:
            require(
                image_size >= 4 and image_size & (image_size - 1) == 0,
                "image_size",
                "a power of 2 >= 4 for the U-Net (or set model.generator.num_downs)",
                image_size,
            )
            num_downs = int(math.log2(image_size))
        require(
            num_downs >= 2 and image_size % 2**num_downs == 0,
            "num_downs",
            f"an integer >= 2 with image_size ({image_size}) divisible by 2**num_downs",
            num_downs,
        )
        self.image_size = image_size
        mult = [min(2**i, 8) for i in range(num_downs)]  # channel multipliers per level
        block: nn.Module | None = None
        for level in range(num_downs - 1, 0, -1):  # build from the bottleneck outwards
            inner, outer = ngf * mult[level], ngf * mult[level - 1]
            # dropout in the (at most three) 8*ngf blocks around the bottleneck (pix2pix)
            drop = dropout if 0 < num_downs - 1 - level <= 3 and mult[level - 1] == 8 else 0.0
            block = _UNetBlock(outer, inner, block, norm, drop)
        self.net = _UNetBlock(
            ngf, ngf, block, norm, 0.0, outermost=True, in_channels=in_channels, out_channels=out_channels
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _ResBlock(nn.Module):
    def __init__(self, dim: int, norm: str) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3),
            _norm(norm, dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3),
            _norm(norm, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class GlobalGenerator(nn.Module):
    """pix2pixHD global generator: c7 → ``n_down`` stride-2 convs → residual blocks → up → c7."""

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        image_size: int = 128,
        ngf: int = 64,
        n_down: int = 3,
        n_blocks: int = 9,
        norm: str = "instance",
    ) -> None:
        super().__init__()
        require(norm in NORMS, "norm", f"one of {NORMS}", norm)
        require(
            n_down >= 1 and image_size % 2**n_down == 0 and image_size // 2**n_down >= 2,
            "n_down",
            f"an integer >= 1 with image_size ({image_size}) / 2**n_down an integer >= 2",
            n_down,
        )
        require(n_blocks >= 0, "n_blocks", "integers >= 0", n_blocks)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7),
            _norm(norm, ngf),
            nn.ReLU(True),
        ]
        ch = ngf
        for _ in range(n_down):
            layers += [nn.Conv2d(ch, 2 * ch, 3, 2, 1), _norm(norm, 2 * ch), nn.ReLU(True)]
            ch *= 2
        layers += [_ResBlock(ch, norm) for _ in range(n_blocks)]
        for _ in range(n_down):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 3, 2, 1, output_padding=1),
                _norm(norm, ch // 2),
                nn.ReLU(True),
            ]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN: ``n_layers`` stride-2 convs + two stride-1 convs; one logit per patch."""

    def __init__(
        self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch", padding: int = 1
    ) -> None:
        super().__init__()
        use_bias = norm != "batch"
        blocks: list[nn.Sequential] = [
            nn.Sequential(nn.Conv2d(in_channels, ndf, 4, 2, padding), nn.LeakyReLU(0.2, True))
        ]
        ch = ndf
        for i in range(1, n_layers + 1):
            out = ndf * min(2**i, 8)
            stride = 2 if i < n_layers else 1
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(ch, out, 4, stride, padding, bias=use_bias),
                    _norm(norm, out),
                    nn.LeakyReLU(0.2, True),
                )
            )
            ch = out
        blocks.append(nn.Sequential(nn.Conv2d(ch, 1, 4, 1, padding)))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        return feats


class MultiscaleDiscriminator(nn.Module):
    """``num_scales`` PatchGANs on (input, image) pairs, scale k at 1/2**k resolution.

    ``forward`` returns, per scale, the list of feature maps (the last is the logits).
    """

    def __init__(
        self,
        input_channels: int = 1,
        output_channels: int = 1,
        image_size: int = 128,
        ndf: int = 64,
        n_layers: int = 3,
        num_scales: int = 1,
        norm: str = "batch",
        padding: int = 1,
    ) -> None:
        super().__init__()
        require(norm in NORMS, "norm", f"one of {NORMS}", norm)
        require(num_scales >= 1, "num_scales", "integers >= 1", num_scales)
        require(n_layers >= 1, "n_layers", "integers >= 1", n_layers)
        require(padding in (1, 2), "padding", "1 (pix2pix) or 2 (pix2pixHD)", padding)
        smallest = image_size // 2 ** (num_scales - 1)
        require(
            _patch_out(smallest, n_layers, padding) >= 1,
            "n_layers",
            f"fewer layers or scales: image_size {image_size} at scale {num_scales - 1} "
            f"({smallest} px) leaves no patch",
            n_layers,
        )
        c = input_channels + output_channels
        self.scales = nn.ModuleList(
            PatchDiscriminator(c, ndf, n_layers, norm, padding) for _ in range(num_scales)
        )
        self.down = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, condition: torch.Tensor, image: torch.Tensor) -> list[list[torch.Tensor]]:
        x = torch.cat([condition, image], dim=1)
        out = []
        for k, disc in enumerate(self.scales):
            if k:
                x = self.down(x)
            out.append(disc(x))
        return out


def _patch_out(size: int, n_layers: int, padding: int) -> int:
    """Spatial size of the PatchGAN logits for a ``size`` input (0 or less: too small)."""
    for i in range(n_layers + 2):
        stride = 2 if i < n_layers else 1
        size = (size + 2 * padding - 4) // stride + 1
        if size < 1:
            return 0
    return size
