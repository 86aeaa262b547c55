"""Attribute values of section 4: validation per type, the stored form, and the matching key.

Each validator takes the JSON value as sent and returns the value as stored and returned, or raises
`ValueError` with a message for the client. `None` is handled by the caller (it clears a value).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from datetime import UTC, date, datetime
from typing import Any

__all__ = ["MAX_NUMBER", "MAX_TEXT", "SUPPORTED_TYPES", "UNIQUE_TYPES", "matching_key", "validate_value"]

MAX_TEXT = 255
MAX_NUMBER = 2**53 - 1
UNIQUE_TYPES = frozenset({"text", "phone_number", "number"})

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})", re.ASCII)


def _text(value: Any, _options: Collection[int]) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) > MAX_TEXT:
        raise ValueError(f"must be at most {MAX_TEXT} characters, got {len(value)}")
    return value


def _number(value: Any, _options: Collection[int]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a JSON integer")
    if abs(value) > MAX_NUMBER:
        raise ValueError(f"must be between -{MAX_NUMBER} and {MAX_NUMBER}")
    return value


def _checkbox(value: Any, _options: Collection[int]) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _date(value: Any, _options: Collection[int]) -> str:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value} is not a calendar date") from None
    return value


def _datetime(value: Any, _options: Collection[int]) -> str:
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        raise ValueError("must be an ISO 8601 date-time with an offset, e.g. 2025-06-01T10:00:00+02:00")
    try:
        instant = datetime.fromisoformat(value).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"{value} is not a valid date-time") from None
    return instant.isoformat()


def _option(value: Any, options: Collection[int]) -> dict[str, int]:
    if not isinstance(value, dict) or set(value) != {"id"}:
        raise ValueError('must be an object {"id": <option id>}')
    option_id = value["id"]
    if isinstance(option_id, bool) or not isinstance(option_id, int):
        raise ValueError("option id must be an integer")
    if option_id not in options:
        raise ValueError(f"option {option_id} does not exist")
    return {"id": option_id}


def _options(value: Any, options: Collection[int]) -> list[dict[str, int]]:
    if not isinstance(value, list):
        raise ValueError('must be an array of {"id": <option id>}')
    ids = {_option(item, options)["id"] for item in value}
    return [{"id": option_id} for option_id in sorted(ids)]


_VALIDATORS: dict[str, Callable[[Any, Collection[int]], Any]] = {
    "text": _text,
    "phone_number": _text,
    "number": _number,
    "checkbox": _checkbox,
    "date": _date,
    "datetime": _datetime,
    "select": _option,
    "multiselect": _options,
}
SUPPORTED_TYPES = frozenset(_VALIDATORS)


def validate_value(attr_type: str, value: Any, option_ids: Collection[int] = ()) -> Any:
    """The stored form of a non-null `value` for an attribute of `attr_type`; ValueError if rejected."""
    return _VALIDATORS[attr_type](value, option_ids)


def matching_key(stored: Any) -> str:
    """A text equal for two stored values exactly when they are the same value (rule A3).

    Stored values are already canonical (datetimes in UTC, multiselects sorted), so their JSON text
    is enough: strings compare code point by code point and `"1"` never equals `1`.
    """
    return json.dumps(stored, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
