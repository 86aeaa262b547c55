"""Accepted attribute values per type (section 4 of the contract).

These aim at the boundaries on purpose (255 code points of emoji, ±(2^53 − 1), leap days, `false`,
`0`, `""`), because upsert bugs hide there. `rejected.py` holds their counterparts and `dispatch.py`
the table that joins both per type.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection
from datetime import date, datetime, timedelta, timezone

from hypothesis import strategies as st

__all__ = [
    "MAX_NUMBER", "MAX_TEXT", "checkbox_values", "date_values", "datetime_values", "multiselect_values",
    "number_values", "phone_number_values", "select_values", "text_values",
]

MAX_TEXT = 255
MAX_NUMBER = 2**53 - 1

# Lone surrogates cannot travel in valid JSON text, and NUL is refused by most SQL text columns: a
# correct API may reject either for reasons the contract does not speak of, so neither is generated.
_CHARACTERS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
_ASTRAL = st.sampled_from("😀🚀𝔘𝕏🀄𐍈🜁🧪")  # outside the Basic Multilingual Plane: 2 UTF-16 units each
_COMBINING = st.sampled_from("\u0301\u0308\u0327\u20dd")
_WHITESPACE = st.sampled_from(" \t\n\r\u00a0\u2003\u3000")


def _boundary_texts(length: int) -> st.SearchStrategy[str]:
    """Texts of exactly `length` code points built from astral characters, combining marks and letters.

    A pattern of up to 16 of them is drawn and repeated to the length: a handful of draws instead of
    one per code point (255 of them cost most of the suite's generation time), with every mix of the
    kinds still possible, and shrinking to a single repeated piece.
    """
    pieces = st.one_of(_ASTRAL, _COMBINING, _WHITESPACE, st.sampled_from("aZé"))
    return st.lists(pieces, min_size=1, max_size=min(16, max(length, 1))).map(
        lambda pattern: "".join(itertools.islice(itertools.cycle(pattern), length)))


def text_values(*, min_size: int = 0, max_size: int = MAX_TEXT) -> st.SearchStrategy[str]:
    """Strings the contract accepts for `text`: up to 255 code points.

    Mixes arbitrary Unicode, empty and whitespace-only strings, and texts of exactly `max_size` code
    points made of emoji, combining marks and letters. Shrinks towards the empty string (or
    `min_size` zeros, "000").
    """
    if not 0 <= min_size <= max_size <= MAX_TEXT:
        raise ValueError(f"need 0 <= min_size <= max_size <= {MAX_TEXT}, got {min_size} and {max_size}")
    options = [st.text(_CHARACTERS, min_size=min_size, max_size=max_size)]
    if min_size == 0:
        options.append(st.lists(_WHITESPACE, max_size=min(8, max_size)).map("".join))
    options.append(_boundary_texts(max_size))
    return st.one_of(options[0], *options)  # arbitrary text about half the time, the edges the rest


def phone_number_values(*, max_size: int = MAX_TEXT) -> st.SearchStrategy[str]:
    """Phone numbers as people write them (`+49 30 1234567`, `(030) 123-45`), up to `max_size` characters.

    Realistic on purpose: the contract only promises a string of at most 255 characters [R], and a real
    API may check the format. Shrinks towards short runs of digits ("0").
    """
    if not 1 <= max_size <= MAX_TEXT:
        raise ValueError(f"need 1 <= max_size <= {MAX_TEXT}, got {max_size}")
    part = st.text("0123456789", min_size=1, max_size=6)
    separator = st.sampled_from(["", " ", "-", "/"])
    written = st.builds(_write_phone, st.booleans(), st.lists(st.tuples(part, separator), min_size=1, max_size=5))
    longest = "+" + "1" * (max_size - 1)
    # The edge (about one draw in four) is chosen by a draw after the written number, not as a branch
    # of its own: a branch without draws would be simpler than any number, and shrink to 255 characters.
    edge = st.sampled_from([False, False, False, True])
    return st.builds(lambda text, at_edge: longest if at_edge else text[:max_size], written, edge)


def _write_phone(plus: bool, parts: list[tuple[str, str]]) -> str:
    return ("+" if plus else "") + "".join(digits + sep for digits, sep in parts).rstrip(" -/")


def number_values(*, min_value: int = -MAX_NUMBER, max_value: int = MAX_NUMBER) -> st.SearchStrategy[int]:
    """JSON integers in ±(2^53 − 1) (or `min_value`..`max_value`), the range's ends, 0, ±1, ±2^31 drawn often.

    Shrinks towards 0, or when the range excludes 0 towards an edge inside it (`min_value` if none).
    """
    if not -MAX_NUMBER <= min_value <= max_value <= MAX_NUMBER:
        raise ValueError(f"need -{MAX_NUMBER} <= min_value <= max_value <= {MAX_NUMBER}")
    # The ends get a branch of their own, not a place among the edges: ±(2^53 − 1) is where float-backed
    # stores lose precision, and Hypothesis's mutations reach a sampled_from's entries very unevenly.
    edges = [edge for edge in (0, 1, -1, 2**31 - 1, 2**31, -(2**31), 2**32) if min_value <= edge <= max_value]
    ends = st.sampled_from(sorted({min_value, max_value}))
    return st.one_of(*([st.sampled_from(edges)] if edges else []), ends, st.integers(min_value, max_value))


def checkbox_values() -> st.SearchStrategy[bool]:
    """`true` and `false`; shrinks towards `false`, the value a careless server drops."""
    return st.booleans()


_LEAP_DAYS = [date(2024, 2, 29), date(2000, 2, 29), date(1904, 2, 29), date(2096, 2, 29)]


def date_values() -> st.SearchStrategy[str]:
    """Real calendar dates written `YYYY-MM-DD`, leap days and year ends drawn often; shrinks to 2024-02-29."""
    edges = st.sampled_from([*_LEAP_DAYS, date(1999, 12, 31), date(2025, 12, 31), date(1970, 1, 1)])
    return st.one_of(edges, st.dates(min_value=date(1, 1, 1))).map(date.isoformat)


def datetime_values() -> st.SearchStrategy[str]:
    """ISO 8601 date-times with an explicit offset (`Z`, `+00:00`, `+05:45`, `-09:30`, …), 0–6 fraction digits.

    Kept within 1970–2100 so the instant exists in every offset. Shrinks towards
    2000-01-01T00:00:00+00:00.
    """
    offsets = st.one_of(st.sampled_from([0, 330, 345, -570, 840, -720]), st.integers(-14 * 60, 14 * 60))
    moments = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2099, 12, 30))
    return st.builds(_write_datetime, moments, offsets, st.sampled_from([0, 3, 6]), st.booleans())


def _write_datetime(moment: datetime, offset_minutes: int, digits: int, zulu: bool) -> str:
    zone = timezone(timedelta(minutes=offset_minutes))
    text = moment.replace(tzinfo=zone).isoformat(timespec={0: "seconds", 3: "milliseconds"}.get(digits, "microseconds"))
    return text.replace("+00:00", "Z") if zulu and offset_minutes == 0 else text


def select_values(option_ids: Collection[int]) -> st.SearchStrategy[dict[str, int]]:
    """`{"id": <option id>}` for an existing option; shrinks towards the first id."""
    if not option_ids:
        raise ValueError("a select value needs at least one option id")
    return st.sampled_from(sorted(option_ids)).map(lambda option_id: {"id": option_id})


def multiselect_values(option_ids: Collection[int]) -> st.SearchStrategy[list[dict[str, int]]]:
    """Arrays of `{"id": …}` of existing options, `[]` included, in any order, duplicates possible.

    Shrinks towards `[]`.
    """
    if not option_ids:
        return st.just([])
    return st.lists(select_values(option_ids), max_size=len(option_ids) + 1)
