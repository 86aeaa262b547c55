"""Payload strategies and `from_object_schema` against the reference server (sections 4-6).

Every generated accepted payload, asserted with `PUT ?matchingAttribute=sku`, gives 201 or 200 and
reads back unchanged; every invalid payload and every bad matching value gives 400 and leaves the
record list exactly as it was (A10). An `AssertModel` per test knows which matching values exist, so
a repeated draw is expected to update; the only unique attribute is the matching one, so no payload
can collide with another record (A8) except in the test of unique values, which uses a fresh object
per example.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from crm_contract.strategies import (
    SUPPORTED_TYPES,
    Attribute,
    BadMatchingPayload,
    InvalidPayload,
    ObjectSchema,
    bad_matching_payloads,
    from_object_schema,
    full_payloads,
    invalid_payloads,
    matching_keys,
    null_payloads,
    partial_payloads,
    run_id,
    run_number_base,
    value_strategy,
)
from crm_contract.strategies.values import MAX_NUMBER, MAX_TEXT
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies_support import KEY_OF_TYPE, MATCHING, OPTIONS, AssertModel, every_type_object

Api = Any  # the `api` fixtures' class lives in tests/conftest.py

Payloads = Callable[..., st.SearchStrategy[Any]]


# -- from_object_schema ------------------------------------------------------------------------------

def test_from_object_schema_reads_every_supported_type(shared_api: Api) -> None:
    raw, schema = every_type_object(shared_api)
    assert schema.slug == raw["slug"]
    assert schema.keys == (MATCHING, *KEY_OF_TYPE.values()), "custom attributes in order, system ones left out"
    assert {attr.type for attr in schema.attributes} == SUPPORTED_TYPES
    assert all(attr.supported and not attr.is_required for attr in schema.attributes)
    assert [attr.key for attr in schema.attributes if attr.is_unique] == [MATCHING]
    for key in ("stage", "tags"):
        served = next(a for a in raw["attributes"] if a["key"] == key)
        assert schema.attribute(key).option_ids == tuple(option["id"] for option in served["options"])
        assert len(schema.attribute(key).option_ids) == len(OPTIONS)
    assert all(not attr.option_ids for attr in schema.attributes if attr.type not in ("select", "multiselect"))


def test_from_object_schema_takes_the_envelope_too(shared_api: Api) -> None:
    raw, schema = every_type_object(shared_api)
    envelope = shared_api.ok(shared_api.get(f"/crm/objects/{raw['slug']}"), 200, None, "GET object")
    assert from_object_schema(envelope) == schema


def test_from_object_schema_keeps_unsupported_types_out_of_payloads() -> None:
    raw = {"slug": "deals", "attributes": [
        {"key": "id", "type": "text", "isStandard": True},
        {"key": "ref", "type": "text", "isUnique": True},
        {"key": "owner", "type": "user"},
        {"key": "stage", "type": "select", "options": []},
    ]}
    schema = from_object_schema(raw)
    assert schema.keys == ("ref", "owner", "stage")
    assert not schema.attribute("owner").supported

    @settings(max_examples=10, database=None)
    @given(body=full_payloads(schema, "ref"))
    def check(body: dict[str, Any]) -> None:
        assert set(body) == {"ref"}, "unsupported types and option-less selects are never written"

    check()


@pytest.mark.parametrize("body", [{}, {"slug": "x"}, {"attributes": []}, {"object": None}])
def test_from_object_schema_rejects_what_is_not_an_object(body: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not an object schema"):
        from_object_schema(body)


# -- accepted payloads: 201/200 and read back unchanged ------------------------------------------------

@pytest.mark.parametrize("payloads", [full_payloads, partial_payloads, null_payloads],
                         ids=["full", "partial", "null"])
def test_accepted_payloads_round_trip(shared_api: Api, payloads: Payloads) -> None:
    _, schema = every_type_object(shared_api)
    model = AssertModel(shared_api, schema)
    existing = model.seed(*(f"{run_id()}-seed-{i}" for i in range(3)))
    keys = st.one_of(matching_keys(), st.sampled_from(existing))  # creates and updates alike

    @settings(max_examples=50, deadline=None)
    @given(body=payloads(schema, MATCHING, keys=keys))
    def check(body: dict[str, Any]) -> None:
        model.put(body)

    check()
    assert len(shared_api.records(schema.slug)) == len(model.records), "one record per matching value"
    assert model.statuses[201] > 3 and model.statuses[200] > 0, f"creates and updates both ran: {model.statuses}"


def test_full_payloads_fill_every_attribute_and_null_payloads_send_a_null(shared_api: Api) -> None:
    _, schema = every_type_object(shared_api)

    @settings(max_examples=30, deadline=None)
    @given(full=full_payloads(schema, MATCHING), nulls=null_payloads(schema, MATCHING),
           partial=partial_payloads(schema, MATCHING))
    def check(full: dict[str, Any], nulls: dict[str, Any], partial: dict[str, Any]) -> None:
        assert set(full) == set(schema.keys) and None not in full.values()
        assert MATCHING in nulls and nulls[MATCHING] is not None
        assert any(value is None for value in nulls.values())
        assert MATCHING in partial and set(partial) <= set(schema.keys) and None not in partial.values()

    check()


UNIQUE_ATTRIBUTES = [
    {"label": "Sku", "type": "text", "isUnique": True},
    {"label": "Alias", "type": "text", "isUnique": True},
    {"label": "Code", "type": "number", "isUnique": True},
    {"label": "Mobile", "type": "phone_number", "isUnique": True},
]


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_run_scoped_unique_values_are_accepted(shared_api: Api, data: st.DataObject) -> None:
    # A fresh object per example: run-scoped values can repeat between examples, and a repeat in
    # another record would rightly be a 400 (A8).
    schema = from_object_schema(shared_api.object(shared_api.new_object(*UNIQUE_ATTRIBUTES)))
    body = data.draw(full_payloads(schema, MATCHING), label="body")
    model = AssertModel(shared_api, schema)
    first = model.put(body)
    again = model.put(body)  # A8: re-asserting a record's own unique values is never an error
    assert again["id"] == first["id"]


@settings(max_examples=60, deadline=None)
@given(data=st.data(), attr_type=st.sampled_from(["text", "number", "phone_number"]))
def test_value_strategy_scopes_unique_values_to_the_run(data: st.DataObject, attr_type: str) -> None:
    attr = Attribute("code", attr_type, is_unique=True)
    value = data.draw(value_strategy(attr))
    base = run_number_base(run_id() + "code")
    if attr_type == "text":
        assert value.startswith(f"{run_id()}-") and len(value) <= MAX_TEXT
    elif attr_type == "number":
        assert base <= value <= min(base + 10**9, MAX_NUMBER)
    else:
        assert value.startswith("+") and base <= int(value[1:]) <= base + 10**9


# -- rejected payloads: 400 and nothing changes (A10) ---------------------------------------------------

def _check_rejected(api: Api, schema: ObjectSchema, body: dict[str, Any], before: list[Any], why: str) -> None:
    resp = api.upsert(schema.slug, MATCHING, body)
    api.fails(resp, 400, f"section 4 / A7 / A14: {why}")
    assert api.records(schema.slug) == before, f"A10: a rejected assert changed records: {api.describe(resp)}"


def test_invalid_payloads_get_400_and_change_nothing(shared_api: Api) -> None:
    _, schema = every_type_object(shared_api)
    model = AssertModel(shared_api, schema)
    existing = model.seed(*(f"{run_id()}-seed-{i}" for i in range(3)))
    before = shared_api.records(schema.slug)
    keys = st.one_of(matching_keys(), st.sampled_from(existing))  # a bad update must not apply either

    @settings(max_examples=60, deadline=None)
    @given(payload=invalid_payloads(schema, MATCHING, keys=keys))
    def check(payload: InvalidPayload) -> None:
        assert payload.key in schema.keys
        why = f"{payload.key} = {payload.rejected.value!r} ({payload.rejected.reason})"
        _check_rejected(shared_api, schema, payload.body, before, why)

    check()


def test_bad_matching_payloads_get_400_and_change_nothing(shared_api: Api) -> None:
    _, schema = every_type_object(shared_api)
    AssertModel(shared_api, schema).seed(f"{run_id()}-seed")
    before = shared_api.records(schema.slug)
    kinds: set[str] = set()

    @settings(max_examples=30, deadline=None)
    @given(payload=bad_matching_payloads(schema, MATCHING))
    def check(payload: BadMatchingPayload) -> None:
        kinds.add(payload.kind)
        assert payload.body.get(MATCHING, "absent") == {"missing": "absent", "null": None, "empty": ""}[payload.kind]
        _check_rejected(shared_api, schema, payload.body, before, f"matching value {payload.kind}")

    check()
    assert kinds == {"missing", "null", "empty"}


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_documented_only_invalid_payloads_carry_documented_rejections(data: st.DataObject) -> None:
    schema = ObjectSchema("things", (Attribute(MATCHING, "text", is_unique=True), Attribute("day", "date"),
                                     Attribute("moment", "datetime"), Attribute("amount", "number")))
    payload = data.draw(invalid_payloads(schema, MATCHING, documented_only=True))
    assert payload.rejected.documented, payload
    assert payload.key != "moment", "every datetime rejection is a reference choice"


# -- impossible arguments -----------------------------------------------------------------------------

_SCHEMA = ObjectSchema("things", (Attribute(MATCHING, "text", is_unique=True), Attribute("flag", "checkbox")))


@pytest.mark.parametrize("make", [
    lambda: full_payloads(_SCHEMA, "missing"),
    lambda: full_payloads(ObjectSchema("x", (Attribute("owner", "user"),)), "owner"),
    lambda: partial_payloads(_SCHEMA, "flag"),  # no fresh keys exist for a checkbox
    lambda: null_payloads(ObjectSchema("x", (Attribute(MATCHING, "text"),)), MATCHING),
    lambda: invalid_payloads(ObjectSchema("x", (Attribute(MATCHING, "text"), Attribute("o", "user", is_required=True))),
                             MATCHING),
    lambda: invalid_payloads(ObjectSchema("x", (Attribute("at", "datetime"),)), "at", keys=st.just("2025-06-01T10:00Z"),
                             documented_only=True),  # no attribute has a documented rejection
])
def test_impossible_payload_arguments_raise(make: Callable[[], Any]) -> None:
    with pytest.raises((ValueError, KeyError)):
        make()
