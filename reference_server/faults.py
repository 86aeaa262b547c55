"""The fault catalogue: named, documented deviations from one contract rule each.

A fault is selected with `create_app(fault=NAME)` or `crm-contract serve --fault NAME`. The catalogue
is filled by the fault-catalogue work; an unknown name is an error, never silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FAULTS", "Fault", "get_fault"]


@dataclass(frozen=True)
class Fault:
    name: str
    rule: str
    description: str


FAULTS: dict[str, Fault] = {}


def get_fault(name: str | None) -> Fault | None:
    if name is None:
        return None
    try:
        return FAULTS[name]
    except KeyError:
        known = ", ".join(sorted(FAULTS)) or "none yet"
        raise ValueError(f"unknown fault {name!r} (known: {known})") from None
