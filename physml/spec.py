"""The declarative contracts between systems and models, checked before anything runs.

Each system declares once, in a :class:`SystemSpec` next to its datamodule, what it is:
its targets (the array a label is read from, its kind, how many outputs a model needs),
what it feeds a network (which stored array, its rank and channels), the labels it
derives from stored ones, its physics constants, its analysis and its cross-run studies.
Each model config declares what it accepts (a :class:`ModelContract`, the ``accepts:``
node of ``conf/model/*.yaml``). :func:`check_compatible` compares the two at start-up, so
a model that cannot run on a system fails with a message naming both, before any data is
generated. The config resolvers ``${feed:...}`` read the spec, so a model's
``num_outputs`` or ``in_channels`` are never written twice.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from physml.errors import ConfigError

#: what a target asks of a model: a class index, a number, an image, or the input itself
TASK_KINDS = ("class", "regression", "image", "generative")

#: a number given outright, or computed from the system's config node (e.g. a grid's length)
FromSystem = int | Callable[[Any], int]
#: a label computed per sample from stored labels and the system's parameters
DerivedLabel = Callable[[Mapping[str, np.ndarray], Mapping[str, Any]], np.ndarray]


def _value(quantity: FromSystem, system: Any) -> int:
    return int(quantity(system) if callable(quantity) else quantity)


@dataclass(frozen=True)
class Target:
    """One learning target: where its label comes from, its kind, and the outputs it needs."""

    source: str | None  # per-sample array (stored or derived); None: the input itself
    kind: str  # one of TASK_KINDS
    outputs: FromSystem = 1
    doc: str = ""

    def __post_init__(self) -> None:
        if self.kind not in TASK_KINDS:
            raise ValueError(f"Target.kind={self.kind!r}: allowed {TASK_KINDS}")


@dataclass(frozen=True)
class Feed:
    """One kind of network input: the stored array it is made from, its rank and channels.

    ``rank`` counts spatial axes (2: an image (C, H, W); 3: a volume (C, D, H, W)).
    """

    key: str
    rank: int
    channels: FromSystem
    size: str  # the system field that gives the spatial size (L, M, n, ...)
    doc: str = ""


@dataclass(frozen=True)
class Constant:
    """A physics constant a system uses, with where it comes from (a function of the system's
    parameters where it depends on them, e.g. the Potts T_c(q))."""

    value: float | Callable[..., float]
    source: str


@dataclass(frozen=True)
class SystemSpec:
    """Everything a system declares once; datamodule, validation and analysis read it."""

    name: str
    targets: Mapping[str, Target]
    feeds: Mapping[str, Feed]
    analysis: str  # "module:Class" of the per-run analysis
    #: config field choosing the feed when there are several (Anderson: "input")
    feed_field: str | None = None
    derived: Mapping[str, DerivedLabel] = field(default_factory=dict)
    constants: Mapping[str, Constant] = field(default_factory=dict)
    #: "module:Class" of cross-run studies that `physml report` runs on this system's runs
    studies: tuple[str, ...] = ()

    def target(self, name: str) -> Target:
        if name not in self.targets:
            raise ConfigError(field="system.target", value=name, allowed=f"one of {sorted(self.targets)}")
        return self.targets[name]

    def feed(self, system: Any) -> Feed:
        """The feed the system config selects (the only one, or ``system[feed_field]``)."""
        if self.feed_field is None:
            return next(iter(self.feeds.values()))
        choice = system[self.feed_field]
        if choice not in self.feeds:
            raise ConfigError(
                field=f"system.{self.feed_field}", value=choice, allowed=f"one of {sorted(self.feeds)}"
            )
        return self.feeds[choice]

    def outputs(self, system: Any) -> int:
        return _value(self.target(system["target"]).outputs, system)

    def channels(self, system: Any) -> int:
        return _value(self.feed(system).channels, system)

    def size(self, system: Any) -> int:
        return int(system[self.feed(system).size])


@dataclass(frozen=True)
class ModelContract:
    """What a model config accepts (its ``accepts:`` node)."""

    rank: int
    tasks: tuple[str, ...]
    #: a fixed number of input channels / outputs the network is built for (None: any)
    channels: int | None = None
    outputs: int | None = None

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> ModelContract:
        try:
            rank, tasks = int(node["rank"]), tuple(str(t) for t in node["tasks"])
            channels = None if node.get("channels") is None else int(node["channels"])
            outputs = None if node.get("outputs") is None else int(node["outputs"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                field="model.accepts",
                value=dict(node),
                allowed="a mapping {rank: 2|3, tasks: [...], channels: int (optional), outputs: int (optional)}",
            ) from exc
        unknown = [t for t in tasks if t not in TASK_KINDS]
        if unknown:
            raise ConfigError(field="model.accepts.tasks", value=list(tasks), allowed=f"kinds among {TASK_KINDS}")
        return cls(rank, tasks, channels, outputs)


def check_compatible(spec: SystemSpec, system: Any, model_name: str, contract: ModelContract) -> None:
    """Refuse a model that cannot run on this system's feed and target, naming both."""
    target_name = system["target"]
    target = spec.target(target_name)
    feed = spec.feed(system)
    feed_name = next(k for k, v in spec.feeds.items() if v is feed)
    if target.kind not in contract.tasks:
        raise ConfigError(
            f"model={model_name} cannot learn system={spec.name} target={target_name!r}: the target is a "
            f"{target.kind!r} task, the model handles {list(contract.tasks)}; "
            f"allowed targets for this model: {_targets_for(spec, contract, system) or 'none'}",
            field="model",
            value=model_name,
            allowed=f"a model for {target.kind!r} targets",
        )
    if feed.rank != contract.rank:
        kinds = {2: "images (rank 2)", 3: "volumes (rank 3)"}
        raise ConfigError(
            f"model={model_name} takes {kinds.get(contract.rank, contract.rank)}, but system={spec.name} "
            f"feeds {kinds.get(feed.rank, feed.rank)} ('{feed_name}' input)"
            + (
                f"; allowed: system.{spec.feed_field} one of "
                f"{[k for k, f in spec.feeds.items() if f.rank == contract.rank]} with this model"
                if spec.feed_field
                else ""
            ),
            field="model",
            value=model_name,
            allowed=f"a model for rank-{feed.rank} input",
        )
    outputs = _if_valid(lambda: spec.outputs(system)) if contract.outputs is not None else None
    if outputs is not None and outputs != contract.outputs:
        raise ConfigError(
            f"model={model_name} is built for {contract.outputs} outputs, but system={spec.name} "
            f"target={target_name!r} has {outputs}; allowed targets for this model: "
            f"{_targets_for(spec, contract, system) or 'none'}",
            field="model",
            value=model_name,
            allowed=f"a model for {outputs}-output targets",
        )
    channels = _if_valid(lambda: spec.channels(system)) if contract.channels is not None else None
    if channels is not None and channels != contract.channels:
        raise ConfigError(
            f"model={model_name} takes {contract.channels}-channel input, but system={spec.name} "
            f"feeds {channels} channels ('{feed_name}' input)",
            field="model",
            value=model_name,
            allowed=f"a model for {channels}-channel input",
        )


def _if_valid(quantity: Callable[[], int]) -> int | None:
    """The quantity, or None when the system fields it derives from are themselves invalid:
    the simulator's own checks then name those fields, which is the more useful error."""
    try:
        return quantity()
    except (TypeError, ValueError, KeyError):
        return None


def _targets_for(spec: SystemSpec, contract: ModelContract, system: Any = None) -> list[str]:
    """Targets of this system the model can learn (kind, and fixed outputs when declared)."""

    def fits(name: str, t: Target) -> bool:
        if t.kind not in contract.tasks:
            return False
        if contract.outputs is None or system is None:
            return True
        return _value(t.outputs, system) == contract.outputs

    return sorted(name for name, t in spec.targets.items() if fits(name, t))


def import_object(path: str) -> Any:
    """The object at ``"package.module:Name"`` (or ``"package.module.Name"``)."""
    module, _, name = path.partition(":") if ":" in path else path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def spec_of(datamodule_target: str) -> SystemSpec:
    """The spec of the datamodule class a system config names (its ``spec`` attribute)."""
    spec = getattr(import_object(datamodule_target), "spec", None)
    if not isinstance(spec, SystemSpec):
        raise TypeError(f"{datamodule_target} declares no SystemSpec (a class attribute 'spec')")
    return spec
