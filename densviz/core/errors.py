"""The one error every bad setting raises, and how a user's value is quoted in it."""

from __future__ import annotations

from typing import Any

__all__ = ["ConfigError", "SurroundingsError", "show_value"]


class ConfigError(ValueError):
    """An invalid setting: names the field, the value given and what is allowed.

    Attributes:
        field: The setting's name, spelled as the dataclass field (``growth_rate``).
        value: The value that was given.
        allowed: A phrase saying what would be accepted.
    """

    def __init__(self, field: str, value: Any, allowed: str, message: str | None = None):
        self.field = field
        self.value = value
        self.allowed = allowed
        if message is None:
            message = f"{field} must be {allowed}; got {show_value(value)}."
        super().__init__(message)


def show_value(value: Any) -> str:
    """Quote a user's value for a message, cut short if it is very long."""
    if isinstance(value, tuple | list) and all(isinstance(v, int) for v in value):
        text = ",".join(str(v) for v in value) or "empty"  # a block_config, as it is typed
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class SurroundingsError(RuntimeError):
    """The machine failed the work (a full disk, a helper program that crashed), not the user's input.

    The command line exits 1 with its sentence (bad input exits 2).
    """
