"""Hydra/OmegaConf glue: resolvers, start-up validation and clear configuration errors."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from typing import Any

from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf

from physml.errors import ConfigError

_RUN_ID = f"{os.getpid():x}{secrets.token_hex(2)}"


def register_resolvers() -> None:
    """``${len:...}`` and ``${physml_uid:}`` (a per-process id that keeps run dirs apart)."""
    if not OmegaConf.has_resolver("len"):
        OmegaConf.register_new_resolver("len", lambda seq: len(seq))
    if not OmegaConf.has_resolver("physml_uid"):
        OmegaConf.register_new_resolver("physml_uid", lambda: _RUN_ID, use_cache=True)


def check_choice(cfg: DictConfig, key: str, allowed_key: str) -> None:
    """Fail early when ``cfg[key]`` is not one of the keys of ``cfg[allowed_key]``."""
    value = OmegaConf.select(cfg, key)
    allowed = OmegaConf.select(cfg, allowed_key)
    if allowed is not None and value not in allowed:
        raise ConfigError(f"{key}={value!r} is invalid: allowed one of {sorted(allowed)}")


def validate(cfg: DictConfig) -> None:
    """Checks that must pass before anything is generated or trained."""
    check_choice(cfg, "system.target", "system.task_by_target")
    for key in ("seed", "system.data_seed"):
        value = OmegaConf.select(cfg, key)
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ConfigError(f"{key}={value!r} is invalid: allowed integers >= 0")
    try:
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with the config path named
        raise ConfigError(f"configuration cannot be resolved: {exc}") from exc


@contextlib.contextmanager
def section(name: str) -> Iterator[None]:
    """Re-raise errors from instantiating a config section as ConfigError naming ``name.field``."""
    try:
        yield
    except InstantiationException as exc:
        cause = exc.__cause__ or exc
        while isinstance(cause, InstantiationException) and cause.__cause__ is not None:
            cause = cause.__cause__
        if isinstance(cause, ConfigError):
            raise _prefixed(cause, name) from None
        raise ConfigError(f"{name}: {cause}") from exc
    except ConfigError as exc:
        raise _prefixed(exc, name) from None


def _prefixed(exc: ConfigError, name: str) -> ConfigError:
    msg = str(exc)
    return ConfigError(msg if msg.startswith(("system.", "model.", "data.", "trainer.", "hardware.")) else f"{name}.{msg}")


def to_plain(cfg: Any) -> Any:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
