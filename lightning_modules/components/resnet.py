"""torchvision ResNets with the stem adapted to physics inputs (never pretrained)."""

from __future__ import annotations

from torch import nn
from torchvision.models import resnet18 as tv_resnet18

from physml.errors import require


def resnet18(in_channels: int, num_outputs: int, stem: str = "imagenet") -> nn.Module:
    """ResNet18 for ``in_channels``-channel images.

    ``stem="imagenet"`` keeps torchvision's 7×7/2 convolution and max-pool (what the paper
    ran); ``stem="small"`` uses a 3×3/1 convolution without pooling, which keeps the
    resolution of small lattices (a 32×32 state is not reduced to 1×1 before the head).
    """
    require(stem in ("imagenet", "small"), "stem", "'imagenet' or 'small'", stem)
    require(in_channels >= 1, "in_channels", "integers >= 1", in_channels)
    require(num_outputs >= 1, "num_outputs", "integers >= 1", num_outputs)
    net = tv_resnet18(weights=None, num_classes=num_outputs)
    if stem == "imagenet":
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    else:
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    return net

