"""The basic assert rules: create (A1), update (A2), idempotent repeat (A5), empty matching value (A7).

Every example makes its own custom object (a run-unique slug) with a text matching attribute, unique
or not (A8: either is allowed), and a text attribute ``note``; the object goes again at the end of the
example. Under the ``documented`` contract profile only documented behaviour is checked: no reliance on
exact storage of strings, the error envelope, timestamps or the record list, which are reference choices.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from crm_contract.pytest_plugin import CustomObject, CustomObjects, Target, describe

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
MAX_TEXT = 255


def text_values(*, min_size: int = 1, max_size: int = MAX_TEXT) -> st.SearchStrategy[str]:
    """Strings of Unicode scalar values (no lone surrogates: they are not text); shrinks towards "0"."""
    return st.text(st.characters(codec="utf-8"), min_size=min_size, max_size=max_size)


def matching_values() -> st.SearchStrategy[str]:
    """Non-empty matching values: arbitrary text, or identifiers such as a source system would send."""
    return st.one_of(
        text_values(), st.uuids().map(str), st.from_regex(r"[A-Z]{2,4}-[0-9]{1,8}", fullmatch=True)
    )


def padded(value: str) -> str:
    return f" {value} "


def decomposed(value: str) -> str:
    return unicodedata.normalize("NFD", value)


def composed(value: str) -> str:
    return unicodedata.normalize("NFC", value)


VARIANTS = (str.upper, str.lower, str.swapcase, str.strip, padded, decomposed, composed)


@st.composite
def distinct_matching_values(draw: st.DrawFn, *, max_size: int = 3) -> list[str]:
    """Distinct matching values, often near-misses of one another (case, spaces, Unicode form).

    Exact matching (A3) makes every one of them a different value. Shrinks towards one short value.
    """
    first = draw(matching_values())
    variants = [change(first) for change in draw(st.lists(st.sampled_from(VARIANTS), max_size=2))]
    others = draw(st.lists(matching_values(), max_size=max_size - 1))
    values = [value for value in [first, *variants, *others] if 0 < len(value) <= MAX_TEXT]
    return list(dict.fromkeys(values))[:max_size]


def loosely(value: str) -> str:
    """What a documented-only server might treat as the same string (exactness is a reference choice)."""
    return unicodedata.normalize("NFKC", value).casefold().strip()


def schema(unique: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The attribute bodies of an example's object: the matching attribute, then ``note``."""
    return (
        {"label": "Match key", "type": "text", "isRequired": False, "isUnique": unique},
        {"label": "Note", "type": "text", "isRequired": False, "isUnique": False},
    )


def assert_record(client: httpx.Client, obj: CustomObject, body: Mapping[str, Any]) -> httpx.Response:
    return client.put(f"/crm/{obj.slug}", params={"matchingAttribute": obj.keys[0]}, json=dict(body))


def record_of(response: httpx.Response, status: int, rule: str, *history: httpx.Response) -> dict[str, Any]:
    """The record of a success envelope with ``status``; otherwise an AssertionError naming ``rule``."""
    shown = describe(*history, response)
    assert response.status_code == status, f"{rule}: expected HTTP {status}\n{shown}"
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"{rule}: the response is not JSON\n{shown}") from None
    assert isinstance(body, dict), f"{rule}: the response is not a JSON object\n{shown}"
    assert body.get("success") is True, f"{rule}: 'success' must be true\n{shown}"
    assert body.get("status") == status, f"{rule}: 'status' must equal the HTTP status\n{shown}"
    record = body.get("record")
    assert isinstance(record, dict), f"{rule}: no 'record' object in the envelope\n{shown}"
    record_id = record.get("id")
    assert isinstance(record_id, str) and UUID.fullmatch(record_id), f"{rule}: 'id' is not a UUID\n{shown}"
    slug = response.request.url.path.split("/crm/", 1)[-1].split("/")[0]
    assert record.get("objectSlug") == slug, f"{rule}: 'objectSlug' is not the object in the path\n{shown}"
    assert isinstance(record.get("attributes"), dict), f"{rule}: 'attributes' is not an object\n{shown}"
    return record


def rejected(
    response: httpx.Response, status: int, rule: str, target: Target, *history: httpx.Response
) -> None:
    shown = describe(*history, response)
    assert response.status_code == status, f"{rule}: expected HTTP {status}\n{shown}"
    if target.strict:  # the error envelope is a reference choice for the CRM
        try:
            body = response.json()
        except ValueError:
            raise AssertionError(f"{rule}: the error response is not JSON\n{shown}") from None
        assert isinstance(body, dict) and body.get("success") is False and body.get("status") == status, (
            f"{rule}: expected the error envelope {{success: false, status: {status}, message}}\n{shown}"
        )


def timestamp(record: Mapping[str, Any], field: str, rule: str, shown: str) -> datetime:
    value = record.get(field)
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    assert parsed is not None and parsed.utcoffset() is not None, (
        f"{rule}: {field} {value!r} is not an ISO 8601 timestamp with an offset\n{shown}"
    )
    return parsed


def record_count(client: httpx.Client, obj: CustomObject, rule: str) -> int:
    response = client.get(f"/crm/{obj.slug}", params={"page": 1, "count": 100})
    assert response.status_code == 200, f"{rule}: listing the records failed\n{describe(response)}"
    return int(response.json()["pagination"]["total"])


@pytest.mark.rule("A1")
@pytest.mark.documented
@given(keys=distinct_matching_values(), unique=st.booleans())
def test_new_matching_value_creates_a_record(
    target: Target, client: httpx.Client, custom_objects: CustomObjects, keys: list[str], unique: bool
) -> None:
    if not target.strict:
        assume(len({loosely(key) for key in keys}) == len(keys) and all(loosely(key) for key in keys))
    with custom_objects.new(*schema(unique)) as obj:
        match, note = obj.keys
        seen: dict[str, httpx.Response] = {}
        for key in keys:
            response = assert_record(client, obj, {match: key})
            record = record_of(response, 201, "A1 (no record has the value: create)", *seen.values())
            assert record["id"] not in seen, (
                f"A1: the new record reuses an id\n{describe(*seen.values(), response)}"
            )
            seen[record["id"]] = response
            if target.strict:  # A4 on create, exact storage (reference choices)
                shown = describe(response)
                assert record["attributes"] == {match: key, note: None}, (
                    f"A1/A4: the record must hold the value as sent and null elsewhere\n{shown}"
                )
                created = timestamp(record, "createdAt", "A1", shown)
                assert timestamp(record, "updatedAt", "A1", shown) == created, (
                    f"A1: on create updatedAt must equal createdAt\n{shown}"
                )
        if target.strict:
            assert record_count(client, obj, "A1") == len(keys), (
                f"A1: {len(keys)} asserts of distinct values must leave {len(keys)} records"
            )


@pytest.mark.rule("A2")
@pytest.mark.documented
@given(key=matching_values(), notes=st.tuples(text_values(), text_values()), unique=st.booleans())
def test_existing_matching_value_updates_that_record(
    target: Target,
    client: httpx.Client,
    custom_objects: CustomObjects,
    key: str,
    notes: tuple[str, str],
    unique: bool,
) -> None:
    if not target.strict:
        assume(loosely(key))
    with custom_objects.new(*schema(unique)) as obj:
        match, note = obj.keys
        first = assert_record(client, obj, {match: key, note: notes[0]})
        created = record_of(first, 201, "A1 (set-up: the first assert creates)")
        second = assert_record(client, obj, {match: key, note: notes[1]})
        updated = record_of(second, 200, "A2 (a record has the value: update it)", first)
        assert updated["id"] == created["id"], f"A2: the update must keep the id\n{describe(first, second)}"
        if target.strict:  # exact storage and timestamps are reference choices
            shown = describe(first, second)
            assert updated["attributes"] == {match: key, note: notes[1]}, (
                f"A2/A4: the update must apply the whole body\n{shown}"
            )
            assert timestamp(updated, "createdAt", "A2", shown) == timestamp(
                created, "createdAt", "A2", shown
            ), f"A2: an update keeps createdAt\n{shown}"
            assert timestamp(updated, "updatedAt", "A2", shown) >= timestamp(
                created, "updatedAt", "A2", shown
            ), f"A2: updatedAt never moves backward\n{shown}"
            assert record_count(client, obj, "A2") == 1, f"A2: an update must not create a record\n{shown}"


@pytest.mark.rule("A5")
@pytest.mark.documented
@given(key=matching_values(), note=st.none() | text_values(), repeats=st.integers(2, 4), unique=st.booleans())
def test_repeated_assert_keeps_id_and_attributes(
    target: Target,
    client: httpx.Client,
    custom_objects: CustomObjects,
    key: str,
    note: str | None,
    repeats: int,
    unique: bool,
) -> None:
    if not target.strict:
        assume(loosely(key))
    with custom_objects.new(*schema(unique)) as obj:
        match, note_key = obj.keys
        body = {match: key} if note is None else {match: key, note_key: note}
        first = assert_record(client, obj, body)
        original = record_of(first, 201, "A1 (set-up: the first assert creates)")
        for _ in range(repeats - 1):
            again = assert_record(client, obj, body)
            repeated = record_of(again, 200, "A5 (a repeated assert is an update)", first)
            shown = describe(first, again)
            assert repeated["id"] == original["id"], f"A5: a repeated assert must keep the id\n{shown}"
            assert repeated["attributes"] == original["attributes"], (
                f"A5: a repeated assert must keep the attributes\n{shown}"
            )
        fetched = client.get(f"/crm/{obj.slug}/{original['id']}")
        stored = record_of(fetched, 200, "A5 (the record is still there)", first)
        assert stored["attributes"] == original["attributes"], (
            f"A5: the stored record must equal the asserted one\n{describe(first, fetched)}"
        )
        if target.strict:  # the record list is a reference choice
            assert record_count(client, obj, "A5") == 1, (
                f"A5: repeats must not create records\n{describe(first)}"
            )


@pytest.mark.rule("A7", "A10")
@pytest.mark.documented
@given(empty=st.sampled_from([None, ""]), note=text_values(), existing=st.booleans(), unique=st.booleans())
def test_null_or_empty_matching_value_is_rejected(
    target: Target,
    client: httpx.Client,
    custom_objects: CustomObjects,
    empty: str | None,
    note: str,
    existing: bool,
    unique: bool,
) -> None:
    with custom_objects.new(*schema(unique)) as obj:
        match, note_key = obj.keys
        history = []
        if existing:  # a record without a matching value must not be matched by null
            made = client.post(f"/crm/{obj.slug}", json={note_key: note})
            record_of(made, 201, "set-up (create a record without a matching value)")
            history.append(made)
        response = assert_record(client, obj, {match: empty, note_key: note})
        rejected(response, 400, "A7 (null or empty matching value)", target, *history)
        if target.strict:  # A10 is a reference choice
            assert record_count(client, obj, "A10") == len(history), (
                f"A10: a rejected assert must not create a record\n{describe(*history, response)}"
            )


@pytest.mark.rule("A7", "A10")
@pytest.mark.reference
@given(note=st.none() | text_values(), unique=st.booleans())
def test_missing_matching_value_is_rejected(
    target: Target, client: httpx.Client, custom_objects: CustomObjects, note: str | None, unique: bool
) -> None:
    with custom_objects.new(*schema(unique)) as obj:
        _, note_key = obj.keys
        response = assert_record(client, obj, {} if note is None else {note_key: note})
        rejected(response, 400, "A7 (matching value missing from the body)", target)
        assert record_count(client, obj, "A10") == 0, (
            f"A10: a rejected assert must not create a record\n{describe(response)}"
        )


def fresh_value(attribute: Mapping[str, Any]) -> Any:
    """A value of the attribute's type that no record of a shared object holds yet (run-unique)."""
    kind, options = attribute.get("type"), attribute.get("options") or []
    if kind in ("text", "phone_number"):
        return f"cc-{uuid.uuid4()}"
    if kind == "number":
        return uuid.uuid4().int % (2**53 - 1)
    if kind == "checkbox":
        return False
    if kind == "date":
        return "2025-06-01"
    if kind == "datetime":
        return "2025-06-01T10:00:00+00:00"
    if kind in ("select", "multiselect") and options:
        choice = {"id": options[0]["id"]}
        return choice if kind == "select" else [choice]
    pytest.skip(f"the configured object needs a value of the type {kind!r}, which this test cannot make")


@pytest.mark.rule("A1", "A2", "A5")
@pytest.mark.documented
def test_configured_object_creates_then_updates(target: Target, client: httpx.Client) -> None:
    """On an existing object (--object, --matching-attribute): create, then re-assert the same record."""
    if not (target.object_slug and target.matching_attribute):
        pytest.skip("no --object/--matching-attribute given; the other tests make their own objects")
    described = client.get(f"/crm/objects/{target.object_slug}")
    assert described.status_code == 200, f"set-up: the configured object\n{describe(described)}"
    attributes = {attribute["key"]: attribute for attribute in described.json()["object"]["attributes"]}
    match = target.matching_attribute
    needed = [
        key
        for key, attribute in attributes.items()
        if key == match or (attribute.get("isRequired") and not attribute.get("isStandard"))
    ]
    body = {key: fresh_value(attributes[key]) for key in needed}
    path, params = f"/crm/{target.object_slug}", {"matchingAttribute": match}
    first = client.put(path, params=params, json=body)
    created = record_of(first, 201, "A1 (a run-unique value: create)")
    try:
        second = client.put(path, params=params, json=body)
        again = record_of(second, 200, "A2/A5 (the same assert again: update)", first)
        assert again["id"] == created["id"], (
            f"A2/A5: a repeated assert must keep the id\n{describe(first, second)}"
        )
        assert again["attributes"] == created["attributes"], (
            f"A5: a repeated assert must keep the attributes\n{describe(first, second)}"
        )
    finally:
        deleted = client.delete(f"{path}/{created['id']}")
        assert deleted.status_code == 200, f"clean-up: could not delete the record\n{describe(deleted)}"
