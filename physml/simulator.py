"""The contract every physics simulator follows (simulators import it; the store relies on it).

A simulator is a pure-numpy/numba object usable from a notebook: it validates its
parameters, declares the arrays each sample carries (its schema), and produces a batch
of samples from a list of *points* of its parameter grid and a numpy Generator.

Why "points" and "units": the store lays a dataset out point-major. A point is one
entry of the parameter grid (one p, one disorder w, one J2, or a single point for a
crystal dataset). A unit is one call's worth of work at a point that yields
``samples_per_unit`` samples (1 for percolation, Anderson and LACBED; the number of
temperatures for a successively cooled J1-J2 chain). Unit ``u`` of a dataset belongs to
point ``u // units_per_point``, so the store can hand any contiguous range of units to
any process and the result depends only on the seed, never on who generated it.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from physml.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class ArraySpec:
    """Per-sample shape (without the leading sample axis) and numpy dtype of one array."""

    shape: tuple[int, ...]
    dtype: str


class Simulator(ABC):
    """Base class: subclasses set ``name``, ``version``, a params dataclass and the kernels."""

    name: ClassVar[str]
    version: ClassVar[str]
    #: the frozen, validated parameter dataclass of this simulator
    params_type: ClassVar[type]
    samples_per_unit: int = 1

    def __init__(self, params: Any) -> None:
        self.params = params

    @property
    @abstractmethod
    def num_points(self) -> int:
        """Number of points in the parameter grid."""

    @abstractmethod
    def schema(self) -> dict[str, ArraySpec]:
        """Names, per-sample shapes and dtypes of every array ``generate`` returns."""

    @abstractmethod
    def generate(self, points: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Simulate one unit per entry of ``points`` (grid indices).

        Returns arrays with ``len(points) * samples_per_unit`` samples along axis 0, unit
        by unit in the order given, matching ``schema()`` exactly in shape and dtype.
        Must be deterministic given ``rng``'s state.
        """

    @classmethod
    def from_config(cls, **kwargs: Any) -> Simulator:
        """Build from plain keyword arguments (a Hydra node); unknown keys fail, naming the allowed."""
        allowed = [f.name for f in dataclasses.fields(cls.params_type)]
        unknown = sorted(set(kwargs) - set(allowed))
        if unknown:
            raise ConfigError(
                f"unknown {cls.name} parameter(s) {unknown}: allowed keys are {allowed}",
                field=unknown[0],
                value=kwargs[unknown[0]],
                allowed=f"no such key; {cls.name} parameters are {allowed}",
            )
        return cls(cls.params_type(**kwargs))

    def config(self) -> dict[str, Any]:
        """Plain-data parameters, used for the dataset fingerprint and group attrs."""
        return _plain(dataclasses.asdict(self.params))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def seed_from(rng: np.random.Generator) -> int:
    """An integer seed for a numba kernel, drawn from the shard's Generator."""
    return int(rng.integers(0, 2**63 - 1))
