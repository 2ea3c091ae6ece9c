"""Hydra/OmegaConf glue: resolvers, start-up validation, and errors that name the field the user typed.

Why errors are renamed here: code deep down (a simulator's parameter check, a datamodule's
argument check) knows only its own argument names (``L``, ``units_per_point``), while the
user typed ``system.L=1`` or ``system.train_per_p=0``. The config tree knows the way from
one to the other: ``system.datamodule.train_units_per_point`` holds the interpolation
``${system.train_per_p}``. :func:`user_field` follows such interpolations back to the
field the user set, so every :class:`~physml.errors.ConfigError` names that field.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hydra.errors import InstantiationException
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from physml import constants
from physml.errors import ConfigError, check_bool, check_choice, check_int, check_number, require
from physml.spec import ModelContract, check_compatible, spec_of

_RUN_ID = f"{os.getpid():x}{secrets.token_hex(2)}"
_PLAIN_REFERENCE = re.compile(r"^\$\{([A-Za-z_][\w]*(?:\.[\w]+|\[\d+\])*)\}$")
_FULL_KEY = re.compile(r"full_key: (\S+)")


def _feed(what: str, *, _root_: DictConfig) -> Any:
    """``${feed:outputs|channels|size|task}``: what the configured system feeds a model, from its spec."""
    system = _root_.system
    spec = spec_of(system.datamodule._target_)
    readers = {
        "outputs": spec.outputs,
        "channels": spec.channels,
        "size": spec.size,
        "task": lambda s: spec.target(s["target"]).kind,
    }
    if what not in readers:
        raise ConfigError(field="${feed:...}", value=what, allowed=f"one of {sorted(readers)}")
    return readers[what](system)


def _constant(name: str) -> float:
    """``${const:NAME}``: a physical constant of physml.constants (written once, with its source)."""
    value = getattr(constants, name, None)
    if not isinstance(value, float):
        names = sorted(k for k, v in vars(constants).items() if isinstance(v, float))
        raise ConfigError(field="${const:...}", value=name, allowed=f"one of {names}")
    return value


def _mean(seq: Any) -> float:
    values = [float(v) for v in seq]
    return sum(values) / len(values)


def _std(seq: Any) -> float:
    """Population standard deviation: a grid with equal counts per value has exactly this spread."""
    m = _mean(seq)
    return (sum((float(v) - m) ** 2 for v in seq) / len(seq)) ** 0.5


def register_resolvers() -> None:
    """``${len:...}``, ``${mean:...}``/``${std:...}`` of a list, ``${physml_uid:}`` (keeps run
    dirs apart), ``${feed:...}`` and ``${const:...}``."""
    if not OmegaConf.has_resolver("len"):
        OmegaConf.register_new_resolver("len", lambda seq: len(seq))
    if not OmegaConf.has_resolver("mean"):
        OmegaConf.register_new_resolver("mean", _mean)
    if not OmegaConf.has_resolver("std"):
        OmegaConf.register_new_resolver("std", _std)
    if not OmegaConf.has_resolver("physml_uid"):
        OmegaConf.register_new_resolver("physml_uid", lambda: _RUN_ID, use_cache=True)
    if not OmegaConf.has_resolver("feed"):
        OmegaConf.register_new_resolver("feed", _feed)
    if not OmegaConf.has_resolver("const"):
        OmegaConf.register_new_resolver("const", _constant)


# ---- field names as the user typed them ---------------------------------------------------
def _keys(path: str) -> list[str | int]:
    """``"a.b[0].c"`` -> ``["a", "b", 0, "c"]``."""
    out: list[str | int] = []
    for part in path.split("."):
        name, *indices = re.split(r"\[(\d+)\]", part)
        if name:
            out.append(name)
        out.extend(int(i) for i in indices if i != "")
    return out


def _path(keys: list[str | int]) -> str:
    text = ""
    for key in keys:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return text


def user_field(cfg: DictConfig, path: str) -> str:
    """The field the user sets for config path ``path``: plain ``${a.b}`` references are followed."""
    keys = _keys(path)
    node: Any = cfg
    for i, key in enumerate(keys):
        try:
            child = node._get_node(key) if isinstance(node, DictConfig | ListConfig) else None
        except (KeyError, IndexError, ValueError, AttributeError):
            child = None
        if child is None:
            return _path(keys)
        raw = child._value()
        if isinstance(raw, str):
            match = _PLAIN_REFERENCE.match(raw)
            if match:
                return user_field(cfg, _path([*_keys(match.group(1)), *keys[i + 1 :]]))
            if raw == "${feed:size}":  # the system field that sets the spatial size
                try:
                    return f"system.{spec_of(cfg.system.datamodule._target_).feed(cfg.system).size}"
                except Exception:  # noqa: BLE001 - fall back to the path as it is
                    return _path(keys)
            return _path(keys)
        node = child
    return _path(keys)


def renamed(cfg: DictConfig, exc: ConfigError, where: str) -> ConfigError:
    """``exc`` (raised while building the config node at ``where``) under the user's field name."""
    if exc.structured:
        field = str(exc.field)
        full = field if field.split(".")[0] in cfg else f"{where}.{field}"
        return exc.renamed(user_field(cfg, full))
    message = str(exc)
    head = message.split("=", 1)[0].split(":", 1)[0].split(".")[0]
    return exc if head in cfg else ConfigError(f"{where}: {message}")


@contextlib.contextmanager
def section(cfg: DictConfig, name: str) -> Iterator[None]:
    """Errors from instantiating ``cfg[name]`` become ConfigErrors naming the user's field.

    The names are looked up in a copy taken on entry: instantiation resolves interpolations
    of the referenced nodes in place, which would hide the way back to the user's field.
    """
    cfg = copy.deepcopy(cfg)
    try:
        yield
    except InstantiationException as exc:
        cause: BaseException = exc
        where = name
        while isinstance(cause, InstantiationException):
            found = _FULL_KEY.search(str(cause))
            where = found.group(1) if found else where
            if cause.__cause__ is None:
                break
            cause = cause.__cause__
        if isinstance(cause, ConfigError):
            raise renamed(cfg, cause, where) from None
        raise ConfigError(f"{where}: {cause}") from exc
    except ConfigError as exc:
        raise renamed(cfg, exc, name) from None


# ---- start-up checks ------------------------------------------------------------------
def model_contract(cfg: DictConfig) -> ModelContract:
    """What the configured model accepts (its ``accepts:`` node)."""
    node = OmegaConf.select(cfg, "model.accepts")
    if node is None:
        raise ConfigError(field="model.accepts", value=None, allowed="a mapping {rank, tasks} in conf/model/*.yaml")
    return ModelContract.from_config(OmegaConf.to_container(node, resolve=True))


#: keys of a model config that describe it rather than being constructor arguments
MODEL_META_KEYS = ("name", "accepts")


def model_node(cfg: DictConfig) -> DictConfig:
    """The model config without its name and contract, ready to instantiate (still under the root)."""
    node = copy.copy(cfg.model)  # a shallow copy keeps the parent, so interpolations still resolve
    with open_dict(node):
        for key in MODEL_META_KEYS:
            node.pop(key, None)
    return node


def _batches(value: Any, field: str) -> None:
    """Lightning's limit_*_batches: null, a count >= 1, or a fraction in (0, 1]."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return
    check_number(value, field, maximum=1.0, above=0.0)


def _devices(value: Any, field: str) -> None:
    if isinstance(value, str) and (value == "auto" or all(p.strip().isdigit() for p in value.split(",") if p.strip())):
        return
    if isinstance(value, list | ListConfig) and all(isinstance(v, int) and v >= 0 for v in value):
        return
    check_int(value, field, minimum=-1)


#: checks of the fields every run has, applied to their resolved values before anything is built
FIELD_RULES: dict[str, Any] = {
    "seed": lambda v, f: check_int(v, f, minimum=0),
    "system.data_seed": lambda v, f: check_int(v, f, minimum=0),
    "stage": lambda v, f: check_choice(v, f, STAGES),
    "data.batch_size": lambda v, f: check_int(v, f, minimum=1),
    "data.num_workers": lambda v, f: check_int(v, f, minimum=0),
    "data.val_fraction": lambda v, f: check_number(v, f, minimum=0.0, maximum=0.95),
    "data.shard_units": lambda v, f: check_int(v, f, minimum=1),
    "data.generation_workers": lambda v, f: check_int(v, f, minimum=1),
    "data.in_memory": check_bool,
    "data.stratify_batches": check_bool,
    "trainer.max_epochs": lambda v, f: check_int(v, f, minimum=1),
    "trainer.log_every_n_steps": lambda v, f: check_int(v, f, minimum=1),
    "trainer.limit_train_batches": _batches,
    "trainer.limit_val_batches": _batches,
    "trainer.limit_test_batches": _batches,
    "trainer.enable_progress_bar": check_bool,
    "trainer.enable_model_summary": check_bool,
    "trainer.deterministic": lambda v, f: check_choice(v, f, (True, False, "warn")),
    "trainer.accelerator": lambda v, f: check_choice(v, f, ("cpu", "gpu", "cuda", "mps", "tpu", "auto")),
    "trainer.precision": lambda v, f: check_choice(v, f, PRECISIONS),
    "trainer.num_nodes": lambda v, f: check_int(v, f, minimum=1),
    "trainer.devices": _devices,
    "model.optimizer.lr": lambda v, f: check_number(v, f, above=0.0),
    "model.optimizer.weight_decay": lambda v, f: check_number(v, f, minimum=0.0),
    "workers": lambda v, f: check_int(v, f, minimum=1),
    "hardware.parallel_jobs": lambda v, f: check_int(v, f, minimum=1),
}
STAGES = ("fit", "test")
PRECISIONS = ("32-true", "32", 32, "16-mixed", "bf16-mixed", "bf16-true", "16-true", "64-true", "64", 64, "transformer-engine")


def check_fields(cfg: DictConfig) -> None:
    """Type and range of every field in FIELD_RULES that the config has, named as the user typed it."""
    absent = object()
    for path, rule in FIELD_RULES.items():
        try:
            value = OmegaConf.select(cfg, path, default=absent, throw_on_missing=True)
        except Exception as exc:  # noqa: BLE001 - an interpolation that cannot resolve
            raise ConfigError(f"{user_field(cfg, path)}: cannot be resolved ({exc})") from None
        if value is not absent:
            rule(value, user_field(cfg, path))


def check_data_dir(path: str) -> None:
    """``paths.data_dir`` must be a writable directory, or creatable as one (checked, not created).

    Writability is tried (a temporary file is made and removed in the nearest existing
    folder), because permission bits do not tell the truth for root or read-only mounts.
    """
    target = Path(path).absolute()
    existing = target
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        where = "it is a file" if existing == target else f"{existing} is a file"
        raise ConfigError(field="paths.data_dir", value=path, allowed=f"a directory ({where})")
    try:
        fd, probe = tempfile.mkstemp(prefix=".physml-write-test-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        what = "this directory is read-only" if existing == target else f"{existing} is read-only, so it cannot be created"
        raise ConfigError(
            field="paths.data_dir", value=path, allowed=f"a writable directory ({what}: {exc.strerror})"
        ) from None


def _check_stratified(cfg: DictConfig, spec: Any) -> None:
    """data.stratify_batches needs a class target and a batch size that is a multiple of its classes."""
    kind = spec.target(cfg.system.target).kind
    require(kind == "class", user_field(cfg, "data.stratify_batches"),
            f"true only for class targets (system.target={cfg.system.target} is {kind})", True)
    classes = spec.outputs(cfg.system)
    require(cfg.data.batch_size % classes == 0, user_field(cfg, "data.batch_size"),
            f"multiples of the {classes} classes of system.target={cfg.system.target} "
            "when data.stratify_batches=true", cfg.data.batch_size)


def validate(cfg: DictConfig) -> None:
    """Checks that must pass before anything is generated or trained."""
    check_fields(cfg)
    spec = spec_of(cfg.system.datamodule._target_)
    with section(cfg, "system"):
        spec.target(cfg.system.target)
        if spec.feed_field is not None:
            spec.feed(cfg.system)
    if cfg.get("data", {}).get("stratify_batches", False):
        _check_stratified(cfg, spec)
    if "model" in cfg:
        check_compatible(spec, cfg.system, str(cfg.model.get("name", "?")), model_contract(cfg))
    try:
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - re-raised with the config path named
        raise ConfigError(f"configuration cannot be resolved: {exc}") from exc
