"""A weight-tied recurrent convolutional network that can represent percolation spanning.

Why: a feed-forward CNN sees a fixed neighbourhood, so on spanning labels it falls back on
the density p as a proxy (review section 3). Spanning is a global connectivity question,
but it has a *local iterative* algorithm: flood fill. Tag the occupied sites on each edge,
and at every step tag an occupied site whose nearest neighbour is tagged; after enough
steps a lattice spans when a top tag reaches the bottom row or a left tag the right column.
``FloodFillRNN`` is a learner whose one small block, applied ``iterations`` times with the
same weights, can express that rule exactly and so runs at any L.

Design choices, each against a failure seen in early probes (shared/notes/spanning-probes.md):

- The state is masked by occupancy and bounded by a *hard* clamp to [0, 1]: a soft gate
  (sigmoid) never outputs exactly 0, so tags leak into every occupied site over hundreds
  of steps; ``clamp`` has exact zeros, and a site stays untagged until a neighbour is.
- The update is monotone, h <- max(h, x * clamp(f(h, x, edges))): a tag is never lost, so
  running more steps than were trained cannot undo an answer (stable extrapolation to
  large L with proportionally more steps).
- The lattice and four edge masks are fed at every step ("input recall", Bansal et al.
  2022), so the block can seed tags on the edges and gate by occupancy at any depth.
- Zero padding and a readout from the maxima of the final state over the four edge strips
  respect open boundaries: nothing wraps around.

Default depth: ``iterations = ceil(steps_per_length * L)``. The flood needs as many steps
as the chemical distance between opposite edges, which grows like L^1.13 at p_c; measured
on spanning lattices at p_c(L) its ratio to L has 99th percentiles 1.7 (L = 12), 2.0
(L = 32), 2.3 (L = 64), and maxima up to 2.9 (L = 64), so the default 4 L leaves a margin
that covers L = 256 (where the L^0.13 drift adds about 30 % over L = 32).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from physml.errors import require

EDGES = ("top", "bottom", "left", "right")


def edge_masks(height: int, width: int, device: torch.device | None = None) -> torch.Tensor:
    """(4, H, W) indicator maps of the top row, bottom row, left column and right column."""
    m = torch.zeros(4, height, width, device=device)
    m[0, 0, :] = 1.0
    m[1, -1, :] = 1.0
    m[2, :, 0] = 1.0
    m[3, :, -1] = 1.0
    return m


@torch.no_grad()
def edge_connectivity(x: torch.Tensor, max_steps: int | None = None) -> torch.Tensor:
    """Exact per-site maps "occupied and connected to edge k" (k = top, bottom, left, right).

    x: (B, 1, H, W) occupation in {0, 1}. Flood fill through nearest neighbours with open
    boundaries, run until nothing changes (or ``max_steps``). Used as dense auxiliary
    targets and as the reference in tests; equals the Hoshen-Kopelman clusters touching
    each edge.
    """
    require(x.dim() == 4 and x.shape[1] == 1, "x", "a (B, 1, H, W) tensor", tuple(x.shape))
    occ = (x > 0.5).float()
    H, W = occ.shape[-2:]
    h = occ * edge_masks(H, W, occ.device)[None]  # (B, 4, H, W)
    cross = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]], device=occ.device)
    kernel = cross.view(1, 1, 3, 3).repeat(4, 1, 1, 1)
    steps = 0
    limit = max_steps if max_steps is not None else H * W
    while steps < limit:
        new = (F.conv2d(h, kernel, padding=1, groups=4) > 0).float() * occ
        steps += 1
        if torch.equal(new, h):
            break
        h = new
    return h


def spanning_from_connectivity(conn: torch.Tensor) -> torch.Tensor:
    """Spanning flags (B,) from edge-connectivity maps: a top tag on the bottom row, or a left
    tag on the right column (one cluster touches both opposite edges)."""
    tb = conn[:, 0, -1, :].amax(-1) > 0.5
    lr = conn[:, 2, :, -1].amax(-1) > 0.5
    return tb | lr


def hard_clamp(u: torch.Tensor, slope: float) -> torch.Tensor:
    """clamp(u, 0, 1) in the forward pass; gradient 1 inside and ``slope`` outside [0, 1].

    The forward value has exact zeros (no leaking tags), while the surrogate gradient lets a
    site that is wrongly off (or saturated) still learn: with a plain clamp, a randomly
    initialised block leaves most channels dead and receives no gradient at all.
    """
    y = u.clamp(0.0, 1.0)
    if slope == 0.0 or not u.requires_grad:
        return y
    leak = slope * (u - y)
    return y + leak - leak.detach()


def hard_step(u: torch.Tensor, slope: float) -> torch.Tensor:
    """Heaviside step at 1/2 in the forward pass (a tag is exactly 0 or 1, so it cannot decay
    along a long path); the surrogate gradient is that of ``hard_clamp``."""
    y = (u > 0.5).to(u.dtype)
    if not u.requires_grad:
        return y
    soft = hard_clamp(u, slope)
    return y + soft - soft.detach()


class FloodFillRNN(nn.Module):
    """Weight-tied recurrent CNN for spanning: (B, 1, L, L) occupation -> (B, 2) logits.

    ``channels`` hidden maps in [0, 1]; the step block is conv3x3 -> ReLU -> conv1x1 on
    [state, occupation, four edge masks], clamped to [0, 1], gated by occupancy and merged
    with the state by a maximum. The first four channels are the ones that auxiliary
    supervision (``aux_maps``) ties to "connected to top/bottom/left/right"; without it they
    are free like the rest. ``iterations=None`` (the default) runs ``ceil(steps_per_length
    * L)`` steps, so the same weights apply at every L.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_outputs: int = 2,
        channels: int = 8,
        hidden: int = 16,
        steps_per_length: float = 4.0,
        iterations: int | None = None,
        readout_hidden: int = 16,
        surrogate_slope: float = 0.1,
        homogeneous: bool = False,
        binary: bool = False,
    ) -> None:
        super().__init__()
        require(in_channels == 1, "model.net.in_channels", "1 (an occupation image)", in_channels)
        require(num_outputs == 2, "model.net.num_outputs", "2 (non-spanning, spanning)", num_outputs)
        require(channels >= 4, "model.net.channels", "integers >= 4", channels)
        require(hidden >= 0, "model.net.hidden", "integers >= 0 (0: one 3x3 convolution)", hidden)
        require(steps_per_length > 0, "model.net.steps_per_length", "a number > 0", steps_per_length)
        require(
            iterations is None or (isinstance(iterations, int) and iterations >= 1),
            "model.net.iterations",
            "null (scale with L) or an integer >= 1",
            iterations,
        )
        require(0 <= surrogate_slope <= 1, "model.net.surrogate_slope", "a number in [0, 1]", surrogate_slope)
        self.channels = channels
        self.surrogate_slope = float(surrogate_slope)
        self.steps_per_length = float(steps_per_length)
        self.iterations = iterations
        self.homogeneous = homogeneous
        self.binary = binary
        n_in = channels + (4 if homogeneous else 5)
        if hidden > 0:
            self.conv_in = nn.Conv2d(n_in, hidden, kernel_size=3, padding=1, bias=not homogeneous)
            self.conv_out = nn.Conv2d(hidden, channels, kernel_size=1, bias=not homogeneous)
        else:
            self.conv_in = nn.Conv2d(n_in, channels, kernel_size=3, padding=1, bias=not homogeneous)
            self.conv_out = None
        self.readout = nn.Sequential(
            nn.Linear(4 * channels, readout_hidden), nn.ReLU(), nn.Linear(readout_hidden, num_outputs)
        )

    def iterations_for(self, size: int) -> int:
        """Number of recurrent steps for an L x L lattice."""
        if self.iterations is not None:
            return self.iterations
        return max(1, math.ceil(self.steps_per_length * size))

    def step(self, h: torch.Tensor, occ: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
        """One application of the shared block."""
        parts = [h] if self.homogeneous else [h, occ]
        z = torch.cat([*parts, edges.expand(h.shape[0], -1, -1, -1)], dim=1)
        u = self.conv_in(z)
        if self.conv_out is not None:
            u = self.conv_out(F.relu(u))
        g = hard_step(u, self.surrogate_slope) if self.binary else hard_clamp(u, self.surrogate_slope)
        return torch.maximum(h, occ * g)

    def run(
        self,
        x: torch.Tensor,
        iterations: int | None = None,
        grad_steps: int | None = None,
        record: tuple[int, ...] = (),
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Final state (B, channels, H, W) and the states after the steps listed in ``record``.

        ``grad_steps`` keeps the autograd graph of the last ``grad_steps`` steps only
        (truncated backpropagation through time); earlier steps run without a graph.
        """
        require(x.dim() == 4 and x.shape[1] == 1, "x", "a (B, 1, H, W) tensor", tuple(x.shape))
        H, W = x.shape[-2:]
        n = iterations if iterations is not None else self.iterations_for(max(H, W))
        occ = x.float()
        edges = edge_masks(H, W, x.device)[None]
        h = torch.zeros(x.shape[0], self.channels, H, W, device=x.device)
        kept: dict[int, torch.Tensor] = {0: h} if 0 in record else {}
        first_grad = n - grad_steps if grad_steps is not None else 0
        for t in range(n):
            with torch.set_grad_enabled(torch.is_grad_enabled() and t >= first_grad):
                h = self.step(h, occ, edges)
            if t + 1 in record:
                kept[t + 1] = h.detach()
        return h, kept

    def read(self, h: torch.Tensor) -> torch.Tensor:
        """Logits from the maxima of each channel over the four edge strips."""
        feats = torch.cat(
            [h[:, :, 0, :].amax(-1), h[:, :, -1, :].amax(-1), h[:, :, :, 0].amax(-1), h[:, :, :, -1].amax(-1)],
            dim=1,
        )
        return self.readout(feats)

    def forward(self, x: torch.Tensor, iterations: int | None = None) -> torch.Tensor:
        h, _ = self.run(x, iterations)
        return self.read(h)

    def aux_maps(self, h: torch.Tensor) -> torch.Tensor:
        """The four channels that auxiliary supervision ties to edge connectivity."""
        return h[:, :4]

    def losses(
        self,
        x: torch.Tensor,
        target: torch.Tensor,
        aux_weight: float = 1.0,
        fixed_point_weight: float = 1.0,
        iterations: int | None = None,
        grad_steps: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """Training losses: cross-entropy on the spanning label plus two dense terms.

        ``aux``: MSE between the first four channels after the run and the exact maps
        "connected to top/bottom/left/right" (a function of x alone, by flood fill).
        ``fixed_point``: the exact maps, fed in as the state, must come out of one step
        unchanged. Why the second term: with only the final maps, a tag that hops to a wrong
        cluster (e.g. diagonally) makes that whole cluster wrong, and the gradient blames the
        correct nearest-neighbour propagation inside it as much as the one wrong hop; the
        fixed-point condition puts the error on the hop itself.
        """
        h, _ = self.run(x, iterations, grad_steps=grad_steps)
        out = {"ce": F.cross_entropy(self.read(h), target)}
        if aux_weight > 0 or fixed_point_weight > 0:
            conn = edge_connectivity(x)
            if aux_weight > 0:
                out["aux"] = F.mse_loss(self.aux_maps(h), conn)
            if fixed_point_weight > 0:
                exact = torch.cat([conn, h[:, 4:].detach()], dim=1)
                edges = edge_masks(*x.shape[-2:], device=x.device)[None]
                out["fixed_point"] = F.mse_loss(self.aux_maps(self.step(exact, x.float(), edges)), conn)
        out["loss"] = (
            out["ce"]
            + aux_weight * out.get("aux", torch.zeros(()))
            + fixed_point_weight * out.get("fixed_point", torch.zeros(()))
        )
        return out
