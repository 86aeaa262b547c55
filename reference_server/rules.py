"""The points where a fault may change the server's behaviour, set to what the contract says.

The server consults one `Rules` object at each of these points; a fault from `faults.py` replaces
exactly one of them. With no fault, every point is the contract's behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from .values import matching_key, validate_value

__all__ = ["Rules"]


def _first(matches: list[Any]) -> list[Any]:
    return matches[:1]


def _not_empty(value: Any) -> bool:
    return value is not None and value != ""


@dataclass
class Rules:
    """The contract's choices at every fault point (sections 1, 4, 5 and rules A1–A15)."""

    # Statuses of the assert (A1, A2) and whether an update keeps the record's id (A2).
    create_status: int = 201
    update_status: int = 200
    update_keeps_id: bool = True
    # Validation and storage of one value (section 4, A14): (type, value, option ids) -> stored value.
    validate: Callable[[str, Any, Collection[int]], Any] = validate_value
    # The text that decides whether two matching values are equal (A3), and unique values (A8).
    match_key: Callable[[Any], str] = matching_key
    # Whether the sent matching value is a case-insensitive SQL LIKE pattern (A3: never; a fault's scan).
    match_as_pattern: bool = False
    unique_key: Callable[[Any], str] = matching_key
    # Which of the records holding the matching value, oldest first, are updated (A9; [] creates).
    pick_matches: Callable[[list[Any]], list[Any]] = _first
    # Whether a matching value may be used (A7), and whether matchingAttribute is checked (A6).
    matching_value_allowed: Callable[[Any], bool] = _not_empty
    check_matching_attribute: bool = True
    # Whether a unique value held by these other records is a collision (A8).
    unique_collides: Callable[[list[Any], int | None], bool] = field(
        default=lambda holders, own: any(holder.seq != own for holder in holders))
    # How a write merges into a record: omitted keys kept, null clears (A4, section 5).
    merge: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] = field(
        default=lambda data, values: {**{k: v for k, v in data.items() if k not in values},
                                      **{k: v for k, v in values.items() if v is not None}})
    # Values stored for omitted attributes on create (A4: none, so they read as null).
    create_defaults: Callable[[Any], dict[str, Any]] = field(default=lambda obj: {})
    # Whether a rejected write still commits what it had done (A10: never).
    commit_rejected_writes: bool = False
    # Seconds between the assert's lookup and its write, outside the lock (A11: none, atomic).
    lookup_pause: float = 0.0
    # Whether deleted records stay matchable (A12: no) and matching spans every object (A13: no).
    soft_delete: bool = False
    match_across_objects: bool = False
    # Auth (section 1, A15): a missing token, and the read-only scope.
    require_token: bool = True
    enforce_scopes: bool = True
    unknown_object_status: int = 404
    # Records: a DELETE of an unknown id, the list order and paging, timestamps, stale reads.
    delete_unknown_status: int = 404
    list_newest_first: bool = False
    page_offset: Callable[[int, int], int] = field(default=lambda page, count: (page - 1) * count)
    keep_created_at: bool = True
    # Scale and concurrency (faults only): how many of the object's oldest records the match lookup
    # searches (None: all), the most records the list shows, and creates that drop concurrent ones.
    lookup_window: int | None = None
    list_cap: int | None = None
    lose_concurrent_creates: bool = False
    updated_at_shift_hours: float = 0.0
    cache_reads: bool = False
