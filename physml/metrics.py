"""Image-comparison metrics shared by models and analyses.

The LACBED study (review §6.2, Eq. 3) reports the *shifted* zero-mean normalised
cross-correlation

    R(y, ŷ) = 1/2 + 1/(2 n²) Σ_ij (y_ij − ⟨y⟩)/σ(y) · (ŷ_ij − ⟨ŷ⟩)/σ(ŷ),

with population standard deviations, i.e. R = (1 + ρ)/2 for the Pearson correlation ρ of
the pixel intensities: 1 is a perfect fit, 1/2 uncorrelated, 0 perfectly anti-correlated.
R is invariant under y → a·y + b with a > 0, so it does not care how the images were
normalised. An image with zero variance carries no pattern; we define R = 1/2 for it
(the uncorrelated value) instead of dividing by zero.
"""

from __future__ import annotations

from typing import overload

import numpy as np
import torch

#: a standard deviation below this fraction of the image's largest |value| counts as zero
#: (a constant float32 image has rounding-level "variance" after centring)
REL_ZERO_STD = 1e-7


@overload
def r_index(y: torch.Tensor, y_hat: torch.Tensor, image_dims: int = 2) -> torch.Tensor: ...
@overload
def r_index(y: np.ndarray, y_hat: np.ndarray, image_dims: int = 2) -> np.ndarray: ...


def r_index(y, y_hat, image_dims: int = 2):
    """R of Eq. (3) per image: the trailing ``image_dims`` axes are the image.

    Works on numpy arrays (returns float64 numpy) and torch tensors (returns a float32
    tensor on the input's device, differentiable). Leading axes (batch, channel) are kept,
    so a (B, 1, H, W) batch gives (B, 1) and a (B, H, W) batch gives (B,).
    """
    if torch.is_tensor(y) or torch.is_tensor(y_hat):
        y_t = torch.as_tensor(y)
        return _r_torch(y_t, torch.as_tensor(y_hat, device=y_t.device), image_dims)
    return _r_numpy(np.asarray(y), np.asarray(y_hat), image_dims)


def _r_numpy(y: np.ndarray, y_hat: np.ndarray, image_dims: int) -> np.ndarray:
    if y.shape != y_hat.shape:
        raise ValueError(f"r_index: shapes differ, {y.shape} vs {y_hat.shape}")
    axes = tuple(range(y.ndim - image_dims, y.ndim))
    a = y.astype(np.float64)
    b = y_hat.astype(np.float64)
    a = a - a.mean(axis=axes, keepdims=True)
    b = b - b.mean(axis=axes, keepdims=True)
    sa, sb = np.sqrt((a * a).mean(axis=axes)), np.sqrt((b * b).mean(axis=axes))
    scale_a = np.abs(y).max(axis=axes).astype(np.float64)
    scale_b = np.abs(y_hat).max(axis=axes).astype(np.float64)
    flat = (sa <= REL_ZERO_STD * scale_a) | (sb <= REL_ZERO_STD * scale_b) | (sa == 0) | (sb == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (a * b).mean(axis=axes) / (sa * sb)
    rho = np.where(flat, 0.0, np.clip(rho, -1.0, 1.0))
    return 0.5 + 0.5 * rho


def _r_torch(y: torch.Tensor, y_hat: torch.Tensor, image_dims: int) -> torch.Tensor:
    if y.shape != y_hat.shape:
        raise ValueError(f"r_index: shapes differ, {tuple(y.shape)} vs {tuple(y_hat.shape)}")
    dims = tuple(range(y.ndim - image_dims, y.ndim))
    dtype = torch.float64 if y.device.type == "cpu" else torch.float32
    a = y.to(dtype)
    b = y_hat.to(dtype)
    a = a - a.mean(dim=dims, keepdim=True)
    b = b - b.mean(dim=dims, keepdim=True)
    sa = a.pow(2).mean(dim=dims).sqrt()
    sb = b.pow(2).mean(dim=dims).sqrt()
    scale_a = y.detach().abs().amax(dim=dims).to(dtype)
    scale_b = y_hat.detach().abs().amax(dim=dims).to(dtype)
    flat = (sa <= REL_ZERO_STD * scale_a) | (sb <= REL_ZERO_STD * scale_b) | (sa == 0) | (sb == 0)
    denom = torch.where(flat, torch.ones_like(sa), sa * sb)
    rho = torch.where(flat, torch.zeros_like(sa), (a * b).mean(dim=dims) / denom).clamp(-1.0, 1.0)
    return (0.5 + 0.5 * rho).to(torch.float32)
