"""A weight-tied recurrent convolutional network that learns percolation spanning.

Why: a feed-forward CNN sees a fixed neighbourhood, so on spanning labels it falls back on
the density p as a proxy (review section 3). Spanning is a global connectivity question,
but it has a *local iterative* algorithm, flood fill: tag the occupied sites on an edge,
then repeatedly tag every occupied site next to a tagged one. ``FloodFillRNN`` is a learner
whose single 3x3 block, applied ``iterations`` times with the same weights, *can* express
that rule, and so runs unchanged at any L. Whether it does is learned from data.

Design, each choice against a failure seen in the probes (shared/notes/spanning-probes.md):

- State: four maps in [0, 1], one per lattice edge (top, bottom, left, right), masked by
  occupancy. The step reads the state and four edge masks (input recall, Bansal et al.
  2022) through one 3x3 convolution, without bias, so an untagged region with no edge
  stays exactly 0 ("nothing from nothing").
- Monotone, hard update: h <- max(h, occ * clamp(conv)). A sigmoid never outputs exact
  zeros, so tags leaked into every occupied site over hundreds of steps; ``clamp`` has
  exact zeros, and ``max`` never loses a tag, so extra steps cannot undo an answer.
- Hard tags at inference: in eval mode the clamp becomes a step at 1/2, so a tag is 0 or
  1 and cannot decay along a path hundreds of sites long; a binary monotone state also
  reaches an exact fixed point, after which the run stops early with the same answer.
- Symmetry: the square lattice's D4 group permutes the four edges, so the four edge
  channels share one set of eight kernels, rotated and reflected (72 free weights). The
  network is exactly equivariant, and a move that is rare for one edge's channel (a
  path turning back towards its own edge) is learned from all four.
- Readout from the maxima of each channel over the four edge strips: zero padding and
  edge reads respect open boundaries (nothing wraps around).

Depth: ``iterations = ceil(steps_per_length * L)``. The flood needs as many steps as the
chemical distance between opposite edges, which grows like L^1.13 at p_c. Measured on
spanning lattices at p_c(L), its ratio to L has 99th percentiles 1.7 (L = 12), 2.0 (32),
2.3 (64), 2.5 (128) and maxima 2.2, 2.8, 2.9, 2.8; the default 4 L leaves a margin for
L = 256 (L^0.13 adds 9 % from 128 to 256). A converged run stops early, so the margin
costs nothing there.

Training (see ``training_losses``) uses the spanning label plus dense targets derived from the
input alone: which sites are connected to each edge (flood fill, equal to the
Hoshen-Kopelman clusters touching that edge).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

from physml.errors import require

EDGES = ("top", "bottom", "left", "right")
# Edge permutations under torch.rot90(., 1, (-2, -1)) (top row -> left column, left ->
# bottom, bottom -> right, right -> top) and under a left-right flip (left <-> right).
_ROT = (2, 3, 1, 0)
_FLIP = (0, 1, 3, 2)


def edge_masks(height: int, width: int, device: torch.device | None = None) -> torch.Tensor:
    """(4, H, W) indicator maps of the top row, bottom row, left column and right column."""
    m = torch.zeros(4, height, width, device=device)
    m[0, 0, :] = 1.0
    m[1, -1, :] = 1.0
    m[2, :, 0] = 1.0
    m[3, :, -1] = 1.0
    return m


@torch.no_grad()
def edge_connectivity(x: torch.Tensor) -> torch.Tensor:
    """Exact (B, 4, H, W) maps "occupied and connected to the top/bottom/left/right edge".

    x: (B, 1, H, W) occupation in {0, 1}. Nearest-neighbour clusters with open boundaries
    (``scipy.ndimage.label``, linear in the number of sites), then every cluster that
    touches an edge strip. These are the dense training targets and a test reference.
    """
    require(x.dim() == 4 and x.shape[1] == 1, "x", "a (B, 1, H, W) tensor", tuple(x.shape))
    occ = (x[:, 0] > 0.5).cpu().numpy()
    out = np.zeros((occ.shape[0], 4, *occ.shape[1:]), dtype=np.float32)
    for i, lattice in enumerate(occ):
        labels, n = ndimage.label(lattice)
        for k, strip in enumerate((labels[0], labels[-1], labels[:, 0], labels[:, -1])):
            touching = np.zeros(n + 1, dtype=bool)
            touching[strip] = True
            touching[0] = False
            out[i, k] = touching[labels]
    return torch.from_numpy(out).to(device=x.device, dtype=x.dtype if x.is_floating_point() else torch.float32)


@torch.no_grad()
def chemical_distance(x: torch.Tensor) -> torch.Tensor:
    """(B, 4, H, W) step at which exact flood fill from each edge first tags a site.

    Step 1 tags the occupied sites on the edge strip, step t + 1 the occupied nearest
    neighbours of sites tagged by step t (the chemical distance to the edge plus one);
    sites never reached are ``inf``. ``distance <= t`` is the exact state after t steps,
    and ``distance < inf`` equals ``edge_connectivity(x)``.
    """
    require(x.dim() == 4 and x.shape[1] == 1, "x", "a (B, 1, H, W) tensor", tuple(x.shape))
    H, W = x.shape[-2:]
    occ = (x > 0.5).float()
    masks = edge_masks(H, W, x.device)[None]
    cross = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]], device=x.device)
    cross = cross.expand(4, 1, 3, 3)
    h = occ.new_zeros(x.shape[0], 4, H, W)
    dist = torch.full_like(h, math.inf)
    t = 0
    while True:
        t += 1
        new = occ * ((F.conv2d(h, cross, padding=1, groups=4) + masks) > 0).float()
        fresh = new > h
        if not fresh.any():
            return dist
        dist[fresh] = float(t)
        h = new


def spanning_from_connectivity(conn: torch.Tensor) -> torch.Tensor:
    """(B,) spanning flags from edge maps: a top tag on the bottom row or a left tag on the
    right column, i.e. one cluster touches two opposite edges."""
    tb = conn[:, 0, -1, :].amax(-1) > 0.5
    lr = conn[:, 2, :, -1].amax(-1) > 0.5
    return tb | lr


def hard_clamp(u: torch.Tensor, slope: float) -> torch.Tensor:
    """clamp(u, 0, 1) forward; gradient 1 inside and ``slope`` outside [0, 1].

    The forward value keeps exact zeros; the surrogate slope lets a wrongly untagged
    (u < 0) or saturated site still learn, where a plain clamp gives no gradient at all.
    """
    y = u.clamp(0.0, 1.0)
    if slope == 0.0 or not u.requires_grad:
        return y
    leak = slope * (u - y)
    return y + leak - leak.detach()


class FloodFillRNN(nn.Module):
    """D4-equivariant weight-tied recurrent CNN: (B, 1, L, L) occupation -> (B, 2) logits.

    Logit 0 is non-spanning, 1 spanning. ``iterations=None`` runs ``ceil(steps_per_length
    * L)`` steps, so the same weights apply at every L. Training mode uses the clamped
    (continuous) update; eval mode thresholds tags at 1/2 (see the module docstring).
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_outputs: int = 2,
        steps_per_length: float = 4.0,
        iterations: int | None = None,
        surrogate_slope: float = 0.1,
        gain: float = 1.0,
        early_exit: bool = True,
        aux_weight: float = 1.0,
        fixed_point_weight: float = 20.0,
        grad_steps: int | None = None,
        front_weight: float = 0.0,
    ) -> None:
        super().__init__()
        require(in_channels == 1, "model.net.in_channels", "1 (an occupation image)", in_channels)
        require(num_outputs == 2, "model.net.num_outputs", "2 (non-spanning, spanning)", num_outputs)
        require(
            isinstance(steps_per_length, (int, float)) and steps_per_length > 0,
            "model.net.steps_per_length",
            "a number > 0",
            steps_per_length,
        )
        require(
            iterations is None or (isinstance(iterations, int) and iterations >= 1),
            "model.net.iterations",
            "null (scale with L) or an integer >= 1",
            iterations,
        )
        require(0 <= surrogate_slope <= 1, "model.net.surrogate_slope", "a number in [0, 1]", surrogate_slope)
        self.steps_per_length = float(steps_per_length)
        self.iterations = iterations
        require(gain >= 1, "model.net.gain", "a number >= 1", gain)
        self.surrogate_slope = float(surrogate_slope)
        self.gain = float(gain)
        self.early_exit = early_exit
        require(aux_weight >= 0, "model.net.aux_weight", "a number >= 0", aux_weight)
        require(fixed_point_weight >= 0, "model.net.fixed_point_weight", "a number >= 0", fixed_point_weight)
        require(
            grad_steps is None or (isinstance(grad_steps, int) and grad_steps >= 1),
            "model.net.grad_steps",
            "null (backpropagate through every step) or an integer >= 1",
            grad_steps,
        )
        require(front_weight >= 0, "model.net.front_weight", "a number >= 0", front_weight)
        self.front_weight = float(front_weight)
        self.aux_weight = float(aux_weight)
        self.fixed_point_weight = float(fixed_point_weight)
        self.grad_steps = grad_steps
        # kernels of the top channel's update from [state (4 edges), edge masks (4 edges)];
        # the other three channels use rotations of them
        self.kernels = nn.Parameter(torch.empty(8, 3, 3))
        nn.init.kaiming_uniform_(self.kernels.view(1, 8, 3, 3), a=math.sqrt(5))
        self.readout = nn.Linear(16, num_outputs)

    # ----------------------------------------------------------------- the shared block

    def weight(self) -> torch.Tensor:
        """The (4, 8, 3, 3) convolution weight, built from the eight base kernels so that
        the step commutes with every rotation and reflection of the lattice."""
        v = self.kernels
        flip_in = list(_FLIP) + [4 + c for c in _FLIP]
        v = 0.5 * (v + torch.flip(v[flip_in], dims=(-1,)))  # left-right symmetric top channel
        w = v.new_zeros(4, 8, 3, 3)
        out_c, in_c, k = 0, list(range(8)), v
        for _ in range(4):
            w[out_c, in_c] = k
            out_c = _ROT[out_c]
            in_c = [_ROT[c] if c < 4 else 4 + _ROT[c - 4] for c in in_c]
            k = torch.rot90(k, 1, dims=(-2, -1))
        return w

    def soft(self, u: torch.Tensor) -> torch.Tensor:
        """The training-mode tag: clamp(gain * (u - 1/2) + 1/2) with a surrogate gradient; it
        agrees with the eval-mode step at 1/2 except in a band of width 1/gain around it."""
        return hard_clamp(self.gain * (u - 0.5) + 0.5, self.surrogate_slope)

    def iterations_for(self, size: int) -> int:
        """Number of recurrent steps for an L x L lattice."""
        if self.iterations is not None:
            return self.iterations
        return max(1, math.ceil(self.steps_per_length * size))

    def run(
        self,
        x: torch.Tensor,
        iterations: int | None = None,
        grad_steps: int | None = None,
        record: tuple[int, ...] = (),
        hard: bool | None = None,
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Final state (B, 4, H, W) and the states after the steps listed in ``record``.

        ``hard`` (default: eval mode) thresholds tags at 1/2. ``grad_steps`` keeps the
        autograd graph of the last ``grad_steps`` steps only (truncated backpropagation
        through time). A hard run that reaches a fixed point stops early (exactly the same
        result) unless ``early_exit=False`` or states are recorded later than that.
        """
        require(x.dim() == 4 and x.shape[1] == 1, "x", "a (B, 1, H, W) tensor", tuple(x.shape))
        H, W = x.shape[-2:]
        require(H == W, "x", "square lattices (the symmetric block assumes L x L)", tuple(x.shape))
        n = iterations if iterations is not None else self.iterations_for(H)
        hard = (not self.training) if hard is None else hard
        occ = (x > 0.5).to(self.kernels.dtype)
        w = self.weight()
        seed = F.conv2d(edge_masks(H, W, x.device)[None], w[:, 4:], padding=1)  # constant input
        w_state = w[:, :4]
        h = occ.new_zeros(x.shape[0], 4, H, W)
        kept: dict[int, torch.Tensor] = {0: h} if 0 in record else {}
        last_record = max(record, default=0)
        first_grad = n - grad_steps if grad_steps is not None else 0
        for t in range(n):
            with torch.set_grad_enabled(torch.is_grad_enabled() and t >= first_grad):
                u = F.conv2d(h, w_state, padding=1) + seed
                g = (u > 0.5).to(u.dtype) if hard else self.soft(u)
                new = torch.maximum(h, occ * g)
            if t + 1 in record:
                kept[t + 1] = new.detach()
            if hard and self.early_exit and t + 1 >= last_record and torch.equal(new, h):
                h = new
                break
            h = new
        return h, kept

    def read(self, h: torch.Tensor) -> torch.Tensor:
        """Logits from the maxima of each channel over the four edge strips (16 features)."""
        feats = torch.cat(
            [h[:, :, 0, :].amax(-1), h[:, :, -1, :].amax(-1), h[:, :, :, 0].amax(-1), h[:, :, :, -1].amax(-1)],
            dim=1,
        )
        return self.readout(feats)

    def forward(self, x: torch.Tensor, iterations: int | None = None) -> torch.Tensor:
        h, _ = self.run(x, iterations)
        return self.read(h)

    # ----------------------------------------------------------------- training

    def training_losses(
        self,
        x: torch.Tensor,
        target: torch.Tensor,
        iterations: int | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Logits of the training-mode run and the losses: cross-entropy on the spanning
        label plus two dense terms (``SupervisedModule`` trains on ``losses["loss"]``).

        ``aux``: MSE between the state after the run and the exact edge-connectivity maps
        (``edge_connectivity(x)``, a function of the input alone). ``fixed_point``: the
        exact maps, fed in as the state, must come out of one step unchanged. Why the
        second term: with final maps only, a tag that hops into a wrong cluster (e.g.
        diagonally) makes that whole cluster wrong, and the gradient blames the correct
        nearest-neighbour moves inside it as much as the one wrong hop; the fixed-point
        condition puts the error on the hop itself.

        ``front`` (``front_weight > 0``): the fixed-point term only punishes tags that should
        not be there (a block that never moves a tag satisfies it). This one punishes both
        kinds of error of a single step: fed the exact state after t flood steps (sites
        within chemical distance t - 1 of each edge, t drawn per lattice), one step must
        give the exact state after t + 1. Each lattice thus teaches the local rule at every
        depth through one convolution, however large L is, where the loss on the final
        state must reach it through 4 L steps (at L = 32 a run with the other terms alone
        stayed at the no-tag state for 150 Adam steps).
        """
        aux_weight, fixed_point_weight = self.aux_weight, self.fixed_point_weight
        h, _ = self.run(x, iterations, grad_steps=self.grad_steps, hard=False)
        logits = self.read(h)
        out = {"ce": F.cross_entropy(logits, target)}
        total = out["ce"]
        if aux_weight > 0 or fixed_point_weight > 0:
            conn = edge_connectivity(x)
            if aux_weight > 0:
                out["aux"] = F.mse_loss(h, conn)
                total = total + aux_weight * out["aux"]
            if fixed_point_weight > 0:
                w = self.weight()
                L = x.shape[-1]
                z = torch.cat([conn, edge_masks(L, L, x.device)[None].expand(len(x), -1, -1, -1)], dim=1)
                u = F.conv2d(z, w, padding=1)
                again = torch.maximum(conn, (x > 0.5).to(u.dtype) * self.soft(u))
                out["fixed_point"] = F.mse_loss(again, conn)
                total = total + fixed_point_weight * out["fixed_point"]
        if self.front_weight > 0:
            out["front"] = self.front_loss(x)
            total = total + self.front_weight * out["front"]
        out["loss"] = total
        return logits, out


    def front_loss(self, x: torch.Tensor) -> torch.Tensor:
        """MSE of one training-mode step from the exact state after t flood steps against
        the exact state after t + 1, with t uniform in [0, the lattice's last flood step],
        averaged over the sites one step can change (untagged, occupied, next to a tag or
        on the edge strip; the 3x3 neighbourhood, so diagonal hops are punished too)."""
        dist = chemical_distance(x)
        finite = torch.where(torch.isinf(dist), torch.zeros_like(dist), dist)
        last = finite.flatten(1).amax(1)  # (B,) the step at which the flood stops
        t = torch.floor(torch.rand(len(x), device=x.device) * (last + 1)).view(-1, 1, 1, 1)
        state, target = (dist <= t).to(x.dtype), (dist <= t + 1).to(x.dtype)
        L = x.shape[-1]
        z = torch.cat([state, edge_masks(L, L, x.device)[None].expand(len(x), -1, -1, -1)], dim=1)
        u = F.conv2d(z, self.weight(), padding=1)
        occ = (x > 0.5).to(u.dtype)
        step = torch.maximum(state, occ * self.soft(u))
        # where one step can change anything: untagged occupied sites next to a tag or on
        # the edge strip (a mean over all sites would be dominated by the settled ones)
        near = F.max_pool2d(state, 3, stride=1, padding=1)
        cross_near = torch.maximum(near, z[:, 4:])
        cand = occ * (1 - state) * (cross_near > 0).to(u.dtype)
        return ((step - target) ** 2 * cand).sum() / cand.sum().clamp(min=1.0)


# --------------------------------------------------------------------------- figure

_TAG_COLOURS = {"top": (0.85, 0.1, 0.1), "bottom": (0.1, 0.3, 0.9), "left": (0.1, 0.65, 0.2), "right": (0.95, 0.6, 0.0)}


def _tag_image(occ: np.ndarray, h: np.ndarray, channels: tuple[int, int]) -> np.ndarray:
    """RGB: empty white, occupied grey, sites tagged by one of the two edges in that edge's
    colour, by both in the mean colour (a cluster joining two opposite edges)."""
    img = np.ones((*occ.shape, 3))
    img[occ] = 0.78
    cols = np.array([_TAG_COLOURS[EDGES[c]] for c in channels])
    tags = h[list(channels)] > 0.5  # (2, L, L)
    n = tags.sum(0)
    mix = np.einsum("kij,kc->ijc", tags.astype(float), cols) / np.maximum(n, 1)[..., None]
    img[n > 0] = mix[n > 0]
    return img


def _cluster_image(occ: np.ndarray) -> np.ndarray:
    """RGB of the true clusters (scipy labels): spanning clusters black, others in pastel."""
    labels, n = ndimage.label(occ)
    rng = np.random.default_rng(0)
    palette = np.vstack([np.ones(3), 0.45 + 0.5 * rng.random((n, 3))])
    spans = set(np.intersect1d(labels[0], labels[-1])) | set(np.intersect1d(labels[:, 0], labels[:, -1]))
    for k in spans - {0}:
        palette[k] = 0.0
    return palette[labels]


def hidden_state_figure(net: FloodFillRNN, x: torch.Tensor, steps: tuple[int, ...] = (8, 24, 64)):
    """Figure: one row per lattice; the true clusters (spanning ones black), then the state
    after each of ``steps`` (top tags red, bottom tags blue, both purple), then the final
    left/right tags (green/orange), with the network's spanning probability.

    It shows how the network decides: tags flood in from the edges along the clusters, and
    a lattice spans when one cluster carries two opposite edges' tags.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_run = net.iterations_for(x.shape[-1])
    steps = tuple(k for k in steps if 0 <= k <= n_run)
    net.eval()
    with torch.no_grad():
        final, kept = net.run(x, record=steps)
        prob = net.read(final).softmax(-1)[:, 1]
    occ = (x[:, 0] > 0.5).cpu().numpy()
    ncol = len(steps) + 2
    fig, axes = plt.subplots(len(x), ncol, figsize=(2.2 * ncol, 2.3 * len(x)), squeeze=False)
    for i in range(len(x)):
        truth = bool(spanning_from_connectivity(edge_connectivity(x[i : i + 1])).item())
        panels = [(_cluster_image(occ[i]), f"clusters ({'spans' if truth else 'no span'})")]
        panels += [(_tag_image(occ[i], kept[k][i].cpu().numpy(), (0, 1)), f"top/bottom, k={k}") for k in steps]
        panels.append((_tag_image(occ[i], final[i].cpu().numpy(), (2, 3)), f"left/right, P(span)={prob[i]:.2f}"))
        for ax, (img, title) in zip(axes[i], panels, strict=True):
            ax.imshow(img, interpolation="nearest")
            ax.set_title(title, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(f"FloodFillRNN hidden state, L = {x.shape[-1]} (up to {n_run} steps)", fontsize=10)
    fig.tight_layout()
    return fig
