"""Section 6 of the contract against the reference server, rules A1-A7 of the assert (upsert).

`shop` (tests/conftest.py) has a unique `sku` and `email`, plain text `name` and `ext`, a number
`qty` and a date `day`.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

Api = Any  # the `api` fixture's class lives in tests/conftest.py

NULLS = {"sku": None, "name": None, "qty": None, "ext": None, "email": None, "day": None}


def test_a1_no_match_creates_201_with_new_id(api: Api, shop: str) -> None:
    rule = "A1: no match -> 201 with a new record"
    other = api.create(shop, {"sku": "OTHER"})
    record = api.ok(api.upsert(shop, "sku", {"sku": "NEW-1", "name": "Widget"}), 201, "record", rule)
    assert api.is_uuid(record["id"]) and record["id"] != other["id"], f"{rule}: a new UUID"
    assert record["objectSlug"] == shop, f"{rule}: objectSlug"
    assert record["attributes"] == {**NULLS, "sku": "NEW-1", "name": "Widget"}, rule
    assert api.timestamp(record["createdAt"], rule) == api.timestamp(record["updatedAt"], rule), (
        f"{rule} / §5: updatedAt == createdAt on create")
    assert api.record(shop, record["id"]) == record, f"{rule}: GET returns it"
    assert [r["id"] for r in api.records(shop)] == [other["id"], record["id"]], f"{rule}: listed once"


@pytest.mark.parametrize(
    ("key", "value"), [("sku", "SKU-9"), ("ext", "ext-9"), ("qty", 9), ("day", "2025-06-01")]
)
def test_a2_match_updates_200_same_id(api: Api, shop: str, key: str, value: Any) -> None:
    rule = f"A2: a record has the matching value -> 200, same id (matching on {key})"
    record = api.create(shop, {key: value, "name": "old"})
    api.create(shop, {"name": "bystander"})
    updated = api.ok(api.upsert(shop, key, {key: value, "name": "new"}), 200, "record", rule)
    assert updated["id"] == record["id"], rule
    assert updated["attributes"] == {**NULLS, key: value, "name": "new"}, f"{rule}: body applied"
    assert updated["createdAt"] == record["createdAt"], f"{rule} / §5: createdAt kept"
    assert api.record(shop, record["id"]) == updated, f"{rule}: GET agrees"
    assert len(api.records(shop)) == 2, f"{rule}: no record created"


@pytest.mark.parametrize(
    ("stored", "asserted"),
    [("Abc", "abc"), ("Abc", "ABC"), ("Abc", "Abc "), ("Abc", " Abc"), ("caf\u00e9", "cafe\u0301"),
     ("cafe\u0301", "caf\u00e9"), ("1", "1.0"), ("1", "01"), ("ß", "ss"), ("a", "a\u200b")],
    ids=["lower", "upper", "trailing-space", "leading-space", "nfc-vs-nfd", "nfd-vs-nfc", "1-vs-1.0",
         "1-vs-01", "sharp-s", "zero-width"],
)
def test_a3_matching_is_exact_no_case_folding_trimming_or_normalisation(
    api: Api, shop: str, stored: str, asserted: str
) -> None:
    rule = f"A3: exact matching, {stored!r} never matches {asserted!r}"
    for key in ("sku", "ext"):
        original = api.create(shop, {key: stored, "name": "original"})
        created = api.ok(api.upsert(shop, key, {key: asserted, "name": "asserted"}), 201, "record", rule)
        assert created["id"] != original["id"], f"{rule} (matching on {key}): a new record"
        assert api.record(shop, original["id"]) == original, f"{rule}: the near-miss record is untouched"
        again = api.ok(api.upsert(shop, key, {key: stored}), 200, "record", f"{rule}: exact value matches")
        assert again["id"] == original["id"], f"{rule}: the stored value still matches itself"


def test_a3_no_type_coercion_between_text_and_number(api: Api, shop: str) -> None:
    rule = "A3/A14: '1' never matches 1"
    record = api.create(shop, {"ext": "1", "qty": 1})
    before = api.records(shop)
    api.fails(api.upsert(shop, "ext", {"ext": 1}), 400, f"{rule}: 1 on a text attribute -> 400")
    api.fails(api.upsert(shop, "qty", {"qty": "1"}), 400, f"{rule}: '1' on a number attribute -> 400")
    assert api.records(shop) == before, f"{rule} / A10: nothing changed"
    assert api.ok(api.upsert(shop, "ext", {"ext": "1"}), 200, "record", rule)["id"] == record["id"], rule
    assert api.ok(api.upsert(shop, "qty", {"qty": 1}), 200, "record", rule)["id"] == record["id"], rule
    fresh = api.ok(api.upsert(shop, "qty", {"qty": 10}), 201, "record", f"{rule}: 10 is another value")
    assert fresh["id"] != record["id"], rule


@settings(max_examples=30, deadline=None)
@given(pair=st.lists(st.text(min_size=1, max_size=40), min_size=2, max_size=2, unique=True))
def test_a3_distinct_strings_never_match(shared_api: Api, pair: list[str]) -> None:
    rule = f"A3: {pair[0]!r} and {pair[1]!r} are different matching values"
    slug = shared_api.new_object({"label": "Key", "type": "text"})
    first = shared_api.ok(shared_api.upsert(slug, "key", {"key": pair[0]}), 201, "record", rule)
    second = shared_api.ok(shared_api.upsert(slug, "key", {"key": pair[1]}), 201, "record", rule)
    assert first["id"] != second["id"], rule


def test_a4_omitted_null_on_create_kept_on_update_explicit_null_clears(api: Api, shop: str) -> None:
    rule = "A4: the whole body is applied"
    created = api.ok(api.upsert(shop, "sku", {"sku": "S", "name": "n", "qty": 2}), 201, "record", rule)
    assert created["attributes"] == {**NULLS, "sku": "S", "name": "n", "qty": 2}, f"{rule}: omitted -> null"
    kept = api.ok(api.upsert(shop, "sku", {"sku": "S", "ext": "e"}), 200, "record", rule)
    assert kept["attributes"] == {**NULLS, "sku": "S", "name": "n", "qty": 2, "ext": "e"}, (
        f"{rule}: on update, omitted attributes keep their values")
    cleared = api.ok(api.upsert(shop, "sku", {"sku": "S", "name": None, "qty": 3}), 200, "record", rule)
    assert cleared["attributes"] == {**NULLS, "sku": "S", "qty": 3, "ext": "e"}, f"{rule}: null clears"
    assert api.record(shop, created["id"]) == cleared, f"{rule}: GET agrees"


def test_a5_repeating_an_assert_is_idempotent(api: Api, shop: str) -> None:
    rule = "A5: a repeated assert -> 200, same id, same attributes, no new record"
    body = {"sku": "R", "name": "n", "qty": 1, "email": "r@example.com", "day": "2024-02-29"}
    first = api.ok(api.upsert(shop, "sku", body), 201, "record", rule)
    snapshot = api.records(shop)
    for _ in range(3):
        again = api.ok(api.upsert(shop, "sku", body), 200, "record", rule)
        assert again["id"] == first["id"] and again["attributes"] == first["attributes"], rule
        assert again["createdAt"] == first["createdAt"], f"{rule}: createdAt kept"
    after = api.records(shop)
    assert [(r["id"], r["attributes"]) for r in after] == [(r["id"], r["attributes"]) for r in snapshot], rule


@settings(max_examples=30, deadline=None)
@given(key=st.text(min_size=1, max_size=255), qty=st.integers(-(2**53 - 1), 2**53 - 1))
def test_a5_any_key_asserted_twice_gives_the_same_id(shared_api: Api, key: str, qty: int) -> None:
    rule = f"A5: asserting {key!r} twice gives the same record"
    slug = shared_api.new_object({"label": "Key", "type": "text", "isUnique": True},
                                 {"label": "Qty", "type": "number"})
    first = shared_api.ok(shared_api.upsert(slug, "key", {"key": key, "qty": qty}), 201, "record", rule)
    second = shared_api.ok(shared_api.upsert(slug, "key", {"key": key, "qty": qty}), 200, "record", rule)
    assert second["id"] == first["id"] and second["attributes"] == first["attributes"], rule
    assert len(shared_api.records(slug)) == 1, f"{rule}: one record"


@pytest.mark.parametrize(
    "params",
    [{}, {"matchingAttribute": ""}, {"matchingAttribute": "nope"}, {"matchingAttribute": "SKU"},
     {"matchingAttribute": "id"}, {"matchingAttribute": "created_at"}, {"matchingAttribute": "updated_at"},
     {"matchingattribute": "sku"}],
    ids=["missing", "empty", "unknown", "wrong-case", "id", "created_at", "updated_at", "param-case"],
)
def test_a6_bad_matching_attribute_gives_400(api: Api, shop: str, params: dict[str, str]) -> None:
    rule = f"A6: matchingAttribute {params} -> 400"
    api.create(shop, {"sku": "S"})
    before = api.records(shop)
    resp = api.put(f"/crm/{shop}", json={"sku": "S", "name": "x"}, params=params)
    api.fails(resp, 400, rule)
    assert api.records(shop) == before, f"{rule} / A10: nothing changed"


def test_a6_system_attribute_with_its_own_value_still_400(api: Api, shop: str) -> None:
    record = api.create(shop, {"sku": "S"})
    before = api.records(shop)
    resp = api.upsert(shop, "id", {"id": record["id"], "name": "x"})
    api.fails(resp, 400, "A6: matching on the system attribute id -> 400")
    assert api.records(shop) == before, "A6 / A10: nothing changed"


@pytest.mark.parametrize("key", ["sku", "ext", "qty", "day"])
@pytest.mark.parametrize("body", [{"name": "x"}, {"MATCH": None, "name": "x"}, {"MATCH": "", "name": "x"}],
                         ids=["missing", "null", "empty"])
def test_a7_missing_null_or_empty_matching_value_gives_400(
    api: Api, shop: str, key: str, body: dict[str, Any]
) -> None:
    rule = f"A7: matching value on {key} {body} -> 400"
    body = {key if k == "MATCH" else k: v for k, v in body.items()}
    api.create(shop, {key: None, "name": "null holder"})
    if key in ("sku", "ext"):
        api.create(shop, {key: "", "name": "empty holder"})
    before = api.records(shop)
    api.fails(api.upsert(shop, key, body), 400, rule)
    assert api.records(shop) == before, f"{rule} / A10: nothing created or modified"
