"""Rejected attribute values per type (section 4): each must give 400 and change nothing.

They are the type confusions Python servers let through (`True` is an `int`, `1.5` truncates, `"1"`
coerces), off-by-one and byte-counting length limits, impossible or sloppy dates, and option ids that
do not exist. Each comes as a `Rejected` that says whether Zeeg documents the rejection ([D]) or it is
a reference choice ([R]), so the `documented` contract profile can leave the latter out.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

from hypothesis import strategies as st

from .values import MAX_NUMBER, MAX_TEXT, text_values

__all__ = [
    "Rejected", "rejected_checkbox_values", "rejected_date_values", "rejected_datetime_values",
    "rejected_multiselect_values", "rejected_number_values", "rejected_select_values", "rejected_text_values",
]


class Rejected(NamedTuple):
    """A value the contract rejects with 400, why, and whether Zeeg documents the rejection ([D])."""

    value: Any
    reason: str
    documented: bool


_Part = tuple[bool, st.SearchStrategy[Rejected]]  # whether Zeeg documents it, and the strategy


def _fixed(documented: bool, *pairs: tuple[Any, str]) -> list[_Part]:
    return [(documented, st.just(Rejected(value, reason, documented))) for value, reason in pairs]


def _one_of(parts: list[_Part], documented_only: bool, what: str) -> st.SearchStrategy[Rejected]:
    """The parts (all, or only the [D] ones) in one strategy: left out, not filtered, so none is wasted."""
    chosen = [strategy for documented, strategy in parts if documented or not documented_only]
    if not chosen:
        raise ValueError(f"Zeeg documents no rejection for {what}: every one here is a reference choice [R]")
    return st.one_of(chosen)


def _too_long(max_size: int, documented: bool) -> _Part:
    """Texts of 256–300 code points; those of astral characters are 512+ UTF-16 units, 1024+ bytes."""
    return documented, st.one_of(
        st.integers(max_size + 1, max_size + 45).map(lambda n: "x" * n),
        st.integers(max_size + 1, max_size + 3).map(lambda n: "😀" * n),
        st.builds(lambda head: head + "é" * (max_size + 1 - len(head)), text_values(max_size=20)),
    ).map(lambda text: Rejected(text, f"{len(text)} code points, over {max_size}", documented))


_NOT_STRINGS = ((0, "a number"), (12345, "a number"), (True, "a boolean"), (False, "a boolean"),
                ({"value": "x"}, "an object"), (["x"], "an array"))


def rejected_text_values(*, max_size: int = MAX_TEXT, length_documented: bool = True,
                         documented_only: bool = False) -> st.SearchStrategy[Rejected]:
    """For `text` and `phone_number`: over-long strings, numbers, booleans, objects, arrays.

    The 255 limit is documented for `text` and a reference choice for `phone_number`
    (`length_documented=False`); only [D] rejections if `documented_only`. Shrinks towards the first
    fixed value (`0`); an over-long text towards exactly 256 "x".
    """
    # Fixed values first: the shrinker lowers the branch index, and a `just` at index 0 is the simplest.
    return _one_of([*_fixed(True, *_NOT_STRINGS), _too_long(max_size, length_documented)], documented_only,
                   "text")


def rejected_number_values(*, documented_only: bool = False) -> st.SearchStrategy[Rejected]:
    """For `number`: booleans, fractions, numeric strings, values past ±(2^53 − 1), objects, arrays.

    Never a whole number written with a fraction part (`29.0`): the contract leaves it open. Only [D]
    rejections (a string, an object, an array) if `documented_only`. Shrinks towards `true`, the first
    fixed value (`"seven"` if documented only); drawn fractions and out-of-range integers towards
    simpler ones.
    """
    fractions = st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer())
    beyond = st.one_of(st.integers(MAX_NUMBER + 1, 2**63), st.integers(-(2**63), -MAX_NUMBER - 1))
    return _one_of([
        *_fixed(False, (True, "a boolean is not a number"), (False, "a boolean is not a number"),
                (1.5, "a fraction"), ("1", "a numeric string"), ("-7", "a numeric string"),
                (MAX_NUMBER + 1, "2^53, past the safe range")),
        (False, fractions.map(lambda x: Rejected(x, "a fraction", False))),
        (False, beyond.map(lambda n: Rejected(n, "outside ±(2^53 − 1)", False))),
        *_fixed(True, ("seven", "a string"), ({"value": 1}, "an object"), ([1], "an array")),
    ], documented_only, "number")


def rejected_checkbox_values(*, documented_only: bool = False) -> st.SearchStrategy[Rejected]:
    """For `checkbox` (all [D]): `0`, `1`, `"true"`, `"false"`, `""`, objects, arrays; shrinks towards `0`."""
    return _one_of(_fixed(True, (0, "a number"), (1, "a number"), ("true", "a string"), ("false", "a string"),
                          ("", "a string"), ({}, "an object"), ([True], "an array")), documented_only, "checkbox")


def rejected_date_values(*, documented_only: bool = False) -> st.SearchStrategy[Rejected]:
    """For `date` (all [D]): impossible days, sloppy formats, date-times, numbers.

    `2025-02-29` (no leap year), `2025-02-30`, `2025-13-01`, `2025-6-1`, `20250601`, a date-time.
    Shrinks towards `2025-02-29`.
    """
    return _one_of(_fixed(
        True, ("2025-02-29", "not a leap year"), ("2023-02-29", "not a leap year"), ("2025-02-30", "no such day"),
        ("2025-04-31", "no such day"), ("2025-13-01", "no such month"), ("2025-00-10", "no such month"),
        ("2025-6-1", "not zero-padded"), ("20250601", "no dashes"), ("2025-06-01T10:00:00+00:00", "a date-time"),
        ("", "empty"), (20250601, "a number"), (True, "a boolean"),
    ), documented_only, "date")


def rejected_datetime_values(*, documented_only: bool = False) -> st.SearchStrategy[Rejected]:
    """For `datetime` (all [R]): a bare date, a date-time without offset, impossible days, numbers.

    Raises ValueError if `documented_only`, since none is documented. Shrinks towards the bare date
    `2025-06-01`.
    """
    return _one_of(_fixed(
        False, ("2025-06-01", "a date without time"), ("2025-06-01T10:00:00", "no offset"),
        ("2025-02-30T10:00:00+00:00", "no such day"), ("2025-06-01T25:00:00+00:00", "no such hour"),
        ("yesterday", "not a date-time"), ("", "empty"), (1748772000, "a number"), (True, "a boolean"),
    ), documented_only, "datetime")


def rejected_select_values(option_ids: Collection[int], *,
                           documented_only: bool = False) -> st.SearchStrategy[Rejected]:
    """For `select` (all [D]): an unknown option id, a bare id, a string id, an array, a string.

    Shrinks towards the fixed unknown id (the largest known id plus 1000).
    """
    known = sorted(option_ids) or [1]
    unknown = max(known) + 1000
    drawn = st.integers(max(known) + 1, max(known) + 10**6).map(lambda i: Rejected({"id": i}, "unknown option id",
                                                                                   True))
    return _one_of([
        *_fixed(True, ({"id": unknown}, "unknown option id"), (known[0], "a bare id"),
                ({"id": str(known[0])}, "the id as a string"), ([{"id": known[0]}], "an array"),
                ("red", "an option's value instead of its id")),
        (True, drawn),
    ], documented_only, "select")


def rejected_multiselect_values(option_ids: Collection[int], *,
                                documented_only: bool = False) -> st.SearchStrategy[Rejected]:
    """For `multiselect` (all [D]): one object instead of an array, an unknown id among known ones, bare ids.

    Shrinks towards the single object `{"id": <first id>}`.
    """
    known = sorted(option_ids) or [1]
    unknown = max(known) + 1000
    return _one_of(_fixed(
        True, ({"id": known[0]}, "not an array"), ([{"id": known[0]}, {"id": unknown}], "one unknown option id"),
        ([known[0]], "bare ids"), ([{"id": str(known[0])}], "a string id"), ("red", "a string"),
    ), documented_only, "multiselect")
