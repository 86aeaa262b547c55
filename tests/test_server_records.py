"""Section 5 of the contract against the reference server: records and their pagination."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

Api = Any  # the `api` fixture's class lives in tests/conftest.py

ATTRIBUTES = [
    {"label": "Name", "type": "text"},
    {"label": "Sku", "type": "text", "isUnique": True},
    {"label": "Qty", "type": "number"},
    {"label": "Done", "type": "checkbox"},
]
NULLS = {"name": None, "sku": None, "qty": None, "done": None}


@pytest.fixture
def slug(api: Api) -> str:
    return api.new_object(*ATTRIBUTES)


def test_create_record_201_with_omitted_attributes_null(api: Api, slug: str) -> None:
    rule = "§5 POST /crm/{slug}"
    record = api.ok(api.post(f"/crm/{slug}", json={"name": "Widget"}), 201, "record", rule)
    assert api.is_uuid(record["id"]), f"{rule}: id is a UUID, got {record['id']!r}"
    assert record["objectSlug"] == slug, f"{rule}: objectSlug names the object"
    assert record["attributes"] == {**NULLS, "name": "Widget"}, f"{rule}: omitted -> null"
    created = api.timestamp(record["createdAt"], rule)
    assert api.timestamp(record["updatedAt"], rule) == created, f"{rule}: updatedAt == createdAt on create"
    assert api.record(slug, record["id"]) == record, f"{rule}: GET returns the created record"
    empty = api.create(slug, {})
    assert empty["attributes"] == NULLS, f"{rule}: an empty body creates a record of nulls"
    assert empty["id"] != record["id"], f"{rule}: a new id per record"


def test_record_attributes_follow_new_attributes(api: Api, slug: str) -> None:
    record = api.create(slug, {"name": "a"})
    api.add_attribute(slug, "Colour", "text")
    got = api.record(slug, record["id"])["attributes"]
    assert got == {**NULLS, "name": "a", "colour": None}, "§5 record: attributes holds every custom attribute"


def test_unique_collision_on_create_gives_400(api: Api, slug: str) -> None:
    api.create(slug, {"sku": "A-1"})
    before = api.records(slug)
    api.fails(api.post(f"/crm/{slug}", json={"sku": "A-1", "name": "dup"}), 400, "§5 POST: unique taken")
    assert api.records(slug) == before, "§5 POST: a rejected create adds nothing"
    api.create(slug, {"sku": "a-1"})


def test_missing_required_attribute_gives_400(api: Api) -> None:
    rule = "§5 POST: a missing isRequired attribute -> 400"
    slug = api.new_object({"label": "Name", "type": "text", "isRequired": True},
                          {"label": "Note", "type": "text"})
    api.fails(api.post(f"/crm/{slug}", json={}), 400, rule)
    api.fails(api.post(f"/crm/{slug}", json={"note": "x"}), 400, rule)
    assert api.records(slug) == [], f"{rule}: nothing created"
    api.create(slug, {"name": ""})


def test_unknown_object_gives_404(api: Api) -> None:
    rule = "§5 unknown object -> 404"
    api.fails(api.post("/crm/nope", json={}), 404, rule)
    api.fails(api.get("/crm/nope"), 404, rule)
    api.fails(api.get(f"/crm/nope/{uuid.uuid4()}"), 404, rule)


# A fixed id: a random one in a parameter makes the collections of xdist workers differ.
@pytest.mark.parametrize("rid", ["6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f", "not-a-uuid", "1"])
def test_get_patch_delete_unknown_id_gives_404(api: Api, slug: str, rid: str) -> None:
    rule = "§5 unknown id -> 404"
    api.create(slug, {"name": "other"})
    before = api.records(slug)
    api.fails(api.get(f"/crm/{slug}/{rid}"), 404, f"{rule} (GET)")
    api.fails(api.patch(f"/crm/{slug}/{rid}", json={"name": "x"}), 404, f"{rule} (PATCH)")
    api.fails(api.delete(f"/crm/{slug}/{rid}"), 404, f"{rule} (DELETE)")
    assert api.records(slug) == before, f"{rule}: nothing changed"


def test_record_of_another_object_is_not_found(api: Api, slug: str) -> None:
    other = api.new_object({"label": "Name", "type": "text"})
    record = api.create(other, {"name": "elsewhere"})
    api.fails(api.get(f"/crm/{slug}/{record['id']}"), 404, "§5 a record belongs to its object only")
    api.fails(api.patch(f"/crm/{slug}/{record['id']}", json={"name": "x"}), 404, "§5 scoped PATCH")
    api.fails(api.delete(f"/crm/{slug}/{record['id']}"), 404, "§5 scoped DELETE")
    assert api.record(other, record["id"])["attributes"] == {"name": "elsewhere"}, "§5 untouched"


def test_patch_changes_only_sent_attributes(api: Api, slug: str) -> None:
    rule = "§5 PATCH: only the sent attributes change"
    record = api.create(slug, {"name": "Widget", "sku": "W-1", "qty": 3, "done": False})
    patched = api.ok(api.patch(f"/crm/{slug}/{record['id']}", json={"qty": 4}), 200, "record", rule)
    assert patched["attributes"] == {"name": "Widget", "sku": "W-1", "qty": 4, "done": False}, rule
    assert patched["id"] == record["id"] and patched["objectSlug"] == slug, rule
    assert api.record(slug, record["id"]) == patched, f"{rule}: GET agrees"
    empty = api.ok(api.patch(f"/crm/{slug}/{record['id']}", json={}), 200, "record", rule)
    assert empty["attributes"] == patched["attributes"], f"{rule}: an empty PATCH changes no value"


def test_patch_own_unique_value_is_fine_other_is_400(api: Api, slug: str) -> None:
    mine = api.create(slug, {"sku": "A"})
    api.create(slug, {"sku": "B"})
    api.ok(api.patch(f"/crm/{slug}/{mine['id']}", json={"sku": "A"}), 200, "record", "§5 PATCH own unique")
    api.fails(api.patch(f"/crm/{slug}/{mine['id']}", json={"sku": "B"}), 400, "§5 PATCH: unique taken -> 400")
    assert api.record(slug, mine["id"])["attributes"]["sku"] == "A", "§5 PATCH: rejected changes nothing"


def test_delete_record_then_get_and_delete_404(api: Api, slug: str) -> None:
    rule = "§5 DELETE /crm/{slug}/{id}"
    record = api.create(slug, {"name": "doomed"})
    keeper = api.create(slug, {"name": "keeper"})
    body = api.ok(api.delete(f"/crm/{slug}/{record['id']}"), 200, None, rule)
    assert isinstance(body.get("message"), str) and body["message"], f"{rule}: envelope with a message"
    api.fails(api.get(f"/crm/{slug}/{record['id']}"), 404, f"{rule}: later GET -> 404")
    api.fails(api.delete(f"/crm/{slug}/{record['id']}"), 404, f"{rule}: later DELETE -> 404")
    api.fails(api.patch(f"/crm/{slug}/{record['id']}", json={"name": "x"}), 404, f"{rule}: later PATCH")
    assert [r["id"] for r in api.records(slug)] == [keeper["id"]], f"{rule}: gone from the list, others kept"


def test_created_at_fixed_and_updated_at_never_backward(api: Api, slug: str) -> None:
    rule = "§5 createdAt fixed, updatedAt never backward"
    record = api.create(slug, {"name": "a", "sku": "S"})
    created = api.timestamp(record["createdAt"], rule)
    last = api.timestamp(record["updatedAt"], rule)
    writes = [
        lambda: api.patch(f"/crm/{slug}/{record['id']}", json={"name": "b"}),
        lambda: api.patch(f"/crm/{slug}/{record['id']}", json={}),
        lambda: api.upsert(slug, "sku", {"sku": "S", "qty": 1}),
        lambda: api.upsert(slug, "sku", {"sku": "S", "qty": 1}),
        lambda: api.patch(f"/crm/{slug}/{record['id']}", json={"name": None}),
    ]
    for write in writes:
        written = api.ok(write(), 200, "record", rule)
        assert api.timestamp(written["createdAt"], rule) == created, f"{rule}: createdAt kept"
        updated = api.timestamp(written["updatedAt"], rule)
        assert updated >= last, f"{rule}: {written['updatedAt']} went back from {last.isoformat()}"
        last = updated
        fetched = api.record(slug, record["id"])
        assert api.timestamp(fetched["updatedAt"], rule) == updated, f"{rule}: GET agrees"


def list_page(api: Api, slug: str, **params: Any) -> dict[str, Any]:
    return api.ok(api.get(f"/crm/{slug}", params=params), 200, None, "§5 GET /crm/{slug}")


def test_list_default_page_size_and_pagination_fields(api: Api, slug: str) -> None:
    rule = "§5 list pagination"
    ids = [api.create(slug, {"qty": i})["id"] for i in range(45)]
    first = list_page(api, slug)
    assert [r["id"] for r in first["collection"]] == ids[:20], f"{rule}: default count 20, oldest first"
    p = first["pagination"]
    assert (p["total"], p["count"], p["totalPages"], p["currentPage"]) == (45, 20, 3, 1), f"{rule}: {p}"
    assert p["previousPage"] is None and isinstance(p["nextPage"], str), f"{rule}: links on page 1: {p}"
    last = list_page(api, slug, page=3)
    p = last["pagination"]
    assert [r["id"] for r in last["collection"]] == ids[40:], f"{rule}: last page holds the rest"
    assert (p["total"], p["count"], p["totalPages"], p["currentPage"]) == (45, 5, 3, 3), f"{rule}: {p}"
    assert isinstance(p["previousPage"], str) and p["nextPage"] is None, f"{rule}: last page links: {p}"


def test_list_page_past_the_end_is_empty_200(api: Api, slug: str) -> None:
    rule = "§5 list: a page past the end is an empty 200"
    api.create(slug, {})
    for page in (2, 99):
        body = list_page(api, slug, page=page, count=10)
        assert body["collection"] == [], rule
        assert body["pagination"]["count"] == 0 and body["pagination"]["total"] == 1, f"{rule}: {body}"
        assert body["pagination"]["currentPage"] == page, f"{rule}: {body}"
    empty = list_page(api, api.new_object())
    assert empty["collection"] == [] and empty["pagination"]["total"] == 0, f"§5 list of no records: {empty}"


@pytest.mark.parametrize("count", [1, 7, 100])
def test_list_follows_next_page_links_through_every_record_once(api: Api, slug: str, count: int) -> None:
    rule = f"§5 list: every record exactly once, oldest first (count={count})"
    ids = [api.create(slug, {"qty": i})["id"] for i in range(23)]
    seen: list[str] = []
    path: str | None = f"/crm/{slug}?page=1&count={count}"
    while path is not None:
        body = api.ok(api.get(path), 200, None, rule)
        assert len(body["collection"]) <= count, f"{rule}: page size at most count"
        assert body["pagination"]["count"] == len(body["collection"]), f"{rule}: pagination.count"
        seen.extend(r["id"] for r in body["collection"])
        path = body["pagination"]["nextPage"]
        assert len(seen) <= len(ids), f"{rule}: the links must end"
    assert seen == ids, rule


def test_previous_page_link_goes_back(api: Api, slug: str) -> None:
    rule = "§5 list: previousPage is a path to the page before"
    ids = [api.create(slug, {})["id"] for _ in range(6)]
    second = list_page(api, slug, page=2, count=3)
    back = api.ok(api.get(second["pagination"]["previousPage"]), 200, None, rule)
    assert [r["id"] for r in back["collection"]] == ids[:3], rule


@pytest.mark.parametrize(
    "params",
    [{"count": 0}, {"count": 101}, {"count": -1}, {"count": "x"}, {"count": "1.5"}, {"count": ""},
     {"page": 0}, {"page": -1}, {"page": "x"}, {"page": "2.0"}],
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()),
)
def test_list_out_of_range_or_non_integer_params_give_400(
    api: Api, slug: str, params: dict[str, Any]
) -> None:
    api.create(slug, {})
    api.fails(api.get(f"/crm/{slug}", params=params), 400, f"§5 list: {params} -> 400")


def test_list_shows_current_values_and_ignores_unknown_params(api: Api, slug: str) -> None:
    record = api.create(slug, {"name": "a"})
    api.patch(f"/crm/{slug}/{record['id']}", json={"name": "b"})
    body = list_page(api, slug, sort="name", foo="bar")
    assert body["collection"] == [api.record(slug, record["id"])], "§5 list holds the current records"


@pytest.mark.parametrize("standard", ["people", "companies"])
def test_standard_object_record_routes_are_not_served(api: Api, standard: str) -> None:
    rule = "§7 out of scope (reference choice): /crm/people and /crm/companies record routes -> 404"
    api.fails(api.get(f"/crm/{standard}"), 404, rule)
    api.fails(api.post(f"/crm/{standard}", json={}), 404, rule)
    api.fails(api.upsert(standard, "name", {"name": "x"}), 404, rule)
    api.fails(api.get(f"/crm/{standard}/{uuid.uuid4()}"), 404, rule)


def test_pagination_links_have_the_reference_form(api: Api, slug: str) -> None:
    rule = "§5 (reference choice): links look like /crm/{slug}?page=N&count=M"
    for _ in range(7):
        api.create(slug, {})
    p = list_page(api, slug, page=2, count=3)["pagination"]
    assert p["previousPage"] == f"/crm/{slug}?page=1&count=3", f"{rule}: {p}"
    assert p["nextPage"] == f"/crm/{slug}?page=3&count=3", f"{rule}: {p}"


def test_huge_page_number_is_an_empty_page(api: Api, slug: str) -> None:
    api.create(slug, {})
    body = list_page(api, slug, page=10**30)
    assert body["collection"] == [] and body["pagination"]["total"] == 1, f"§5 page past the end: {body}"
