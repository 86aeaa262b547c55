"""Timestamps of section 1: ISO 8601 with an explicit offset, never moving backward for one row."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["later_of_now_and", "now"]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def later_of_now_and(previous: str) -> str:
    """`now()`, or `previous` if the wall clock stepped back: `updatedAt` never goes backward."""
    current = now()
    return previous if datetime.fromisoformat(previous) > datetime.fromisoformat(current) else current
