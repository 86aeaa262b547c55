"""Section 6 of the contract against the reference server, rules A8-A15 of the assert (upsert).

`shop` (tests/conftest.py) has a unique `sku` and `email`, plain text `name` and `ext`, a number
`qty` and a date `day`. A11 under real concurrency lives in test_server_concurrency.py.
"""

from __future__ import annotations

from typing import Any

import pytest

Api = Any  # the `api` fixture's class lives in tests/conftest.py


def test_a8_unique_value_of_another_record_gives_400(api: Api, shop: str) -> None:
    rule = "A8: another unique attribute holding a different record's value -> 400"
    api.create(shop, {"sku": "A", "email": "a@example.com"})
    api.create(shop, {"sku": "B", "email": "b@example.com", "ext": "x"})
    before = api.records(shop)
    api.fails(api.upsert(shop, "sku", {"sku": "B", "email": "a@example.com"}), 400, f"{rule} (update)")
    api.fails(api.upsert(shop, "sku", {"sku": "C", "email": "a@example.com"}), 400, f"{rule} (create)")
    api.fails(api.upsert(shop, "ext", {"ext": "x", "email": "a@example.com"}), 400, f"{rule} (by ext)")
    api.fails(api.upsert(shop, "email", {"email": "b@example.com", "sku": "A"}), 400, f"{rule} (sku taken)")
    assert api.records(shop) == before, f"{rule} / A10: nothing changed"


@pytest.mark.parametrize("key", ["sku", "ext"], ids=["unique-matching", "non-unique-matching"])
def test_a8_reasserting_own_unique_value_is_fine(api: Api, shop: str, key: str) -> None:
    rule = f"A8: re-asserting a record's own unique values is never an error (matching on {key})"
    record = api.create(shop, {"sku": "A", "ext": "x", "email": "a@example.com"})
    api.create(shop, {"sku": "B", "ext": "y", "email": "b@example.com"})
    body = {"sku": "A", "ext": "x", "email": "a@example.com", "name": "again"}
    updated = api.ok(api.upsert(shop, key, body), 200, "record", rule)
    assert updated["id"] == record["id"] and updated["attributes"]["name"] == "again", rule
    moved = api.ok(api.upsert(shop, key, {**body, "email": "new@example.com"}), 200, "record", rule)
    assert moved["attributes"]["email"] == "new@example.com", f"{rule}: a free unique value may be taken"


def test_a8_matching_attribute_itself_unique_or_not(api: Api, shop: str) -> None:
    rule = "A8: the matching attribute may be unique (sku) or not (ext)"
    by_sku = api.ok(api.upsert(shop, "sku", {"sku": "S1", "ext": "E1"}), 201, "record", rule)
    by_ext = api.ok(api.upsert(shop, "ext", {"ext": "E1", "sku": "S1", "qty": 5}), 200, "record", rule)
    assert by_ext["id"] == by_sku["id"] and by_ext["attributes"]["qty"] == 5, rule


def test_a9_first_match_is_the_oldest_others_untouched(api: Api, shop: str) -> None:
    rule = "A9: several records share the matching value -> only the oldest is updated"
    oldest = api.create(shop, {"ext": "other", "name": "oldest"})
    middle = api.create(shop, {"ext": "dup", "name": "middle"})
    youngest = api.create(shop, {"ext": "dup", "name": "youngest"})
    # The oldest by creation gets the shared value last: creation order decides, not value age.
    oldest = api.ok(api.patch(f"/crm/{shop}/{oldest['id']}", json={"ext": "dup"}), 200, "record", rule)
    untouched = {r["id"]: r for r in (middle, youngest)}
    updated = api.ok(api.upsert(shop, "ext", {"ext": "dup", "name": "asserted"}), 200, "record", rule)
    assert updated["id"] == oldest["id"], f"{rule}: updated {updated['attributes']['name']!r}"
    for rid, record in untouched.items():
        assert api.record(shop, rid) == record, f"{rule}: the others are untouched"
    assert len(api.records(shop)) == 3, f"{rule}: no record created"
    api.ok(api.delete(f"/crm/{shop}/{oldest['id']}"), 200, None, rule)
    next_oldest = api.ok(api.upsert(shop, "ext", {"ext": "dup", "qty": 2}), 200, "record", rule)
    assert next_oldest["id"] == middle["id"], f"{rule}: after deleting the oldest, the next oldest"
    assert api.record(shop, youngest["id"]) == youngest, f"{rule}: the youngest is untouched"


def test_a9_oldest_first_among_many_duplicates(api: Api, shop: str) -> None:
    rule = "A9: the oldest of 30 duplicates is the one updated"
    ids = [api.create(shop, {"ext": "same", "qty": i})["id"] for i in range(30)]
    updated = api.ok(api.upsert(shop, "ext", {"ext": "same", "qty": -1}), 200, "record", rule)
    assert updated["id"] == ids[0], rule
    assert [r["attributes"]["qty"] for r in api.records(shop)] == [-1, *range(1, 30)], f"{rule}: others kept"


REJECTED_ASSERTS: list[tuple[str, str | None, Any, dict[str, Any]]] = [
    ("wrong-type", "sku", {"sku": "S", "qty": "3"}, {}),
    ("too-long", "sku", {"sku": "S", "name": "n" * 256}, {}),
    ("unknown-key", "sku", {"sku": "S", "colour": "red"}, {}),
    ("system-key", "sku", {"sku": "S", "updated_at": "2025-06-01T10:00:00+00:00"}, {}),
    ("unique-taken", "sku", {"sku": "S", "email": "taken@example.com"}, {}),
    ("bad-date", "sku", {"sku": "S", "day": "2025-02-29"}, {}),
    ("no-matching-attribute", None, {"sku": "S", "name": "x"}, {}),
    ("matching-unknown", "colour", {"sku": "S"}, {}),
    ("matching-null", "sku", {"sku": None, "name": "x"}, {}),
    ("matching-empty", "sku", {"sku": "", "name": "x"}, {}),
    ("body-array", "sku", [{"sku": "S"}], {}),
    ("read-only", "sku", {"sku": "S", "name": "x"}, {"token": "READ"}),
    ("no-token", "sku", {"sku": "S", "name": "x"}, {"token": None}),
]


@pytest.mark.parametrize("matching", ["S", "NEW"], ids=["existing", "new"])
@pytest.mark.parametrize(
    ("case", "key", "body", "kw"), REJECTED_ASSERTS, ids=[c[0] for c in REJECTED_ASSERTS]
)
def test_a10_rejected_assert_changes_nothing(
    api: Api, shop: str, matching: str, case: str, key: str | None, body: Any, kw: dict[str, Any]
) -> None:
    rule = f"A10: a rejected assert ({case}) changes nothing"
    api.create(shop, {"sku": "S", "name": "kept", "qty": 1, "email": "s@example.com"})
    api.create(shop, {"sku": "T", "email": "taken@example.com"})
    if isinstance(body, dict) and body.get("sku") == "S":
        body = {**body, "sku": matching}
    if kw.get("token"):
        kw = {"token": getattr(api, kw["token"])}
    before = api.records(shop)
    resp = api.upsert(shop, key, body, **kw)
    assert 400 <= resp.status_code < 500, f"{rule}: expected a 4xx: {api.describe(resp)}"
    api.fails(resp, resp.status_code, rule)
    assert api.records(shop) == before, f"{rule}: the full list is unchanged"


def test_a11_sequential_repeats_create_one_record(api: Api, shop: str) -> None:
    rule = "A11: repeated asserts of one new value create exactly one record"
    statuses = [api.upsert(shop, "sku", {"sku": "ONE"}).status_code for _ in range(10)]
    assert statuses == [201] + [200] * 9, f"{rule}: {statuses}"
    assert len(api.records(shop)) == 1, rule


@pytest.mark.parametrize("key", ["sku", "ext"])
def test_a12_deleted_record_is_never_matched(api: Api, shop: str, key: str) -> None:
    rule = f"A12: a deleted record is never matched (matching on {key})"
    old = api.ok(api.upsert(shop, key, {key: "K", "name": "old"}), 201, "record", rule)
    api.ok(api.delete(f"/crm/{shop}/{old['id']}"), 200, None, rule)
    new = api.ok(api.upsert(shop, key, {key: "K"}), 201, "record", rule)
    assert new["id"] != old["id"], f"{rule}: a new id"
    assert new["attributes"]["name"] is None, f"{rule}: nothing inherited from the deleted record"
    api.fails(api.get(f"/crm/{shop}/{old['id']}"), 404, f"{rule}: the deleted record stays gone")
    assert [r["id"] for r in api.records(shop)] == [new["id"]], rule


def test_a13_matching_is_scoped_to_the_object(api: Api, shop: str) -> None:
    rule = "A13: records of other objects never match"
    other = api.new_object({"label": "Sku", "type": "text", "isUnique": True},
                           {"label": "Name", "type": "text"})
    theirs = api.create(other, {"sku": "SHARED", "name": "theirs"})
    ours = api.ok(api.upsert(shop, "sku", {"sku": "SHARED", "name": "ours"}), 201, "record", rule)
    assert ours["id"] != theirs["id"] and ours["objectSlug"] == shop, rule
    assert api.record(other, theirs["id"]) == theirs, f"{rule}: the other object's record is untouched"
    again = api.ok(api.upsert(other, "sku", {"sku": "SHARED", "name": "theirs 2"}), 200, "record", rule)
    assert again["id"] == theirs["id"], f"{rule}: each object matches its own record"
    assert api.record(shop, ours["id"])["attributes"]["name"] == "ours", rule


@pytest.mark.parametrize(
    ("key", "value"),
    [("sku", "s" * 256), ("sku", "\U0001F600" * 256), ("sku", 7), ("sku", True), ("sku", ["S"]),
     ("qty", "7"), ("qty", 7.5), ("qty", 2**53), ("qty", False), ("day", "2025-6-1"), ("day", "2025-02-29"),
     ("day", "2025-06-01T00:00:00+00:00")],
    ids=lambda v: repr(v)[:16],
)
def test_a14_matching_value_is_validated_like_any_value(api: Api, shop: str, key: str, value: Any) -> None:
    rule = f"A14: matching value {value!r} on {key} fails section 4 -> 400"
    api.create(shop, {"sku": "s" * 255, "qty": 7, "day": "2025-06-01"})
    before = api.records(shop)
    api.fails(api.upsert(shop, key, {key: value}), 400, rule)
    assert api.records(shop) == before, f"{rule} / A10: nothing changed"


def test_a14_matching_value_at_the_limits_is_accepted(api: Api, shop: str) -> None:
    rule = "A14: valid matching values at the limits"
    for key, value in [("sku", "s" * 255), ("sku", "\U0001F600" * 255), ("qty", 2**53 - 1),
                       ("qty", -(2**53 - 1)), ("day", "2024-02-29")]:
        created = api.ok(api.upsert(shop, key, {key: value}), 201, "record", f"{rule}: {key}={value!r}")
        again = api.ok(api.upsert(shop, key, {key: value}), 200, "record", f"{rule}: {key}={value!r}")
        assert again["id"] == created["id"], rule


def test_a15_unknown_object_404_missing_token_401_read_only_403(api: Api, shop: str) -> None:
    rule = "A15"
    api.fails(api.upsert("no-such-object", "sku", {"sku": "S"}), 404, f"{rule}: unknown object -> 404")
    api.fails(api.upsert("people-like", "sku", {"sku": "S"}), 404, f"{rule}: unknown object -> 404")
    api.fails(api.upsert(shop, "sku", {"sku": "S"}, token=None), 401, f"{rule}: missing token -> 401")
    api.fails(api.upsert(shop, "sku", {"sku": "S"}, token="bogus"), 401, f"{rule}: unknown token -> 401")
    api.fails(api.upsert(shop, "sku", {"sku": "S"}, token=api.READ), 403, f"{rule}: read-only -> 403")
    assert api.records(shop) == [], f"{rule} / A10: nothing created"
    api.ok(api.upsert(shop, "sku", {"sku": "S"}, token=api.WRITE_ONLY), 201, "record", f"{rule}: crm:write")


MATCH_TYPES: list[tuple[str, dict[str, Any], Any, Any]] = [
    ("checkbox-false", {"type": "checkbox"}, False, False),
    ("checkbox-true", {"type": "checkbox"}, True, True),
    ("select", {"type": "select", "options": [{"value": "A", "color": "#000"}]}, {"id": 1}, {"id": 1}),
    ("datetime-same-instant", {"type": "datetime"}, "2025-06-01T10:00:00Z", "2025-06-01T12:00:00+02:00"),
    ("multiselect-same-set", {"type": "multiselect", "options": [{"value": "A", "color": "#000"},
                                                                  {"value": "B", "color": "#fff"}]},
     [{"id": 1}, {"id": 2}], [{"id": 2}, {"id": 1}, {"id": 2}]),
]


@pytest.mark.parametrize(
    ("case", "attribute", "stored", "asserted"), MATCH_TYPES, ids=[c[0] for c in MATCH_TYPES]
)
def test_a2_a3_matching_on_other_types_compares_values(
    api: Api, case: str, attribute: dict[str, Any], stored: Any, asserted: Any
) -> None:
    rule = f"A2/A3 (reference choice: canonical values) matching on {case}"
    slug = api.new_object({"label": "Key", **attribute}, {"label": "Note", "type": "text"})
    record = api.create(slug, {"key": stored, "note": "old"})
    updated = api.ok(api.upsert(slug, "key", {"key": asserted, "note": "new"}), 200, "record", rule)
    assert updated["id"] == record["id"] and updated["attributes"]["note"] == "new", rule
    assert len(api.records(slug)) == 1, f"{rule}: no record created"


def test_a3_checkbox_false_does_not_match_true(api: Api) -> None:
    rule = "A3: false is a value of its own (not empty, never equal to true)"
    slug = api.new_object({"label": "Key", "type": "checkbox"})
    yes = api.create(slug, {"key": True})
    no = api.ok(api.upsert(slug, "key", {"key": False}), 201, "record", rule)
    assert no["id"] != yes["id"], rule


def test_assert_ignores_unknown_query_parameters(api: Api, shop: str) -> None:
    rule = "§6 (reference choice: unknown query parameters are ignored)"
    resp = api.put(f"/crm/{shop}", json={"sku": "Q"}, params={"matchingAttribute": "sku", "dryRun": "1"})
    created = api.ok(resp, 201, "record", rule)
    assert api.records(shop) == [created], rule
