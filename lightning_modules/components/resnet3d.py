"""A 3D ResNet18 for scalar fields on a periodic cubic lattice (|ψ|² of the Anderson model).

torchvision's ``r3d_18`` is built for video: its stem convolves (3, 7, 7) with stride
(1, 2, 2), treating the first axis as time. A |ψ|² volume has three equivalent axes and
periodic boundaries, so this wrapper offers an isotropic stem and circular padding in
every convolution (the network is then equivariant to lattice translations on the torus,
as the physics is: a localised state's centre is anywhere). Never pretrained.
"""

from __future__ import annotations

from torch import nn
from torchvision.models.video import r3d_18

from physml.errors import require

STEMS = ("cubic", "small", "video")


def resnet3d18(
    in_channels: int,
    num_outputs: int,
    stem: str = "cubic",
    periodic: bool = True,
) -> nn.Module:
    """r3d_18 with a stem for ``in_channels``-channel cubic volumes.

    ``stem="cubic"``: 7³ convolution, stride 2 (the ImageNet stem made isotropic; an M³
    volume becomes (M/2)³). ``stem="small"``: 3³ convolution, stride 1, which keeps the
    resolution of small lattices (M ≤ 16) at a higher cost. ``stem="video"``:
    torchvision's (3, 7, 7)/(1, 2, 2) stem, for comparison. ``periodic`` switches every
    convolution to circular padding (periodic boundary conditions).
    """
    require(stem in STEMS, "stem", f"one of {STEMS}", stem)
    require(in_channels >= 1, "in_channels", "integers >= 1", in_channels)
    require(num_outputs >= 1, "num_outputs", "integers >= 1", num_outputs)
    net = r3d_18(weights=None, num_classes=num_outputs)
    if stem == "cubic":
        conv = nn.Conv3d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    elif stem == "small":
        conv = nn.Conv3d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    else:
        conv = nn.Conv3d(in_channels, 64, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False)
    net.stem[0] = conv
    if periodic:
        for module in net.modules():
            if isinstance(module, nn.Conv3d) and any(p > 0 for p in module.padding):
                # Conv3d pads with F.pad(mode="circular") when padding_mode is not "zeros";
                # the padding amounts it needs are set at construction for every mode.
                module.padding_mode = "circular"
    return net
