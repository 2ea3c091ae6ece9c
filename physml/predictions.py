"""Per-sample test predictions with their labels, stored so analysis can be rerun from disk.

Layout: one Zarr group per test stream (``test``, ``test_pc``, ...) holding one array per
output key (``pred``, ``probs``, every label, the sample ``index``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr

#: per-stream output arrays: stream position -> key -> samples-first array
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


def write_predictions(path: str | Path, named: dict[str, dict[str, np.ndarray]]) -> None:
    """Write (or replace) the named streams in ``path``."""
    root = zarr.open_group(str(path), mode="a")
    for stream, arrays in named.items():
        if stream in root:
            del root[stream]
        group = root.create_group(stream)
        for key, data in arrays.items():
            group.create_array(key, shape=data.shape, dtype=data.dtype)[...] = data


def load_predictions(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """All streams of a ``predictions.zarr`` as numpy arrays."""
    root = zarr.open_group(str(path), mode="r")
    return {name: {k: group[k][...] for k in group.array_keys()} for name, group in root.groups()}
