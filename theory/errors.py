"""Errors raised on invalid input, each naming the argument, its value and what was expected."""

from __future__ import annotations

from typing import Any

__all__ = ["SpecError", "NotPositiveDefiniteError", "ResourceError", "require", "describe"]


def describe(value: Any) -> str:
    """A short, readable rendering of a value for error messages."""
    try:
        import numpy as np

        if isinstance(value, np.ndarray):
            return f"array of shape {value.shape}"
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class SpecError(ValueError):
    """Invalid input: names the field, the offending value and the valid range.

    The message reads ``"<field>=<value>: expected <expected>"``; the three parts are
    kept as attributes so that callers (the CLI, property tests) can inspect them.
    """

    def __init__(self, field: str, value: Any, expected: str):
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"{field}={describe(value)}: expected {expected}")


class NotPositiveDefiniteError(SpecError):
    """A covariance (kernel matrix, spatial covariance) that is not positive definite."""


class ResourceError(SpecError):
    """A request whose estimated cost (memory, layers, heads, time) exceeds a stated budget.

    Raised *before* the work starts. ``expected`` says what fits (and, where there is one, the
    cheaper alternative or the ``force`` switch that lifts the budget).
    """


def require(condition: bool, field: str, value: Any, expected: str) -> None:
    """Raise :class:`SpecError` unless ``condition`` holds."""
    if not condition:
        raise SpecError(field, value, expected)
