"""The fault catalogue: named, documented deviations from one contract rule each.

A fault is selected with `create_app(fault=NAME)` or `crm-contract serve --fault NAME`. The catalogue
is filled by the fault-catalogue work; an unknown name is an error, never silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .rules import Rules

__all__ = ["FAULTS", "Fault", "get_fault"]


@dataclass(frozen=True)
class Fault:
    """A named deviation from one rule: `apply` changes one field of the server's `Rules`."""

    name: str
    rule: str
    description: str
    apply: Callable[[Rules], None]


FAULTS: dict[str, Fault] = {}


def get_fault(name: str | None) -> Fault | None:
    if name is None:
        return None
    try:
        return FAULTS[name]
    except KeyError:
        known = ", ".join(sorted(FAULTS)) or "none yet"
        raise ValueError(f"unknown fault {name!r} (known: {known})") from None
