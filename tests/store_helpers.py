"""A cheap deterministic simulator for store tests (importable by subprocesses)."""

from __future__ import annotations

import dataclasses
import os
import time
from typing import ClassVar

import numpy as np

from physml.simulator import ArraySpec, Simulator


@dataclasses.dataclass(frozen=True)
class NoiseParams:
    values: tuple[float, ...] = (0.0, 1.0, 2.0)
    size: int = 8
    delay: float = 0.0


class NoiseSimulator(Simulator):
    """Gaussian images around the grid value; ``delay`` slows each unit (for kill tests)."""

    name = "noise"
    version = "1"
    params_type: ClassVar[type] = NoiseParams
    samples_per_unit = 2

    @property
    def num_points(self) -> int:
        return len(self.params.values)

    def schema(self) -> dict[str, ArraySpec]:
        s = self.params.size
        return {
            "x": ArraySpec((s, s), "float32"),
            "v": ArraySpec((), "float32"),
            "pid": ArraySpec((), "int64"),
        }

    def generate(self, points: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        values = np.repeat(
            np.asarray(self.params.values, dtype=np.float32)[points], self.samples_per_unit
        )
        n, s = len(values), self.params.size
        time.sleep(self.params.delay * len(points))
        x = (values[:, None, None] + rng.standard_normal((n, s, s))).astype(np.float32)
        return {"x": x, "v": values, "pid": np.zeros(n, dtype=np.int64) + 0 * os.getpid()}
