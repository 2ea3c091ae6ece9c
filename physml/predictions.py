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
        streams = {idx: {k: np.concatenate(v) for k, v in arrays.items()} for idx, arrays in self._buffers.items()}
        if trainer.world_size > 1:
            streams = gather_to_rank_zero(streams, trainer.global_rank, trainer.world_size)
        if trainer.global_rank != 0 or not streams:
            return
        names = self.stream_names or getattr(trainer.datamodule, "test_stream_names", None) or []
        root = zarr.open_group(str(self.path), mode="a")
        for idx, arrays in sorted(streams.items()):
            stream = names[idx] if idx < len(names) else f"test_{idx}"
            if stream in root:
                del root[stream]
            group = root.create_group(stream)
            for key, data in arrays.items():
                group.create_array(key, shape=data.shape, dtype=data.dtype)[...] = data


Streams = dict[int, dict[str, np.ndarray]]


def gather_to_rank_zero(streams: Streams, rank: int, world_size: int) -> Streams:
    """Merge every rank's shard of the test set on rank 0 (other ranks get ``{}``).

    Under DDP each rank sees only its part of each test set, and DistributedSampler pads the
    last ranks with repeated samples; the per-sample ``index`` label every batch carries
    identifies them, so the merge sorts by it and keeps each sample once.
    """
    import torch.distributed as dist

    parts: list[Streams | None] = [None] * world_size if rank == 0 else []
    dist.gather_object(streams, parts if rank == 0 else None, dst=0)
    if rank != 0:
        return {}
    return merge_shards([p for p in parts if p])


def merge_shards(parts: list[Streams]) -> Streams:
    """Concatenate per-rank outputs stream by stream, de-duplicated and ordered by ``index``."""
    merged: Streams = {}
    for idx in sorted({i for part in parts for i in part}):
        pieces = [part[idx] for part in parts if idx in part]
        keys = list(pieces[0])
        arrays = {k: np.concatenate([p[k] for p in pieces]) for k in keys}
        if "index" in arrays:
            _, first = np.unique(arrays["index"], return_index=True)  # sorted by index
            arrays = {k: v[first] for k, v in arrays.items()}
        merged[idx] = arrays
    return merged


def load_predictions(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """All streams of a ``predictions.zarr`` as numpy arrays."""
    root = zarr.open_group(str(path), mode="r")
    return {name: {k: group[k][...] for k in group.array_keys()} for name, group in root.groups()}
