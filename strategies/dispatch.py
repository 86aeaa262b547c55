"""One table from attribute type to what the suite knows of it: its accepted and rejected value strategies,
whether it may be unique (and so a matching attribute with fresh keys), its options, and which of its
rules Zeeg documents. Value equality (`same_value`) is here too.

Adding a type to the suite is a row in `TYPE_RULES` (with its value strategies in `values` and
`rejected`), its fresh keys in `keys` if it may be unique, and its round trip in `same_value`; the
run-made objects, the schema strategies and the per-type tests read the table.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from . import rejected as bad
from . import values as good
from .rejected import Rejected

__all__ = ["OPTION_TYPES", "SUPPORTED_TYPES", "TYPE_RULES", "UNIQUE_TYPES", "VALUE_STRATEGIES", "TypeRules",
           "ValueStrategies", "accepted_values", "documented_value", "rejected_values", "same_value"]

OptionIds = Collection[int]


@dataclass(frozen=True)
class TypeRules:
    """What the suite knows of one attribute type (section 4).

    `accepted` and `rejected` are its value strategies, each given the attribute's option ids (empty
    for most); `rejected` also takes `documented_only`, whether to keep only the rejections Zeeg
    documents ([D]). `may_be_unique`: section 3 allows `isUnique` on it, and fresh matching keys of it
    exist (`keys.matching_keys`). `sample_options`: the option labels an attribute of it is made with
    (empty: the type has no options). `documented_acceptance` and `documented_rejection`: whether Zeeg
    documents the values it accepts, and what it rejects ([D]); where not, the checks are [R].
    """

    accepted: Callable[[OptionIds], st.SearchStrategy[Any]]
    rejected: Callable[[OptionIds, bool], st.SearchStrategy[Rejected]]
    may_be_unique: bool = False
    sample_options: tuple[str, ...] = ()
    documented_acceptance: bool = True
    documented_rejection: bool = True


ValueStrategies = TypeRules  # the name of the table's rows before they carried the type's facts

#: The attribute types of section 4 that the contract covers (relation, user, status, rating and
#: currency are out of its scope), and what the suite knows of each.
TYPE_RULES: Mapping[str, TypeRules] = {
    "text": TypeRules(lambda _: good.text_values(), lambda _, doc: bad.rejected_text_values(documented_only=doc),
                      may_be_unique=True),
    "phone_number": TypeRules(lambda _: good.phone_number_values(),
                              lambda _, doc: bad.rejected_text_values(length_documented=False, documented_only=doc),
                              may_be_unique=True, documented_acceptance=False),
    "number": TypeRules(lambda _: good.number_values(),
                        lambda _, doc: bad.rejected_number_values(documented_only=doc), may_be_unique=True),
    "checkbox": TypeRules(lambda _: good.checkbox_values(),
                          lambda _, doc: bad.rejected_checkbox_values(documented_only=doc)),
    "date": TypeRules(lambda _: good.date_values(), lambda _, doc: bad.rejected_date_values(documented_only=doc)),
    "datetime": TypeRules(lambda _: good.datetime_values(),
                          lambda _, doc: bad.rejected_datetime_values(documented_only=doc),
                          documented_acceptance=False, documented_rejection=False),
    "select": TypeRules(good.select_values, lambda ids, doc: bad.rejected_select_values(ids, documented_only=doc),
                        sample_options=("Lead", "Won", "Lost")),
    "multiselect": TypeRules(good.multiselect_values,
                             lambda ids, doc: bad.rejected_multiselect_values(ids, documented_only=doc),
                             sample_options=("Red", "Green", "Blue")),
}
VALUE_STRATEGIES = TYPE_RULES
SUPPORTED_TYPES = frozenset(TYPE_RULES)
#: Types an attribute of which may be unique, and so a matching attribute with fresh keys.
UNIQUE_TYPES = frozenset(name for name, rules in TYPE_RULES.items() if rules.may_be_unique)
#: Types whose attributes have options.
OPTION_TYPES = frozenset(name for name, rules in TYPE_RULES.items() if rules.sample_options)


def _strategies(attr_type: str) -> TypeRules:
    try:
        return TYPE_RULES[attr_type]
    except KeyError:
        raise ValueError(f"unsupported attribute type {attr_type!r}; supported: "
                         f"{', '.join(sorted(SUPPORTED_TYPES))}") from None


def accepted_values(attr_type: str, *, option_ids: OptionIds = (),
                    documented_only: bool = False) -> st.SearchStrategy[Any]:
    """Non-null values the contract accepts for an attribute of `attr_type` (see each type's strategy).

    With `documented_only`, only values whose round trip Zeeg documents: texts in NFC without
    surrounding white space (exact storage is [R]), integers within ±(2^31 − 1) (the 2^53 range is [R]),
    and date-times in UTC with whole seconds (the datetime rules are [R]). Shrinks as that type's
    strategy does. Raises ValueError for a type outside SUPPORTED_TYPES.
    """
    return _accepted(attr_type, tuple(option_ids), documented_only)


# Strategies are immutable descriptions: each is made once and drawn from by every example. A strategy
# made afresh inside a draw costs its validation again at every example, which was a large part of the
# kit's own time per request.
@functools.lru_cache(maxsize=1024)
def _accepted(attr_type: str, option_ids: tuple[int, ...], documented_only: bool) -> st.SearchStrategy[Any]:
    strategy = _strategies(attr_type).accepted(option_ids)  # ValueError for an unknown type, in every case
    if documented_only and attr_type in _DOCUMENTED:
        return _DOCUMENTED[attr_type]()
    return strategy


def _plain_texts() -> st.SearchStrategy[str]:
    return good.text_values().map(lambda text: unicodedata.normalize("NFC", text).strip()).filter(
        lambda text: len(text) <= good.MAX_TEXT)


_DOCUMENTED: Mapping[str, Callable[[], st.SearchStrategy[Any]]] = {
    "text": _plain_texts,
    "number": lambda: good.number_values(min_value=-(2**31 - 1), max_value=2**31 - 1),
    "datetime": lambda: st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2099, 12, 30)).map(
        lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")),
}


def documented_value(attr_type: str, value: Any) -> bool:
    """Whether Zeeg documents the round trip of `value`: what `accepted_values(documented_only=True)` may draw.

    False for texts that are not in NFC or have surrounding white space, integers beyond ±(2^31 − 1) and
    date-times not written in UTC with whole seconds; True for every other value (and for null).
    """
    if value is None:
        return True
    if attr_type == "text":
        return isinstance(value, str) and value == unicodedata.normalize("NFC", value).strip()
    if attr_type == "number":
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= 2**31 - 1
    if attr_type == "datetime":
        return isinstance(value, str) and _UTC_SECONDS.fullmatch(value) is not None
    return True


_UTC_SECONDS = re.compile(r"(19[7-9]\d|20\d\d)-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")


def rejected_values(attr_type: str, *, option_ids: OptionIds = (),
                    documented_only: bool = False) -> st.SearchStrategy[Rejected]:
    """Values the contract rejects with 400 for `attr_type`; only [D] rejections if `documented_only`.

    Raises ValueError for a type with no documented rejection (`datetime`) when `documented_only`.
    Shrinks as that type's `rejected_*_values` strategy does.
    """
    return _rejected(attr_type, tuple(option_ids), documented_only)


@functools.lru_cache(maxsize=1024)
def _rejected(attr_type: str, option_ids: tuple[int, ...], documented_only: bool) -> st.SearchStrategy[Rejected]:
    return _strategies(attr_type).rejected(option_ids, documented_only)


def same_value(attr_type: str, sent: Any, received: Any) -> bool:
    """Whether `received` is the value `sent`, as section 4 defines the round trip.

    Exact for every type, except that a `datetime` may come back in another offset (same instant) and
    a `multiselect` in another order without duplicates (same set of ids); options compare by id, since a
    response may carry extra fields. Ids, like every value, compare with their JSON type (`1` is not
    `true`). `null` equals only `null`.
    """
    if sent is None or received is None:
        return sent is None and received is None
    if attr_type == "datetime":
        try:
            return bool(datetime.fromisoformat(sent) == datetime.fromisoformat(received))
        except (TypeError, ValueError):
            return False
    if attr_type == "select":  # a response may add fields to the option, never change its id
        return isinstance(received, dict) and isinstance(sent, dict) and _id(received) == _id(sent)
    if attr_type == "multiselect":
        try:
            return {_id(item) for item in sent} == {_id(item) for item in received}
        except (TypeError, KeyError, AttributeError):
            return False
    return type(sent) is type(received) and bool(sent == received)


def _id(option: Mapping[str, Any]) -> tuple[type, Any]:
    """An option's id with its type, since `True == 1` in Python but not in JSON."""
    option_id = option.get("id")
    return type(option_id), option_id
