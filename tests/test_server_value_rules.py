"""Section 4 rules beyond single values: null, required, unknown and system keys, unique collisions.

Ends with Hypothesis round-trips: any value the contract accepts comes back as sent.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

Api = Any  # the `api` fixture's class lives in tests/conftest.py

OPTIONS = [{"value": "Red", "color": "#f00"}, {"value": "Green", "color": "#0f0"},
           {"value": "Blue", "color": "#00f"}]
SAMPLES = {
    "text": ("Text", "text", "hello"),
    "phone": ("Phone", "phone_number", "+1 555 0100"),
    "amount": ("Amount", "number", 7),
    "flag": ("Flag", "checkbox", True),
    "day": ("Day", "date", "2025-06-01"),
    "moment": ("Moment", "datetime", "2025-06-01T10:00:00+00:00"),
    "tone": ("Tone", "select", {"id": 1}),
    "tones": ("Tones", "multiselect", [{"id": 1}]),
}


def attribute_body(label: str, type_: str, **extra: Any) -> dict[str, Any]:
    body = {"label": label, "type": type_, **extra}
    if "select" in type_:
        body["options"] = OPTIONS
    return body


def sample(api: Api, slug: str, key: str) -> Any:
    """SAMPLES' value for `key`, with option ids taken from the server."""
    value = SAMPLES[key][2]
    if key in ("tone", "tones"):
        first = api.attribute(slug, key)["options"][0]["id"]
        value = {"id": first} if key == "tone" else [{"id": first}]
    return value


@pytest.fixture
def typed(api: Api) -> str:
    return api.new_object({"label": "Ref", "type": "text"},
                          *(attribute_body(label, type_) for label, type_, _ in SAMPLES.values()))


@pytest.mark.parametrize("key", SAMPLES)
def test_null_clears_every_type(api: Api, typed: str, key: str) -> None:
    rule = f"§4 null clears ({key})"
    value = sample(api, typed, key)
    record = api.create(typed, {key: value, "ref": "r"})
    patched = api.ok(api.patch(f"/crm/{typed}/{record['id']}", json={key: None}), 200, "record", rule)
    assert patched["attributes"][key] is None, f"{rule}: PATCH null"
    assert api.record(typed, record["id"])["attributes"][key] is None, f"{rule}: GET after PATCH null"
    api.ok(api.patch(f"/crm/{typed}/{record['id']}", json={key: value}), 200, "record", rule)
    asserted = api.ok(api.upsert(typed, "ref", {"ref": "r", key: None}), 200, "record", rule)
    assert asserted["attributes"][key] is None, f"{rule}: assert with null (A4)"
    created = api.ok(api.post(f"/crm/{typed}", json={key: None}), 201, "record", rule)
    assert created["attributes"][key] is None, f"{rule}: create with null"


@pytest.mark.parametrize("key", SAMPLES)
def test_null_on_required_attribute_gives_400_on_create_patch_and_assert(api: Api, key: str) -> None:
    rule = f"§4 null on a required attribute -> 400 ({key})"
    label, type_, _ = SAMPLES[key]
    slug = api.new_object({"label": "Ref", "type": "text"}, attribute_body(label, type_, isRequired=True))
    value = sample(api, slug, key)
    record = api.create(slug, {"ref": "r", key: value})
    before = api.records(slug)
    api.fails(api.post(f"/crm/{slug}", json={"ref": "n", key: None}), 400, f"{rule} (create)")
    api.fails(api.patch(f"/crm/{slug}/{record['id']}", json={key: None}), 400, f"{rule} (PATCH)")
    api.fails(api.upsert(slug, "ref", {"ref": "r", key: None}), 400, f"{rule} (assert update)")
    api.fails(api.upsert(slug, "ref", {"ref": "n", key: None}), 400, f"{rule} (assert create)")
    api.fails(api.upsert(slug, "ref", {"ref": "n"}), 400, f"§5 missing required ({key}, assert create)")
    assert api.records(slug) == before, f"{rule} / A10: nothing changed"
    patched = api.ok(api.patch(f"/crm/{slug}/{record['id']}", json={"ref": "s"}), 200, "record", rule)
    assert patched["attributes"][key] is not None, f"{rule}: PATCH without the required key keeps it"


@pytest.mark.parametrize("key", ["nope", "Text", "ref ", "id", "created_at", "updated_at"])
def test_unknown_and_system_keys_give_400(api: Api, typed: str, key: str) -> None:
    rule = f"§4 key {key!r} is not a writable attribute -> 400"
    record = api.create(typed, {"ref": "r"})
    value = record["id"] if key == "id" else record["createdAt"] if key.endswith("_at") else "x"
    before = api.records(typed)
    api.fails(api.post(f"/crm/{typed}", json={"text": "a", key: value}), 400, f"{rule} (create)")
    api.fails(api.patch(f"/crm/{typed}/{record['id']}", json={key: value}), 400, f"{rule} (PATCH)")
    api.fails(api.upsert(typed, "ref", {"ref": "r", key: value}), 400, f"{rule} (assert update)")
    api.fails(api.upsert(typed, "ref", {"ref": "new", key: value}), 400, f"{rule} (assert create)")
    assert api.records(typed) == before, f"{rule} / A10: nothing changed"


@pytest.mark.parametrize(
    ("type_", "value"), [("text", ""), ("text", " "), ("text", "x"), ("phone_number", "+1"), ("number", 0)]
)
def test_equal_values_collide_in_a_unique_attribute(api: Api, type_: str, value: Any) -> None:
    rule = f"§4/§5 unique {type_}: {value!r} held by another record -> 400"
    slug = api.new_object({"label": "Ref", "type": "text"},
                          {"label": "Code", "type": type_, "isUnique": True})
    holder = api.create(slug, {"ref": "a", "code": value})
    other = api.create(slug, {"ref": "b"})
    before = api.records(slug)
    api.fails(api.post(f"/crm/{slug}", json={"code": value}), 400, f"{rule} (create)")
    api.fails(api.patch(f"/crm/{slug}/{other['id']}", json={"code": value}), 400, f"{rule} (PATCH)")
    api.fails(api.upsert(slug, "ref", {"ref": "b", "code": value}), 400, f"{rule} (assert update, A8)")
    api.fails(api.upsert(slug, "ref", {"ref": "c", "code": value}), 400, f"{rule} (assert create, A8)")
    assert api.records(slug) == before, f"{rule} / A10: nothing changed"
    again = api.ok(api.patch(f"/crm/{slug}/{holder['id']}", json={"code": value}), 200, "record", rule)
    assert again["attributes"]["code"] == value, f"{rule}: a record may keep its own value"


def test_null_never_collides_in_a_unique_attribute(api: Api) -> None:
    rule = "§4 null never collides in a unique attribute"
    slug = api.new_object({"label": "Ref", "type": "text"},
                          {"label": "Code", "type": "text", "isUnique": True})
    first = api.create(slug, {"code": None})
    api.create(slug, {"code": None})
    api.create(slug, {})
    api.ok(api.upsert(slug, "ref", {"ref": "x", "code": None}), 201, "record", rule)
    api.create(slug, {"code": "taken"})
    patched = api.ok(api.patch(f"/crm/{slug}/{first['id']}", json={"code": None}), 200, "record", rule)
    assert patched["attributes"]["code"] is None, rule
    assert len(api.records(slug)) == 5, f"{rule}: every record was created"


def test_released_unique_value_can_be_taken_again(api: Api) -> None:
    rule = "§4 unique: only values held now collide"
    slug = api.new_object({"label": "Code", "type": "text", "isUnique": True})
    first = api.create(slug, {"code": "A"})
    api.ok(api.patch(f"/crm/{slug}/{first['id']}", json={"code": "B"}), 200, "record", rule)
    api.create(slug, {"code": "A"})
    api.ok(api.delete(f"/crm/{slug}/{first['id']}"), 200, None, rule)
    api.create(slug, {"code": "B"})


# -- Hypothesis: anything the contract accepts comes back as sent ---------------------------------

OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
AWARE = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2199, 12, 30), timezones=OFFSETS)


@pytest.fixture(scope="module")
def roomy(shared_api: Api) -> str:
    return shared_api.new_object({"label": "Text", "type": "text"}, {"label": "Amount", "type": "number"},
                                 {"label": "Day", "type": "date"}, {"label": "Moment", "type": "datetime"},
                                 {"label": "Tones", "type": "multiselect", "options": OPTIONS})


@settings(max_examples=60, deadline=None)
@given(value=st.text(max_size=255))
def test_any_text_up_to_255_code_points_round_trips(shared_api: Api, roomy: str, value: str) -> None:
    rule = "§4 text: any string of at most 255 code points, stored exactly"
    created = shared_api.ok(shared_api.post(f"/crm/{roomy}", json={"text": value}), 201, "record", rule)
    assert created["attributes"]["text"] == value, f"{rule}: create response {value!r}"
    fetched = shared_api.record(roomy, created["id"])["attributes"]["text"]
    assert fetched == value, f"{rule}: GET {value!r} -> {fetched!r}"


@settings(max_examples=25, deadline=None)
@given(value=st.text(min_size=256, max_size=400))
def test_any_text_over_255_code_points_is_rejected(shared_api: Api, roomy: str, value: str) -> None:
    resp = shared_api.post(f"/crm/{roomy}", json={"text": value})
    shared_api.fails(resp, 400, f"§4 text: {len(value)} code points -> 400")


@settings(max_examples=40, deadline=None)
@given(value=st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1))
def test_any_safe_integer_round_trips(shared_api: Api, roomy: str, value: int) -> None:
    rule = "§4 number: any integer within ±(2^53-1) returned exactly"
    created = shared_api.ok(shared_api.post(f"/crm/{roomy}", json={"amount": value}), 201, "record", rule)
    assert shared_api.record(roomy, created["id"])["attributes"]["amount"] == value, f"{rule}: {value}"


@settings(max_examples=25, deadline=None)
@given(value=st.integers(min_value=2**53, max_value=2**70), sign=st.sampled_from([1, -1]))
def test_any_integer_beyond_the_safe_range_is_rejected(
    shared_api: Api, roomy: str, value: int, sign: int
) -> None:
    resp = shared_api.post(f"/crm/{roomy}", json={"amount": sign * value})
    shared_api.fails(resp, 400, f"§4 number: {sign * value} is outside ±(2^53-1) -> 400")


@settings(max_examples=40, deadline=None)
@given(day=st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
def test_any_calendar_date_round_trips(shared_api: Api, roomy: str, day: date) -> None:
    rule = "§4 date: any real calendar date as YYYY-MM-DD"
    value = day.isoformat()
    created = shared_api.ok(shared_api.post(f"/crm/{roomy}", json={"day": value}), 201, "record", rule)
    assert shared_api.record(roomy, created["id"])["attributes"]["day"] == value, f"{rule}: {value}"


@settings(max_examples=40, deadline=None)
@given(moment=AWARE)
def test_any_datetime_with_offset_comes_back_as_the_same_instant(
    shared_api: Api, roomy: str, moment: datetime
) -> None:
    rule = "§4 datetime: returned as the same instant"
    value = moment.isoformat()
    created = shared_api.ok(shared_api.post(f"/crm/{roomy}", json={"moment": value}), 201, "record", rule)
    got = shared_api.record(roomy, created["id"])["attributes"]["moment"]
    returned = datetime.fromisoformat(got)
    assert returned.utcoffset() is not None and returned == moment, f"{rule}: sent {value}, got {got}"


@settings(max_examples=30, deadline=None)
@given(picks=st.lists(st.sampled_from(["Red", "Green", "Blue"]), max_size=6))
def test_any_multiselect_comes_back_as_the_same_set(shared_api: Api, roomy: str, picks: list[str]) -> None:
    rule = "§4 multiselect: returned as the same set"
    ids = {o["value"]: o["id"] for o in shared_api.attribute(roomy, "tones")["options"]}
    sent = [{"id": ids[p]} for p in picks]
    created = shared_api.ok(shared_api.post(f"/crm/{roomy}", json={"tones": sent}), 201, "record", rule)
    got = shared_api.record(roomy, created["id"])["attributes"]["tones"]
    assert {o["id"] for o in got} == {ids[p] for p in picks}, f"{rule}: sent {sent}, got {got}"
