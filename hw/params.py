"""Parameter validation shared by every config: messages name the parameter and the value."""

from __future__ import annotations

__all__ = ["check_int", "check_choice"]


def check_int(name: str, value: object, low: int, high: int | None = None) -> None:
    """Raise unless ``value`` is an int (not bool) within ``[low, high]``.

    Raises
    ------
    TypeError
        ``value`` is not an int.
    ValueError
        ``value`` is out of range.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be {bound}, not {value!r}")


def check_choice(name: str, value: object, choices) -> None:
    """Raise :class:`ValueError` unless ``value`` is one of ``choices``."""
    try:
        known = value in choices
    except TypeError:  # unhashable value
        known = False
    if not known:
        raise ValueError(f"{name} must be one of {sorted(choices)}, not {value!r}")
