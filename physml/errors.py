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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    import math

    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_int(value: Any, field: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int within [minimum, maximum], else a ConfigError saying so (wrong types included)."""
    bounds = _bounds(minimum, maximum)
    require(
        _is_int(value) and (minimum is None or value >= minimum) and (maximum is None or value <= maximum),
        field,
        f"integers{bounds}",
        value,
    )
    return int(value)


def check_number(
    value: Any, field: str, minimum: float | None = None, maximum: float | None = None, above: float | None = None
) -> float:
    """``value`` as a finite float within the bounds (``above``: strictly greater), else a ConfigError."""
    ok = _is_number(value)
    ok = ok and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    ok = ok and (above is None or value > above)
    bounds = f" > {above:g}" if above is not None else _bounds(minimum, maximum)
    require(ok, field, f"finite numbers{bounds}", value)
    return float(value)


def check_choice(value: Any, field: str, choices: Any) -> Any:
    require(value in tuple(choices), field, f"one of {list(choices)}", value)
    return value


def check_bool(value: Any, field: str) -> bool:
    require(isinstance(value, bool), field, "true or false", value)
    return bool(value)


def _bounds(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum:g}, {maximum:g}]"
    if minimum is not None:
        return f" >= {minimum:g}"
    if maximum is not None:
        return f" <= {maximum:g}"
    return ""
