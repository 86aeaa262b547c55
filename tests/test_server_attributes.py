"""Section 3 of the contract against the reference server: attributes, keys, options."""

from __future__ import annotations

from typing import Any

import pytest

Api = Any  # the `api` fixture's class lives in tests/conftest.py

OPTIONS = [{"value": "Red", "color": "#ff0000"}, {"value": "Green", "color": "#00ff00"},
           {"value": "Blue", "color": "#0000ff"}]


def post_attribute(api: Api, slug: str, **body: Any) -> Any:
    return api.post(f"/crm/objects/{slug}/attributes", json={"isRequired": False, **body})


def attribute_keys(api: Api, slug: str) -> list[str]:
    return [a["key"] for a in api.object(slug)["attributes"]]


def test_create_attribute_201_with_full_shape(api: Api) -> None:
    rule = "§3 POST attributes"
    slug = api.new_object()
    attr = api.ok(post_attribute(api, slug, label="Product Name", type="text"), 201, "attribute", rule)
    expected = {"key": "product_name", "label": "Product Name", "type": "text", "isRequired": False,
                "isStandard": False, "isUnique": False, "isArchived": False}
    assert {k: attr.get(k) for k in expected} == expected, f"{rule}: shape and defaults"
    api.timestamp(attr["createdAt"], rule)
    api.timestamp(attr["updatedAt"], rule)
    assert api.attribute(slug, "product_name") == attr, f"{rule}: the object lists the new attribute"


@pytest.mark.parametrize(
    ("label", "key"),
    [("Product Name", "product_name"), ("SKU", "sku"), ("E-mail address", "e_mail_address"),
     ("  Trim me  ", "trim_me"), ("Order #", "order"), ("Price (EUR)", "price_eur")],
)
def test_key_is_snake_case_of_label(api: Api, label: str, key: str) -> None:
    slug = api.new_object()
    attr = api.ok(post_attribute(api, slug, label=label, type="text"), 201, "attribute", "§3 key")
    assert attr["key"] == key, f"§3 key: derived from the label in snake_case ({label!r} -> {key!r})"


@pytest.mark.parametrize(("label", "key"), [("2nd Line", "attr_2nd_line"), ("!!!", "attribute")])
def test_key_edge_cases_follow_reference_choice(api: Api, label: str, key: str) -> None:
    slug = api.new_object()
    attr = api.ok(post_attribute(api, slug, label=label, type="text"), 201, "attribute", "§3 key")
    assert attr["key"] == key, f"§3 key (reference choice): {label!r} -> {key!r}"


def test_key_collision_adds_2_then_3(api: Api) -> None:
    rule = "§3 key: _2, _3 on collision"
    slug = api.new_object()
    keys = [api.ok(post_attribute(api, slug, label=label, type="text"), 201, "attribute", rule)["key"]
            for label in ["Product Name", "product name", "PRODUCT-NAME"]]
    assert keys == ["product_name", "product_name_2", "product_name_3"], rule
    assert attribute_keys(api, slug).count("product_name") == 1, f"{rule}: keys stay unique"


@pytest.mark.parametrize(("label", "key"), [("ID", "id_2"), ("Created At", "created_at_2")])
def test_key_never_collides_with_system_keys(api: Api, label: str, key: str) -> None:
    slug = api.new_object()
    attr = api.ok(post_attribute(api, slug, label=label, type="text"), 201, "attribute", "§3 key")
    assert attr["key"] == key, "§3 key (reference choice): system keys count as collisions"


@pytest.mark.parametrize("type_", ["text", "phone_number", "number"])
def test_is_unique_accepted_on_unique_capable_types(api: Api, type_: str) -> None:
    slug = api.new_object()
    attr = api.ok(post_attribute(api, slug, label="U", type=type_, isUnique=True), 201, "attribute", "§3")
    assert attr["isUnique"] is True, f"§3 isUnique applies to {type_}"


@pytest.mark.parametrize("type_", ["checkbox", "date", "datetime", "select", "multiselect"])
def test_is_unique_on_other_types_gives_400(api: Api, type_: str) -> None:
    slug = api.new_object()
    extra = {"options": OPTIONS} if "select" in type_ else {}
    resp = post_attribute(api, slug, label="U", type=type_, isUnique=True, **extra)
    api.fails(resp, 400, f"§3 isUnique: true on {type_} -> 400")
    assert attribute_keys(api, slug) == ["id", "created_at", "updated_at"], "§3: nothing created"


@pytest.mark.parametrize("type_", ["select", "multiselect"])
@pytest.mark.parametrize("options", [None, [], [{"value": "x"}], [{"color": "#fff"}], "Red"])
def test_select_types_need_valid_options(api: Api, type_: str, options: Any) -> None:
    slug = api.new_object()
    extra = {} if options is None else {"options": options}
    api.fails(post_attribute(api, slug, label="Pick", type=type_, **extra), 400, f"§3 {type_} needs options")
    assert "pick" not in attribute_keys(api, slug), "§3: nothing created"


@pytest.mark.parametrize("type_", ["select", "multiselect"])
def test_option_ids_are_assigned_integers(api: Api, type_: str) -> None:
    rule = "§3 options: the server assigns integer ids"
    slug = api.new_object()
    resp = post_attribute(api, slug, label="Pick", type=type_, options=OPTIONS)
    attr = api.ok(resp, 201, "attribute", rule)
    ids = [o["id"] for o in attr["options"]]
    assert all(type(i) is int for i in ids), f"{rule}: {ids}"
    assert len(set(ids)) == len(ids), f"{rule}: ids are distinct"
    assert ids == [1, 2, 3], f"{rule} (reference choice): assigned in order from 1"
    assert [(o["value"], o["color"]) for o in attr["options"]] == [(o["value"], o["color"]) for o in OPTIONS]


@pytest.mark.parametrize("type_", ["status", "relation", "user", "rating", "currency", "nope", 3])
def test_unserved_types_give_400(api: Api, type_: Any) -> None:
    slug = api.new_object()
    api.fails(post_attribute(api, slug, label="X", type=type_), 400, "§3 (reference choice): type not served")


@pytest.mark.parametrize(
    "body",
    [{"type": "text"}, {"label": "", "type": "text"}, {"label": 7, "type": "text"},
     {"label": "X", "type": "text", "isRequired": "yes"}, {"label": "X", "type": "text", "color": "red"}],
    ids=["no-label", "empty-label", "label-number", "required-string", "unknown-key"],
)
def test_invalid_attribute_body_gives_400(api: Api, body: dict[str, Any]) -> None:
    slug = api.new_object()
    api.fails(api.post(f"/crm/objects/{slug}/attributes", json={"isRequired": False, **body}), 400,
              "§3 (reference choice): invalid attribute body -> 400")
    assert attribute_keys(api, slug) == ["id", "created_at", "updated_at"], "§3: nothing created"


def test_missing_is_required_gives_400(api: Api) -> None:
    slug = api.new_object()
    resp = api.post(f"/crm/objects/{slug}/attributes", json={"label": "X", "type": "text"})
    api.fails(resp, 400, "§3 (reference choice): isRequired is required")


def test_attribute_on_unknown_object_gives_404(api: Api) -> None:
    api.fails(post_attribute(api, "nope", label="X", type="text"), 404, "§1 unknown object -> 404")


def test_patch_attribute_is_partial(api: Api) -> None:
    rule = "§3 PATCH attributes: partial update"
    slug = api.new_object({"label": "Name", "type": "text", "isUnique": True})
    before = api.attribute(slug, "name")
    path = f"/crm/objects/{slug}/attributes/name"
    after = api.ok(api.patch(path, json={"label": "Full Name"}), 200, "attribute", rule)
    assert after["label"] == "Full Name", f"{rule}: label changes"
    assert after["key"] == "name", f"{rule}: key never changes with the label"
    for field in ["type", "isRequired", "isUnique", "isArchived", "isStandard", "createdAt"]:
        assert after[field] == before[field], f"{rule}: {field} unchanged"
    after = api.ok(api.patch(path, json={"isRequired": True}), 200, "attribute", rule)
    assert (after["label"], after["isRequired"], after["isArchived"]) == ("Full Name", True, False), rule
    after = api.ok(api.patch(path, json={"isArchived": True}), 200, "attribute", rule)
    assert (after["label"], after["isRequired"], after["isArchived"]) == ("Full Name", True, True), rule
    assert api.timestamp(after["updatedAt"], rule) >= api.timestamp(before["updatedAt"], rule), rule
    assert api.attribute(slug, "name") == after, f"{rule}: GET object shows the patched attribute"


@pytest.mark.parametrize("body", [{"type": "number"}, {"key": "renamed"}, {"isUnique": False}])
def test_patch_never_changes_type_or_key(api: Api, body: dict[str, Any]) -> None:
    slug = api.new_object({"label": "Name", "type": "text", "isUnique": True})
    before = api.attribute(slug, "name")
    resp = api.patch(f"/crm/objects/{slug}/attributes/name", json=body)
    api.fails(resp, 400, "§3 PATCH (reference choice): type, key, isUnique -> 400")
    assert api.attribute(slug, "name") == before, "§3 PATCH: type and key never change"


@pytest.mark.parametrize("key", ["id", "created_at", "updated_at"])
def test_patch_standard_attribute_gives_400(api: Api, key: str) -> None:
    slug = api.new_object()
    before = api.attribute(slug, key)
    api.fails(api.patch(f"/crm/objects/{slug}/attributes/{key}", json={"label": "X"}), 400,
              "§3 PATCH: a standard attribute -> 400")
    assert api.attribute(slug, key) == before, "§3 PATCH: a standard attribute stays as it was"


def test_patch_unknown_attribute_or_object_gives_404(api: Api) -> None:
    slug = api.new_object()
    api.fails(api.patch(f"/crm/objects/{slug}/attributes/nope", json={"label": "X"}), 404, "§1 unknown")
    api.fails(api.patch("/crm/objects/nope/attributes/name", json={"label": "X"}), 404, "§1 unknown -> 404")


def test_archived_attribute_stays_in_records_and_writable(api: Api) -> None:
    rule = "§3 (reference choice): archived attributes stay in records and writable"
    slug = api.new_object({"label": "Name", "type": "text"})
    record = api.create(slug, {"name": "a"})
    resp = api.patch(f"/crm/objects/{slug}/attributes/name", json={"isArchived": True})
    api.ok(resp, 200, "attribute", rule)
    assert api.record(slug, record["id"])["attributes"] == {"name": "a"}, rule
    patched = api.ok(api.patch(f"/crm/{slug}/{record['id']}", json={"name": "b"}), 200, "record", rule)
    assert patched["attributes"] == {"name": "b"}, rule


@pytest.fixture
def colors(api: Api) -> dict[str, Any]:
    """An object with a select `tone` and a multiselect `tones`, both Red/Green/Blue (ids 1/2/3)."""
    slug = api.new_object({"label": "Tone", "type": "select", "options": OPTIONS},
                          {"label": "Tones", "type": "multiselect", "options": OPTIONS})
    ids = {o["value"]: o["id"] for o in api.attribute(slug, "tone")["options"]}
    mids = {o["value"]: o["id"] for o in api.attribute(slug, "tones")["options"]}
    return {"slug": slug, "ids": ids, "mids": mids}


def replace_options(api: Api, slug: str, key: str, options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    resp = api.patch(f"/crm/objects/{slug}/attributes/{key}", json={"options": options})
    return api.ok(resp, 200, "attribute", "§3 PATCH options")["options"]


def test_options_replacement_keeps_adds_and_removes(api: Api, colors: dict[str, Any]) -> None:
    rule = "§3 PATCH options: full replacement"
    slug, ids = colors["slug"], colors["ids"]
    red, blue = ({"id": ids[v], "value": v, "color": "#111111"} for v in ("Red", "Blue"))
    options = replace_options(api, slug, "tone", [red, blue, {"value": "Pink", "color": "#ffc0cb"}])
    by_value = {o["value"]: o for o in options}
    assert set(by_value) == {"Red", "Blue", "Pink"}, f"{rule}: the list is the new set"
    assert (by_value["Red"]["id"], by_value["Blue"]["id"]) == (ids["Red"], ids["Blue"]), f"{rule}: kept by id"
    assert by_value["Red"]["color"] == "#111111", f"{rule}: a kept option takes the sent value and color"
    pink = by_value["Pink"]["id"]
    assert type(pink) is int and pink not in (ids["Red"], ids["Blue"]), f"{rule}: new option, new id"
    assert api.attribute(slug, "tone")["options"] == options, f"{rule}: GET shows the same options"
    api.fails(api.post(f"/crm/{slug}", json={"tone": {"id": ids["Green"]}}), 400,
              f"{rule}: a removed option id is no longer accepted")
    api.create(slug, {"tone": {"id": pink}})


def test_removed_option_is_cleared_on_every_record(api: Api, colors: dict[str, Any]) -> None:
    rule = "§3 PATCH options: a removed option is cleared on every record"
    slug, ids, mids = colors["slug"], colors["ids"], colors["mids"]
    green_one = api.create(slug, {"tone": {"id": ids["Green"]}, "tones": [{"id": mids["Green"]}]})
    green_two = api.create(slug, {"tone": {"id": ids["Green"]}, "tones": [{"id": mids["Red"]},
                                                                         {"id": mids["Green"]}]})
    blue = api.create(slug, {"tone": {"id": ids["Blue"]}, "tones": [{"id": mids["Blue"]}]})
    keep = [{"id": ids["Red"], "value": "Red", "color": "#f00"}, {"id": ids["Blue"], "value": "Blue",
                                                                 "color": "#00f"}]
    replace_options(api, slug, "tone", keep)
    assert api.record(slug, green_one["id"])["attributes"]["tone"] is None, f"{rule}: select -> null"
    assert api.record(slug, green_two["id"])["attributes"]["tone"] is None, f"{rule}: select -> null"
    assert api.record(slug, blue["id"])["attributes"]["tone"] == {"id": ids["Blue"]}, f"{rule}: others kept"
    mkeep = [{"id": mids["Red"], "value": "Red", "color": "#f00"}, {"id": mids["Blue"], "value": "Blue",
                                                                   "color": "#00f"}]
    replace_options(api, slug, "tones", mkeep)
    assert api.record(slug, green_one["id"])["attributes"]["tones"] == [], f"{rule}: multiselect loses it"
    assert api.record(slug, green_two["id"])["attributes"]["tones"] == [{"id": mids["Red"]}], rule
    assert api.record(slug, blue["id"])["attributes"]["tones"] == [{"id": mids["Blue"]}], rule
    listed = {r["id"]: r["attributes"] for r in api.records(slug)}
    assert listed[green_two["id"]] == {"tone": None, "tones": [{"id": mids["Red"]}]}, f"{rule}: list agrees"


@pytest.mark.parametrize(
    "options",
    [[{"id": 99, "value": "Ghost", "color": "#000"}], [], [{"id": "1", "value": "Red", "color": "#f00"}]],
    ids=["unknown-id", "empty", "string-id"],
)
def test_invalid_options_replacement_gives_400_and_changes_nothing(
    api: Api, colors: dict[str, Any], options: list[dict[str, Any]]
) -> None:
    slug, ids = colors["slug"], colors["ids"]
    record = api.create(slug, {"tone": {"id": ids["Green"]}})
    before = api.attribute(slug, "tone")
    resp = api.patch(f"/crm/objects/{slug}/attributes/tone", json={"options": options})
    api.fails(resp, 400, "§3 PATCH options (reference choice): invalid replacement -> 400")
    assert api.attribute(slug, "tone") == before, "§3: a rejected options PATCH changes nothing"
    assert api.record(slug, record["id"])["attributes"]["tone"] == {"id": ids["Green"]}, "§3: record kept"
