"""Section 2 of the contract against the reference server: custom objects."""

from __future__ import annotations

from typing import Any

import pytest

Api = Any  # the `api` fixture's class lives in tests/conftest.py

SYSTEM_ATTRIBUTES = {"id": "text", "created_at": "datetime", "updated_at": "datetime"}


def object_body(slug: str, **extra: Any) -> dict[str, Any]:
    return {"slug": slug, "singularName": "Product", "pluralName": "Products", **extra}


def listed_slugs(api: Api) -> list[str]:
    objects = api.ok(api.get("/crm/objects"), 200, "objects", "§2 GET /crm/objects")
    return [o["slug"] for o in objects]


def test_create_object_201_with_three_system_attributes(api: Api) -> None:
    rule = "§2 POST /crm/objects"
    obj = api.ok(api.post("/crm/objects", json=object_body("products")), 201, "object", rule)
    assert obj["slug"] == "products", f"{rule}: slug echoed"
    assert (obj["singularName"], obj["pluralName"]) == ("Product", "Products"), f"{rule}: names echoed"
    assert obj["isStandard"] is False, f"{rule}: a custom object is not standard"
    assert obj["isActive"] is True, f"{rule} (reference choice): isActive defaults to true"
    api.timestamp(obj["createdAt"], rule)
    api.timestamp(obj["updatedAt"], rule)
    by_key = {a["key"]: a for a in obj["attributes"]}
    assert {k: a["type"] for k, a in by_key.items()} == SYSTEM_ATTRIBUTES, f"{rule}: system attributes"
    for attribute in by_key.values():
        assert attribute["isStandard"] is True, f"{rule}: system attribute {attribute['key']} isStandard"
        for field in ["label", "isRequired", "isUnique", "isArchived", "createdAt", "updatedAt"]:
            assert field in attribute, f"§3 attribute shape: {field!r} missing on {attribute['key']}"
    assert api.object("products") == obj, f"{rule}: GET returns the created object"


def test_create_object_with_is_active_false(api: Api) -> None:
    obj = api.ok(api.post("/crm/objects", json=object_body("inactive", isActive=False)), 201, "object", "§2")
    assert obj["isActive"] is False, "§2 POST /crm/objects: isActive as sent"


@pytest.mark.parametrize("slug", ["abc", "a" * 60, "a-b", "a_b", "007", "x-1_y"])
def test_valid_slugs_are_accepted(api: Api, slug: str) -> None:
    api.ok(api.post("/crm/objects", json=object_body(slug)), 201, "object", "§2 slug: 3-60 of a-z 0-9 - _")


BAD_SLUGS = ["ab", "a" * 61, "", "Abc", "ab c", "ab.c", "äbc", "ab/c", "abc\n", " abc", "people",
             "companies", "objects", 123, None, ["abc"]]


@pytest.mark.parametrize("slug", BAD_SLUGS, ids=[repr(s)[:20] for s in BAD_SLUGS])
def test_invalid_or_reserved_slug_gives_400(api: Api, slug: Any) -> None:
    before = listed_slugs(api)
    api.fails(api.post("/crm/objects", json=object_body(slug)), 400, "§2 slug: invalid or reserved -> 400")
    assert listed_slugs(api) == before, "§2 slug: a rejected create adds no object"


def test_missing_slug_or_names_gives_400(api: Api) -> None:
    rule = "§2 POST /crm/objects: slug, singularName, pluralName are required"
    for missing in ["slug", "singularName", "pluralName"]:
        body = object_body("fine-slug")
        del body[missing]
        api.fails(api.post("/crm/objects", json=body), 400, f"{rule} ({missing})")
    assert "fine-slug" not in listed_slugs(api), f"{rule}: nothing created"


def test_duplicate_slug_gives_409(api: Api) -> None:
    api.ok(api.post("/crm/objects", json=object_body("products")), 201, "object", "§2 setup")
    resp = api.post("/crm/objects", json={**object_body("products"), "singularName": "Other"})
    api.fails(resp, 409, "§2 slug: duplicate -> 409")
    assert api.object("products")["singularName"] == "Product", "§2 slug: duplicate leaves the original"
    assert listed_slugs(api).count("products") == 1, "§2 slug: still one object"


def test_list_objects_includes_people_companies_and_custom(api: Api) -> None:
    slug = api.new_object()
    objects = api.ok(api.get("/crm/objects"), 200, "objects", "§2 GET /crm/objects")
    by_slug = {o["slug"]: o for o in objects}
    assert {"people", "companies", slug} <= set(by_slug), "§2 GET /crm/objects: people, companies, custom"
    assert by_slug["people"]["isStandard"] is True, "§2: people is a standard object"
    assert by_slug["companies"]["isStandard"] is True, "§2: companies is a standard object"
    for obj in objects:
        for field in ["slug", "singularName", "pluralName", "isStandard", "isActive", "attributes",
                      "createdAt", "updatedAt"]:
            assert field in obj, f"§2 object shape: {field!r} missing on {obj.get('slug')}"


def test_get_object_lists_its_attributes(api: Api) -> None:
    slug = api.new_object({"label": "Name", "type": "text"}, {"label": "Price", "type": "number"})
    keys = [a["key"] for a in api.object(slug)["attributes"]]
    assert {"id", "created_at", "updated_at", "name", "price"} == set(keys), "§2 GET object: full list"


def test_get_unknown_object_gives_404(api: Api) -> None:
    api.fails(api.get("/crm/objects/no-such-thing"), 404, "§2 GET /crm/objects/{slug}: unknown -> 404")


def test_patch_object_changes_names_only(api: Api) -> None:
    rule = "§2 PATCH /crm/objects/{slug}"
    slug = api.new_object({"label": "Name", "type": "text"})
    before = api.object(slug)
    resp = api.patch(f"/crm/objects/{slug}", json={"singularName": "Gadget", "pluralName": "Gadgets"})
    after = api.ok(resp, 200, "object", rule)
    assert (after["singularName"], after["pluralName"]) == ("Gadget", "Gadgets"), f"{rule}: names change"
    for field in ["slug", "isStandard", "isActive", "attributes", "createdAt"]:
        assert after[field] == before[field], f"{rule}: {field} unchanged"
    assert api.timestamp(after["updatedAt"], rule) >= api.timestamp(before["updatedAt"], rule), rule
    partial = api.ok(api.patch(f"/crm/objects/{slug}", json={"pluralName": "Widgets"}), 200, "object", rule)
    assert (partial["singularName"], partial["pluralName"]) == ("Gadget", "Widgets"), f"{rule}: partial"
    assert api.object(slug) == partial, f"{rule}: GET shows the patched object"


def test_patch_object_never_changes_slug(api: Api) -> None:
    rule = "§2 slug is immutable"
    slug = api.new_object()
    resp = api.patch(f"/crm/objects/{slug}", json={"slug": "renamed"})
    assert resp.status_code in (200, 400), f"{rule}: {api.describe(resp)}"
    api.object(slug)
    api.fails(api.get("/crm/objects/renamed"), 404, f"{rule}: no object under the new slug")


@pytest.mark.parametrize("body", [{"isActive": False}, {"isStandard": True}, {"attributes": []}])
def test_patch_object_changes_nothing_but_names(api: Api, body: dict[str, Any]) -> None:
    rule = "§2 PATCH /crm/objects/{slug} changes singularName / pluralName only"
    slug = api.new_object({"label": "Name", "type": "text"})
    before = api.object(slug)
    resp = api.patch(f"/crm/objects/{slug}", json=body)
    assert resp.status_code in (200, 400), f"{rule}: {api.describe(resp)}"
    after = api.object(slug)
    for field in ["slug", "isStandard", "isActive", "attributes", "singularName", "pluralName", "createdAt"]:
        assert after[field] == before[field], f"{rule}: {field} unchanged by {body}"


@pytest.mark.parametrize("body", [{"singularName": ""}, {"pluralName": 3}, {"singularName": None}])
def test_patch_object_with_invalid_names_gives_400(api: Api, body: dict[str, Any]) -> None:
    slug = api.new_object()
    before = api.object(slug)
    api.fails(api.patch(f"/crm/objects/{slug}", json=body), 400, "§2 (reference choice): names non-empty")
    assert api.object(slug) == before, "§2: a rejected PATCH changes nothing"


def test_patch_unknown_object_gives_404(api: Api) -> None:
    api.fails(api.patch("/crm/objects/nope", json={"singularName": "X"}), 404, "§2 PATCH unknown -> 404")


@pytest.mark.parametrize("slug", ["people", "companies"])
def test_patch_standard_object_gives_403(api: Api, slug: str) -> None:
    before = api.object(slug)
    api.fails(api.patch(f"/crm/objects/{slug}", json={"singularName": "X"}), 403, "§2 PATCH standard -> 403")
    assert api.object(slug) == before, "§2: PATCH of a standard object changes nothing"


def test_delete_object_removes_it_and_its_records(api: Api) -> None:
    rule = "§2 DELETE /crm/objects/{slug}"
    slug = api.new_object({"label": "Name", "type": "text"})
    record = api.create(slug, {"name": "gone"})
    body = api.ok(api.delete(f"/crm/objects/{slug}"), 200, None, rule)
    assert isinstance(body.get("message"), str), f"{rule}: envelope carries a message"
    api.fails(api.get(f"/crm/objects/{slug}"), 404, f"{rule}: object is gone")
    api.fails(api.get(f"/crm/{slug}/{record['id']}"), 404, f"{rule}: its records are gone")
    api.fails(api.get(f"/crm/{slug}"), 404, f"{rule}: its record list is gone")
    assert slug not in listed_slugs(api), f"{rule}: not listed"
    api.fails(api.delete(f"/crm/objects/{slug}"), 404, f"{rule}: second delete -> 404")
    api.new_object({"label": "Name", "type": "text"}, slug=slug)
    assert api.records(slug) == [], f"{rule}: a re-created object starts without the old records"
    api.fails(api.get(f"/crm/{slug}/{record['id']}"), 404, f"{rule}: the old record stays gone")


@pytest.mark.parametrize("slug", ["people", "companies"])
def test_delete_standard_object_gives_403(api: Api, slug: str) -> None:
    api.fails(api.delete(f"/crm/objects/{slug}"), 403, "§2 DELETE standard object -> 403")
    assert slug in listed_slugs(api), "§2: a standard object survives DELETE"


def test_delete_unknown_object_gives_404(api: Api) -> None:
    api.fails(api.delete("/crm/objects/nope"), 404, "§1 unknown object -> 404")


def test_unknown_object_body_key_gives_400(api: Api) -> None:
    resp = api.post("/crm/objects", json=object_body("extra-key", color="red"))
    api.fails(resp, 400, "§2 (reference choice): unknown object body keys -> 400")
    assert "extra-key" not in listed_slugs(api), "§2: a rejected create adds no object"
