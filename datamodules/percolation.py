"""Percolation states as images; targets p (class or value) or spanning."""

from __future__ import annotations

import numpy as np
import torch

from datamodules.base import ZarrDataModule


class PercolationDataModule(ZarrDataModule):
    """Occupation images (1×L×L, 0/1) with the paper's three targets."""

    input_key = "x"
    targets = {
        "p_class": ("p_index", "class"),
        "p": ("p", "regression"),
        "spanning": ("spanning", "class"),
    }

    def make_input(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x.astype(np.float32, copy=False)).unsqueeze(0)
