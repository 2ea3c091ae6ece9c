"""Per-sample test predictions, saved with their labels so analysis can be rerun."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import zarr


class PredictionWriter(pl.Callback):
    """Collects what ``test_step`` returns and writes ``predictions.zarr/<stream>/<key>``."""

    def __init__(self, path: str | Path, stream_names: list[str] | None = None) -> None:
        self.path = Path(path)
        self.stream_names = stream_names
        self._buffers: dict[int, dict[str, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._buffers.clear()

    def on_test_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not isinstance(outputs, dict):
            return
        for key, value in outputs.items():
            if torch.is_tensor(value):
                self._buffers[dataloader_idx][key].append(value.detach().float().cpu().numpy()
                                                          if value.dtype == torch.bfloat16
                                                          else value.detach().cpu().numpy())

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_rank != 0 or not self._buffers:
            return
        names = self.stream_names or getattr(trainer.datamodule, "test_stream_names", None) or []
        root = zarr.open_group(str(self.path), mode="a")
        for idx, arrays in sorted(self._buffers.items()):
            stream = names[idx] if idx < len(names) else f"test_{idx}"
            if stream in root:
                del root[stream]
            group = root.create_group(stream)
            for key, chunks in arrays.items():
                data = np.concatenate(chunks)
                group.create_array(key, shape=data.shape, dtype=data.dtype)[...] = data


def load_predictions(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """All streams of a ``predictions.zarr`` as numpy arrays."""
    root = zarr.open_group(str(path), mode="r")
    return {name: {k: group[k][...] for k in group.array_keys()} for name, group in root.groups()}
