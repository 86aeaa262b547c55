"""Section 4 of the contract against the reference server: accepted and rejected values per type.

Every accepted value must come back exactly (datetimes as the same instant, multiselects as the same
set) through create, PATCH and assert; every rejected value gives 400 and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

Api = Any  # the `api` fixture's class lives in tests/conftest.py

OPTIONS = [{"value": "Red", "color": "#f00"}, {"value": "Green", "color": "#0f0"},
           {"value": "Blue", "color": "#00f"}]
ATTRIBUTES = [
    {"label": "Ref", "type": "text"},  # the matching attribute for asserts
    {"label": "Text", "type": "text"},
    {"label": "Phone", "type": "phone_number"},
    {"label": "Amount", "type": "number"},
    {"label": "Flag", "type": "checkbox"},
    {"label": "Day", "type": "date"},
    {"label": "Moment", "type": "datetime"},
    {"label": "Tone", "type": "select", "options": OPTIONS},
    {"label": "Tones", "type": "multiselect", "options": OPTIONS},
]
MAX_SAFE = 2**53 - 1


class Opt(str):
    """An option named by its value in a test case, replaced by the server-assigned id."""


ACCEPTED: list[tuple[str, Any]] = [
    ("text", "a" * 255),
    ("text", "\U0001F600" * 255),
    ("text", "e\u0301" * 127 + "x"),
    ("text", "\U0001F44D\U0001F3FD" * 127 + "x"),
    ("text", ""),
    ("text", " "),
    ("text", "  padded  "),
    ("text", "\t\n\r"),
    ("text", "\u00e9"),
    ("text", "e\u0301"),
    ("text", "a\x00b"),
    ("text", "\u202eright-to-left\u202c"),
    ("phone", "+49 30 1234567"),
    ("phone", "9" * 255),
    ("phone", ""),
    ("amount", MAX_SAFE),
    ("amount", -MAX_SAFE),
    ("amount", 0),
    ("amount", 42),
    ("amount", -1),
    ("flag", True),
    ("flag", False),
    ("day", "2024-02-29"),
    ("day", "2025-01-01"),
    ("day", "1999-12-31"),
    ("moment", "2025-06-01T10:00:00+00:00"),
    ("moment", "2025-06-01T10:00:00Z"),
    ("moment", "2025-06-01T12:00:00+02:00"),
    ("moment", "2025-06-01T05:30:00-04:30"),
    ("moment", "2025-06-01T10:00:00.123456+05:45"),
    ("moment", "2025-06-01T10:00:00.5+01:00"),
    ("moment", "2024-02-29T23:59:59-12:00"),
    ("tone", {"id": Opt("Red")}),
    ("tone", {"id": Opt("Blue")}),
    ("tones", []),
    ("tones", [{"id": Opt("Green")}]),
    ("tones", [{"id": Opt("Blue")}, {"id": Opt("Red")}]),
    ("tones", [{"id": Opt("Red")}, {"id": Opt("Red")}]),
]
REJECTED: list[tuple[str, Any]] = [
    ("text", "a" * 256),
    ("text", "\U0001F600" * 256),
    ("text", "e\u0301" * 128),
    ("text", 1),
    ("text", True),
    ("text", ["a"]),
    ("text", {"a": "b"}),
    ("phone", 4930123),
    ("phone", "9" * 256),
    ("phone", True),
    ("amount", "1"),
    ("amount", True),
    ("amount", False),
    ("amount", 1.5),
    ("amount", 2**53),
    ("amount", -(2**53)),
    ("amount", "x"),
    ("amount", [1]),
    ("flag", 0),
    ("flag", 1),
    ("flag", "true"),
    ("flag", "false"),
    ("day", "2025-02-29"),
    ("day", "2025-02-30"),
    ("day", "2025-6-1"),
    ("day", "2025-06-01T10:00:00+00:00"),
    ("day", "2025-13-01"),
    ("day", "20250601"),
    ("day", 20250601),
    ("day", ""),
    ("moment", "2025-06-01"),
    ("moment", "2025-06-01T10:00:00"),
    ("moment", "2025-02-30T10:00:00+00:00"),
    ("moment", "yesterday"),
    ("moment", 1748772000),
    ("moment", ""),
    ("moment", "2025-06-01T10:00:00+24:00"),
    ("moment", "2025-06-01T10:00:00.1234567+00:00"),
    ("moment", "2025-06-01T10:00:00+0000"),
    ("moment", "2025-06-01T25:00:00+00:00"),
    ("tone", {"id": 999}),
    ("tone", Opt("Red")),
    ("tone", {"id": "1"}),
    ("tone", {"id": True}),
    ("tone", [{"id": Opt("Red")}]),
    ("tone", "Red"),
    ("tone", {"value": "Red"}),
    ("tone", {"id": Opt("Red"), "value": "Red"}),
    ("tone", {"id": 1.0}),
    ("tone", {}),
    ("tones", {"id": Opt("Red")}),
    ("tones", "1"),
    ("tones", [{"id": 999}]),
    ("tones", [Opt("Red")]),
    ("tones", [{"id": Opt("Red")}, {"id": 999}]),
    ("tones", [{"id": "1"}]),
    ("tones", [{"id": Opt("Red"), "color": "#f00"}]),
    ("tones", [None]),
]


def case_id(case: tuple[str, Any]) -> str:
    key, value = case
    size = f"-len{len(value)}" if isinstance(value, str) and len(value) > 20 else ""
    return f"{key}-{repr(value)[:20]}{size}"


@pytest.fixture
def typed(api: Api) -> dict[str, Any]:
    """An object with one attribute per served type; `opts[key][value]` gives an option id."""
    slug = api.new_object(*ATTRIBUTES)
    opts = {key: {o["value"]: o["id"] for o in api.attribute(slug, key)["options"]}
            for key in ("tone", "tones")}
    return {"slug": slug, "opts": opts}


def resolve(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, Opt):
        return ids[str(value)]
    if isinstance(value, list):
        return [resolve(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, ids) for k, v in value.items()}
    return value


def check_same(key: str, sent: Any, got: Any, rule: str) -> None:
    """The contract's notion of 'returned exactly' for the attribute `key`."""
    if key == "moment":
        assert isinstance(got, str), f"{rule}: datetime comes back as a string, got {got!r}"
        returned = datetime.fromisoformat(got)
        assert returned.utcoffset() is not None, f"{rule}: datetime {got!r} has an offset"
        assert returned == datetime.fromisoformat(sent), f"{rule}: same instant: sent {sent!r}, got {got!r}"
    elif key == "tones":
        assert isinstance(got, list) and all(isinstance(o, dict) and set(o) == {"id"} for o in got), (
            f"{rule}: multiselect comes back as a list of {{'id': ...}}, got {got!r}")
        assert {o["id"] for o in got} == {o["id"] for o in sent}, f"{rule}: same set: {sent!r} vs {got!r}"
    else:
        assert got == sent and type(got) is type(sent), f"{rule}: exactly as sent: {sent!r} vs {got!r}"


@pytest.mark.parametrize(("key", "value"), ACCEPTED, ids=[case_id(c) for c in ACCEPTED])
def test_accepted_value_round_trips_through_create_patch_and_assert(
    api: Api, typed: dict[str, Any], key: str, value: Any
) -> None:
    rule = f"§4 {key}: accepted value round-trips"
    slug, value = typed["slug"], resolve(value, typed["opts"].get(key, {}))
    created = api.ok(api.post(f"/crm/{slug}", json={key: value}), 201, "record", f"{rule} (create)")
    check_same(key, value, created["attributes"][key], f"{rule} (create response)")
    check_same(key, value, api.record(slug, created["id"])["attributes"][key], f"{rule} (GET after create)")

    other = api.create(slug, {})
    patched = api.ok(api.patch(f"/crm/{slug}/{other['id']}", json={key: value}), 200, "record", rule)
    check_same(key, value, patched["attributes"][key], f"{rule} (PATCH response)")
    check_same(key, value, api.record(slug, other["id"])["attributes"][key], f"{rule} (GET after PATCH)")

    body = {"ref": "round-trip", key: value}
    asserted = api.ok(api.upsert(slug, "ref", body), 201, "record", f"{rule} (assert create)")
    check_same(key, value, asserted["attributes"][key], f"{rule} (assert response)")
    again = api.ok(api.upsert(slug, "ref", body), 200, "record", f"{rule} (assert update, A5)")
    assert again["id"] == asserted["id"], f"{rule} / A5: same id"
    check_same(key, value, again["attributes"][key], f"{rule} (assert update response)")


@pytest.mark.parametrize(("key", "value"), REJECTED, ids=[case_id(c) for c in REJECTED])
def test_rejected_value_gives_400_and_changes_nothing(
    api: Api, typed: dict[str, Any], key: str, value: Any
) -> None:
    rule = f"§4 {key}: wrong value -> 400"
    slug, value = typed["slug"], resolve(value, typed["opts"].get(key, {}))
    existing = api.create(slug, {"ref": "existing"})
    before = api.records(slug)

    body = api.fails(api.post(f"/crm/{slug}", json={key: value}), 400, f"{rule} (create)")
    if "errors" in body:
        assert key in body["errors"], f"{rule} (reference choice): errors names the attribute: {body}"
    api.fails(api.patch(f"/crm/{slug}/{existing['id']}", json={key: value}), 400, f"{rule} (PATCH)")
    api.fails(api.upsert(slug, "ref", {"ref": "new", key: value}), 400, f"{rule} (assert create)")
    api.fails(api.upsert(slug, "ref", {"ref": "existing", key: value}), 400, f"{rule} (assert update)")
    assert api.records(slug) == before, f"{rule} / A10: a rejected write changes nothing"


def test_errors_field_names_the_attribute(api: Api, typed: dict[str, Any]) -> None:
    resp = api.post(f"/crm/{typed['slug']}", json={"amount": "1", "flag": 0})
    body = api.fails(resp, 400, "§4: wrong values -> 400")
    errors = body.get("errors")
    assert isinstance(errors, dict) and "amount" in errors, f"§1 (reference choice): errors by key: {body}"
    assert all(isinstance(m, list) and m and all(isinstance(t, str) for t in m) for m in errors.values()), (
        f"§1 (reference choice): errors maps keys to lists of texts: {body}")


def test_datetime_is_returned_in_utc(api: Api, typed: dict[str, Any]) -> None:
    record = api.create(typed["slug"], {"moment": "2025-06-01T12:00:00+02:00"})
    got = record["attributes"]["moment"]
    assert datetime.fromisoformat(got).utcoffset().total_seconds() == 0, (
        f"§4 datetime (reference choice): returned in UTC, got {got!r}")


def test_multiselect_is_returned_sorted_without_duplicates(api: Api, typed: dict[str, Any]) -> None:
    ids = typed["opts"]["tones"]
    sent = [{"id": ids["Blue"]}, {"id": ids["Red"]}, {"id": ids["Blue"]}]
    got = api.create(typed["slug"], {"tones": sent})["attributes"]["tones"]
    assert got == [{"id": i} for i in sorted({ids["Blue"], ids["Red"]})], (
        f"§4 multiselect (reference choice): sorted by id, no duplicates, got {got!r}")
