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


def _fixed(documented: bool, *pairs: tuple[Any, str]) -> list[st.SearchStrategy[Rejected]]:
    return [st.just(Rejected(value, reason, documented)) for value, reason in pairs]


def _too_long(max_size: int, documented: bool) -> st.SearchStrategy[Rejected]:
    """Texts of 256–300 code points; those of astral characters are 512+ UTF-16 units, 1024+ bytes."""
    return st.one_of(
        st.integers(max_size + 1, max_size + 45).map(lambda n: "x" * n),
        st.integers(max_size + 1, max_size + 3).map(lambda n: "😀" * n),
        st.builds(lambda head: head + "é" * (max_size + 1 - len(head)), text_values(max_size=20)),
    ).map(lambda text: Rejected(text, f"{len(text)} code points, over {max_size}", documented))


_NOT_STRINGS = ((0, "a number"), (12345, "a number"), (True, "a boolean"), (False, "a boolean"),
                ({"value": "x"}, "an object"), (["x"], "an array"))


def rejected_text_values(*, max_size: int = MAX_TEXT, length_documented: bool = True) -> st.SearchStrategy[Rejected]:
    """For `text` and `phone_number`: over-long strings, numbers, booleans, objects, arrays.

    The 255 limit is documented for `text` and a reference choice for `phone_number`
    (`length_documented=False`). Shrinks towards a string of exactly 256 "x".
    """
    return st.one_of(_too_long(max_size, length_documented), *_fixed(True, *_NOT_STRINGS))


def rejected_number_values() -> st.SearchStrategy[Rejected]:
    """For `number`: booleans, fractions, numeric strings, values past ±(2^53 − 1), objects, arrays.

    Never a whole number written with a fraction part (`29.0`): the contract leaves it open.
    """
    fractions = st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer())
    beyond = st.one_of(st.integers(MAX_NUMBER + 1, 2**63), st.integers(-(2**63), -MAX_NUMBER - 1))
    return st.one_of(
        *_fixed(False, (True, "a boolean is not a number"), (False, "a boolean is not a number"),
                (1.5, "a fraction"), ("1", "a numeric string"), ("-7", "a numeric string"),
                (MAX_NUMBER + 1, "2^53, past the safe range")),
        fractions.map(lambda x: Rejected(x, "a fraction", False)),
        beyond.map(lambda n: Rejected(n, "outside ±(2^53 − 1)", False)),
        *_fixed(True, ("seven", "a string"), ({"value": 1}, "an object"), ([1], "an array")),
    )


def rejected_checkbox_values() -> st.SearchStrategy[Rejected]:
    """For `checkbox`: `0`, `1`, `"true"`, `"false"`, `""`, objects, arrays."""
    return st.one_of(*_fixed(True, (0, "a number"), (1, "a number"), ("true", "a string"),
                             ("false", "a string"), ("", "a string"), ({}, "an object"), ([True], "an array")))


def rejected_date_values() -> st.SearchStrategy[Rejected]:
    """For `date`: impossible days, sloppy formats, date-times, numbers.

    `2025-02-29` (no leap year), `2025-02-30`, `2025-13-01`, `2025-6-1`, `20250601`, a date-time.
    """
    return st.one_of(*_fixed(
        True, ("2025-02-29", "not a leap year"), ("2023-02-29", "not a leap year"), ("2025-02-30", "no such day"),
        ("2025-04-31", "no such day"), ("2025-13-01", "no such month"), ("2025-00-10", "no such month"),
        ("2025-6-1", "not zero-padded"), ("20250601", "no dashes"), ("2025-06-01T10:00:00+00:00", "a date-time"),
        ("", "empty"), (20250601, "a number"), (True, "a boolean"),
    ))


def rejected_datetime_values() -> st.SearchStrategy[Rejected]:
    """For `datetime` (all [R]): a bare date, a date-time without offset, impossible days, numbers."""
    return st.one_of(*_fixed(
        False, ("2025-06-01", "a date without time"), ("2025-06-01T10:00:00", "no offset"),
        ("2025-02-30T10:00:00+00:00", "no such day"), ("2025-06-01T25:00:00+00:00", "no such hour"),
        ("yesterday", "not a date-time"), ("", "empty"), (1748772000, "a number"), (True, "a boolean"),
    ))


def rejected_select_values(option_ids: Collection[int]) -> st.SearchStrategy[Rejected]:
    """For `select`: an unknown option id, a bare id, a string id, an array, a string."""
    known = sorted(option_ids) or [1]
    unknown = max(known) + 1000
    return st.one_of(
        st.integers(max(known) + 1, max(known) + 10**6).map(lambda i: Rejected({"id": i}, "unknown option id", True)),
        *_fixed(True, ({"id": unknown}, "unknown option id"), (known[0], "a bare id"),
                ({"id": str(known[0])}, "the id as a string"), ([{"id": known[0]}], "an array"),
                ("red", "an option's value instead of its id")),
    )


def rejected_multiselect_values(option_ids: Collection[int]) -> st.SearchStrategy[Rejected]:
    """For `multiselect`: a single object instead of an array, one unknown id among known ones, bare ids."""
    known = sorted(option_ids) or [1]
    unknown = max(known) + 1000
    return st.one_of(*_fixed(
        True, ({"id": known[0]}, "not an array"), ([{"id": known[0]}, {"id": unknown}], "one unknown option id"),
        ([known[0]], "bare ids"), ([{"id": str(known[0])}], "a string id"), ("red", "a string"),
    ))
