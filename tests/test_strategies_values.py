"""Value strategies per attribute type (section 4): the dispatch table, the public surface, the values.

Accepted values are POSTed and PATCHed to the reference server and read back per `same_value`;
rejected values get 400 and leave the records as they were. A derandomized run shows that the
boundaries the strategies aim at (255 code points, astral characters, ±(2^53 − 1), `false`, `0`,
`""`, leap days) are reached within a fixed budget.
"""

from __future__ import annotations

import inspect
import types
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
from crm_contract.strategies import (
    MAX_NUMBER,
    MAX_TEXT,
    SUPPORTED_TYPES,
    VALUE_STRATEGIES,
    accepted_values,
    checkbox_values,
    date_values,
    datetime_values,
    multiselect_values,
    number_values,
    phone_number_values,
    rejected_values,
    same_value,
    select_values,
    text_values,
)
from hypothesis import find, given, settings
from hypothesis import strategies as st
from strategies_support import KEY_OF_TYPE, every_type_object

from crm_contract import strategies

Api = Any  # the `api` fixtures' class lives in tests/conftest.py

SECTION_4_TYPES = {"text", "phone_number", "number", "checkbox", "date", "datetime", "select", "multiselect"}


# -- the table and the public surface ----------------------------------------------------------------

def test_dispatch_table_covers_exactly_the_section_4_types() -> None:
    assert set(VALUE_STRATEGIES) == SUPPORTED_TYPES == SECTION_4_TYPES
    for attr_type, pair in VALUE_STRATEGIES.items():
        assert isinstance(pair.accepted((1, 2)), st.SearchStrategy), attr_type
        assert isinstance(pair.rejected((1, 2), False), st.SearchStrategy), attr_type


@pytest.mark.parametrize("attr_type", ["relation", "user", "status", "rating", "currency", "Text", ""])
def test_types_out_of_scope_have_no_values(attr_type: str) -> None:
    with pytest.raises(ValueError, match="unsupported attribute type"):
        accepted_values(attr_type)
    with pytest.raises(ValueError, match="unsupported attribute type"):
        rejected_values(attr_type)


def _public_names(module: types.ModuleType) -> set[str]:
    return {name for name, value in vars(module).items() if not name.startswith("_")
            and not isinstance(value, types.ModuleType) and name != "annotations"}  # __future__ import


def test_all_matches_the_public_names() -> None:
    assert len(strategies.__all__) == len(set(strategies.__all__)), "no name listed twice"
    assert all(hasattr(strategies, name) for name in strategies.__all__)
    assert set(strategies.__all__) == _public_names(strategies)
    parts = [strategies.values, strategies.rejected, strategies.dispatch, strategies.schemas, strategies.keys,
             strategies.payloads]
    assert set().union(*(part.__all__ for part in parts)) == set(strategies.__all__), "every part re-exported"
    for part in parts:
        assert all(hasattr(part, name) for name in part.__all__), part.__name__


_STRATEGY_FUNCTIONS = sorted(
    name for name in strategies.__all__
    if inspect.isfunction(getattr(strategies, name))
    and "SearchStrategy" in str(inspect.signature(getattr(strategies, name)).return_annotation)
)


def test_the_strategy_functions_are_found() -> None:
    assert {"text_values", "rejected_values", "matching_keys", "full_payloads", "object_schemas"} <= set(
        _STRATEGY_FUNCTIONS)


@pytest.mark.parametrize("name", _STRATEGY_FUNCTIONS)
def test_every_strategy_says_how_it_shrinks(name: str) -> None:
    doc = inspect.getdoc(getattr(strategies, name)) or ""
    assert "shrink" in doc.lower(), f"{name}: the docstring must say how it shrinks"


# find() shrinks the first example it meets; with the profile's 10 examples it may stop short of the simplest.
SIMPLEST = settings(database=None, max_examples=100, derandomize=True)


@pytest.mark.parametrize(("strategy", "simplest"), [
    (text_values(), ""),
    (text_values(min_size=3), "000"),
    (phone_number_values(), "0"),
    (number_values(), 0),
    (number_values(min_value=5, max_value=9), 5),
    (checkbox_values(), False),
    (date_values(), "2024-02-29"),
    (datetime_values(), "2000-01-01T00:00:00+00:00"),
    (select_values([7, 3]), {"id": 3}),
    (multiselect_values([7, 3]), []),
], ids=lambda x: "" if isinstance(x, st.SearchStrategy) else repr(x))
def test_value_strategies_shrink_as_documented(strategy: st.SearchStrategy[Any], simplest: Any) -> None:
    assert find(strategy, lambda _: True, settings=SIMPLEST) == simplest


@pytest.mark.parametrize(("attr_type", "documented_only", "simplest"), [
    ("text", False, 0), ("phone_number", True, 0), ("number", False, True), ("number", True, "seven"),
    ("checkbox", False, 0), ("date", False, "2025-02-29"), ("datetime", False, "2025-06-01"),
    ("select", False, {"id": 1007}), ("multiselect", False, {"id": 3}),
])
def test_rejected_values_shrink_as_documented(attr_type: str, documented_only: bool, simplest: Any) -> None:
    strategy = rejected_values(attr_type, option_ids=(7, 3), documented_only=documented_only)
    assert find(strategy, lambda _: True, settings=SIMPLEST).value == simplest


@pytest.mark.parametrize("make", [
    lambda: text_values(min_size=10, max_size=5),
    lambda: text_values(max_size=MAX_TEXT + 1),
    lambda: text_values(min_size=-1),
    lambda: phone_number_values(max_size=0),
    lambda: phone_number_values(max_size=MAX_TEXT + 1),
    lambda: number_values(min_value=5, max_value=4),
    lambda: number_values(max_value=MAX_NUMBER + 1),
    lambda: number_values(min_value=-MAX_NUMBER - 1),
    lambda: select_values([]),
    lambda: accepted_values("select"),  # a select without options has no value
])
def test_impossible_value_arguments_raise(make: Callable[[], Any]) -> None:
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize("attr_type", sorted(SUPPORTED_TYPES - {"datetime"}))
def test_documented_rejections_are_drawn_without_filtering(attr_type: str) -> None:
    reasons: set[str] = set()

    @settings(max_examples=30, database=None)  # the default health checks: nothing may be filtered away
    @given(bad=rejected_values(attr_type, option_ids=(4, 5), documented_only=True))
    def check(bad: Any) -> None:
        assert bad.documented, bad
        reasons.add(bad.reason)

    check()
    assert reasons


def test_datetime_has_no_documented_rejection() -> None:
    with pytest.raises(ValueError, match="reference choice"):
        rejected_values("datetime", documented_only=True)


# -- same_value ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("attr_type", "sent", "received", "equal"), [
    ("datetime", "2025-06-01T10:00:00+00:00", "2025-06-01T12:00:00+02:00", True),
    ("datetime", "2025-06-01T10:00:00Z", "2025-06-01T10:00:00.000+00:00", True),
    ("datetime", "2025-06-01T10:00:00+00:00", "2025-06-01T10:00:00+02:00", False),
    ("datetime", "2025-06-01T10:00:00+00:00", "2025-06-01T10:00:00", False),
    ("datetime", "2025-06-01T10:00:00+00:00", 1748772000, False),
    ("multiselect", [{"id": 2}, {"id": 1}, {"id": 2}], [{"id": 1}, {"id": 2}], True),
    ("multiselect", [], [], True),
    ("multiselect", [{"id": 1}], [{"id": 1}, {"id": 2}], False),
    ("multiselect", [{"id": 1}], [{"id": True}], False),
    ("multiselect", [{"id": 1}], {"id": 1}, False),
    ("select", {"id": 1}, {"id": 1, "value": "Red"}, True),
    ("select", {"id": 1}, {"id": True}, False),
    ("select", {"id": 1}, {"id": "1"}, False),
    ("select", {"id": 1}, 1, False),
    ("number", 1, True, False),
    ("number", 0, False, False),
    ("number", 1, 1.0, False),
    ("number", MAX_NUMBER, MAX_NUMBER, True),
    ("checkbox", True, 1, False),
    ("text", "1", 1, False),
    ("text", "", None, False),
    ("text", None, None, True),
    ("text", "é", unicodedata.normalize("NFD", "é"), False),
    ("text", " a", "a", False),
    ("date", "2024-02-29", "2024-02-29", True),
    ("date", "2024-02-29", "2024-02-29T00:00:00+00:00", False),
])
def test_same_value(attr_type: str, sent: Any, received: Any, equal: bool) -> None:
    assert same_value(attr_type, sent, received) is equal


# -- boundaries are reached -----------------------------------------------------------------------------

def _boundaries(text: str, phone: str, number: int, checkbox: bool, day: str) -> set[str]:
    found = {"text 255 code points"} if len(text) == MAX_TEXT else set()
    found |= {"astral character"} if any(ord(char) > 0xFFFF for char in text) else set()
    found |= {'text ""'} if text == "" else set()
    found |= {"phone 255 characters"} if len(phone) == MAX_TEXT else set()
    found |= {"+(2^53 - 1)"} if number == MAX_NUMBER else set()
    found |= {"-(2^53 - 1)"} if number == -MAX_NUMBER else set()
    found |= {"0"} if number == 0 else set()
    found |= {"false"} if checkbox is False else set()
    found |= {"leap day"} if day.endswith("-02-29") else set()
    return found


def test_boundaries_are_reached_within_a_fixed_budget() -> None:
    seen: set[str] = set()

    @settings(max_examples=200, derandomize=True, database=None, deadline=None)
    @given(text_values(), phone_number_values(), number_values(), checkbox_values(), date_values())
    def collect(text: str, phone: str, number: int, checkbox: bool, day: str) -> None:
        seen.update(_boundaries(text, phone, number, checkbox, day))

    collect()
    expected = _boundaries("", "", 0, False, "") | {"text 255 code points", "astral character",
                                                    "phone 255 characters", "+(2^53 - 1)", "-(2^53 - 1)",
                                                    "leap day"}
    assert seen == expected, f"never generated: {sorted(expected - seen)}"


@settings(max_examples=60, deadline=None)
@given(text=text_values(), phone=phone_number_values(), number=number_values(), day=date_values(),
       moment=datetime_values())
def test_accepted_values_keep_their_limits(text: str, phone: str, number: int, day: str, moment: str) -> None:
    assert len(text) <= MAX_TEXT and 0 < len(phone) <= MAX_TEXT
    assert not any(unicodedata.category(char) == "Cs" or char == "\x00" for char in text)
    assert -MAX_NUMBER <= number <= MAX_NUMBER and type(number) is int
    assert date.fromisoformat(day).isoformat() == day
    assert datetime.fromisoformat(moment).utcoffset() is not None


# -- against the reference server: POST and PATCH per type ----------------------------------------------

@pytest.fixture(scope="module")
def every_type(shared_api: Api) -> tuple[Any, Any]:
    """One every-type object for the module, and a record of it to PATCH."""
    _, schema = every_type_object(shared_api)
    return schema, shared_api.create(schema.slug, {})


@pytest.mark.parametrize("attr_type", sorted(SUPPORTED_TYPES))
def test_accepted_values_round_trip_through_post_and_patch(shared_api: Api, every_type: Any, attr_type: str) -> None:
    schema, target = every_type
    attr = schema.attribute(KEY_OF_TYPE[attr_type])
    nulls = {key: None for key in schema.keys if key != attr.key}

    @settings(max_examples=30, deadline=None)
    @given(value=accepted_values(attr_type, option_ids=attr.option_ids))
    def check(value: Any) -> None:
        created = shared_api.ok(shared_api.post(f"/crm/{schema.slug}", json={attr.key: value}), 201, "record",
                                "section 5: create with an accepted value")
        patched = shared_api.ok(shared_api.patch(f"/crm/{schema.slug}/{target['id']}", json={attr.key: value}),
                                200, "record", "section 5: PATCH with an accepted value")
        for record in (created, shared_api.record(schema.slug, created["id"]), patched,
                       shared_api.record(schema.slug, target["id"])):
            received = record["attributes"]
            assert same_value(attr_type, value, received[attr.key]), f"section 4: sent {value!r}, got {received}"
            if record["id"] == created["id"]:
                others = {key: received[key] for key in nulls}
                assert others == nulls, f"section 5: omitted attributes are null: {record}"

    check()


@pytest.mark.parametrize("attr_type", sorted(SUPPORTED_TYPES))
def test_rejected_values_get_400_and_change_nothing(shared_api: Api, every_type: Any, attr_type: str) -> None:
    schema, target = every_type
    attr = schema.attribute(KEY_OF_TYPE[attr_type])
    before = shared_api.records(schema.slug)

    @settings(max_examples=30, deadline=None)
    @given(bad=rejected_values(attr_type, option_ids=attr.option_ids))
    def check(bad: Any) -> None:
        rule = f"section 4: {attr.key} ({attr_type}) = {bad.value!r} is {bad.reason}"
        shared_api.fails(shared_api.post(f"/crm/{schema.slug}", json={attr.key: bad.value}), 400, rule)
        shared_api.fails(shared_api.patch(f"/crm/{schema.slug}/{target['id']}", json={attr.key: bad.value}), 400,
                         rule)
        assert shared_api.records(schema.slug) == before, f"A10 / {rule}: the records changed"

    check()
