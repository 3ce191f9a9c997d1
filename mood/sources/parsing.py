"""Read fields of untrusted JSON answers without trusting their types."""

from __future__ import annotations

from typing import Any


def as_object(value: object) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    """``value`` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def as_text(value: object) -> str | None:
    """``value`` stripped if it is a non-empty string, else None (ids may be numbers)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def as_seconds(value: object, per_second: float = 1.0) -> float | None:
    """A positive duration in seconds from ``value`` counted in ``1 / per_second`` units, else None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value) / per_second
    return None
