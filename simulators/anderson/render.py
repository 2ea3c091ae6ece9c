"""Render |psi|^2 on an M^3 lattice as s x s images, headless and fast (numba).

'boxes' follows the paper's Fig. 3: every site with N|psi|^2 > 1 (strictly: the uniform
state draws nothing) is a cube of volume N|psi|^2 (side (N|psi|^2)^{1/3} lattice units)
centred on its site. The cubes are seen along a fixed oblique direction
(cabinet-like: a step into the page shifts the picture by ``OBLIQUE`` lattice units right
and up) and drawn with a per-pixel z-buffer: each pixel casts the parallel view ray,
intersects it exactly with the cube (slab method) and keeps the nearest hit. Grey level:
white background (1.0); a hit is darker the nearer it is (depth shading distinguishes the
slices along the axis into the page) and the three visible faces get different
brightness, so overlapping cubes stay distinguishable.

'projections' is the simple alternative: log10 of the mean of N|psi|^2 along x, y and z
(three channels), on a fixed scale of [-4, 4] decades mapped to [0, 1], upsampled to s.
"""

from __future__ import annotations

import numpy as np
from numba import njit

RENDERERS = ("boxes", "projections")
OBLIQUE = 0.5  # lattice units of screen shift per unit of depth (each screen axis)
LOG_RANGE = (-4.0, 4.0)  # decades of N|psi|^2 mapped to [0, 1] by 'projections'
FACE_BRIGHTNESS = (0.0, 0.12, 0.24)  # extra lightness of front, right, top faces


def channels(renderer: str) -> int:
    """Number of image channels a renderer produces."""
    return 1 if renderer == "boxes" else 3


@njit(cache=True)
def _draw_boxes(psi2: np.ndarray, s: int, k: float, face: np.ndarray) -> np.ndarray:
    M = psi2.shape[0]
    N = M * M * M
    # screen coords u = x + k d, v = y + k d (d = depth into the page = z);
    # the cube [0, M]^3 spans [0, M (1 + k)] on both axes; pad half a box for overhang.
    scale = s / (M * (1.0 + k))
    zbuf = np.full((s, s), np.inf)
    fid = np.zeros((s, s), dtype=np.int8)
    for x in range(M):
        for y in range(M):
            for z in range(M):
                a = N * psi2[x, y, z]
                if not a > 1.0:
                    continue
                h = 0.5 * a ** (1.0 / 3.0)
                x0, x1 = x + 0.5 - h, x + 0.5 + h
                y0, y1 = y + 0.5 - h, y + 0.5 + h
                d0, d1 = z + 0.5 - h, z + 0.5 + h
                # pixel range covered by the projected cube
                i0 = max(int(np.floor((x0 + k * d0) * scale)), 0)
                i1 = min(int(np.ceil((x1 + k * d1) * scale)), s)
                j0 = max(int(np.floor((y0 + k * d0) * scale)), 0)
                j1 = min(int(np.ceil((y1 + k * d1) * scale)), s)
                for i in range(i0, i1):
                    pu = (i + 0.5) / scale
                    for j in range(j0, j1):
                        pv = (j + 0.5) / scale
                        # ray: (pu - k t, pv - k t, t); entry depth by the slab method
                        t_in = d0
                        f = 0
                        if k > 0.0:
                            lo_x = (pu - x1) / k
                            hi_x = (pu - x0) / k
                            lo_y = (pv - y1) / k
                            hi_y = (pv - y0) / k
                            t_out = min(d1, hi_x, hi_y)
                            if lo_x > t_in:
                                t_in = lo_x
                                f = 1
                            if lo_y > t_in:
                                t_in = lo_y
                                f = 2
                            if t_in > t_out:
                                continue
                        elif not (x0 <= pu <= x1 and y0 <= pv <= y1):
                            continue
                        if t_in < zbuf[i, j]:
                            zbuf[i, j] = t_in
                            fid[i, j] = f
    img = np.ones((s, s), dtype=np.float32)
    for i in range(s):
        for j in range(s):
            t = zbuf[i, j]
            if t < np.inf:
                depth = min(max(t / M, 0.0), 1.0)  # 0 front .. 1 back
                img[j, i] = np.float32(min(0.1 + 0.55 * depth + face[fid[i, j]], 0.95))
    # row index j = v (screen up = increasing y), flipped so y grows upwards as in a plot
    return img[::-1].copy()


def render_boxes(psi2: np.ndarray, s: int) -> np.ndarray:
    """(1, s, s) float32 in [0, 1]: the paper-style box picture of one |psi|^2 (M, M, M)."""
    face = np.asarray(FACE_BRIGHTNESS, dtype=np.float64)
    return _draw_boxes(np.ascontiguousarray(psi2, dtype=np.float64), s, OBLIQUE, face)[None]


def render_projections(psi2: np.ndarray, s: int) -> np.ndarray:
    """(3, s, s) float32 in [0, 1]: log-scaled mean of N|psi|^2 along x, y, z."""
    psi2 = np.asarray(psi2, dtype=np.float64)
    M = psi2.shape[0]
    N = psi2.size
    lo, hi = LOG_RANGE
    idx = (np.arange(s) * M) // s  # nearest-neighbour resampling M -> s
    out = np.empty((3, s, s), dtype=np.float32)
    for c in range(3):
        mean = N * psi2.mean(axis=c)
        val = (np.log10(np.maximum(mean, 10.0**lo)) - lo) / (hi - lo)
        out[c] = np.clip(val, 0.0, 1.0)[np.ix_(idx, idx)]
    return out


def render(psi2: np.ndarray, s: int, renderer: str) -> np.ndarray:
    """Dispatch on the renderer name; output (channels(renderer), s, s) float32 in [0, 1]."""
    if renderer == "boxes":
        return render_boxes(psi2, s)
    if renderer == "projections":
        return render_projections(psi2, s)
    raise ValueError(f"renderer={renderer!r}: allowed {RENDERERS}")
