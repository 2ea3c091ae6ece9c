"""The errors every layer raises, and the checks that build them.

A leaf module: it imports nothing of the project, so simulators, the core, datamodules
and models can all raise the same errors without importing each other. A
:class:`ConfigError` carries the field, the value and what is allowed as data, so the
layer that knows how the user spelled a field (``physml.config``) can rename it without
parsing messages.
"""

from __future__ import annotations

from typing import Any

_UNSET: Any = object()


class ConfigError(ValueError):
    """A setting is not allowed: names the field, the value given and what is allowed."""

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        value: Any = _UNSET,
        allowed: str | None = None,
    ) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        if message is None:
            message = f"{field}={value!r} is invalid: allowed {allowed}"
        super().__init__(message)

    @property
    def structured(self) -> bool:
        """True when field, value and allowed are known (the message can be rebuilt)."""
        return self.field is not None and self.value is not _UNSET and self.allowed is not None

    def renamed(self, field: str) -> ConfigError:
        """The same error under another name for the field (the one the user typed)."""
        if not self.structured:
            return ConfigError(f"{field}: {self}")
        return ConfigError(field=field, value=self.value, allowed=self.allowed)


class DataIntegrityError(RuntimeError):
    """Stored data do not match their checksums: names the dataset, the shards and the repair."""


def require(condition: bool, field: str, allowed: str, value: Any) -> None:
    """Raise a ConfigError naming the field, the value given and what is allowed."""
    if not condition:
        raise ConfigError(field=field, value=value, allowed=allowed)
