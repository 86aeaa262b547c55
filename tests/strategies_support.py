"""Helpers for the tests of `strategies/` against the reference server.

An object with one attribute of every supported type (plus a unique text attribute to match on), its
schema as `from_object_schema` reads it back, and a plain-Python model of the records written through
the assert endpoint, so that a repeated matching value is expected to update, not to create.
Test modules import this file by name (`tests/` is on `sys.path` under pytest's default import mode).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from crm_contract.strategies import ObjectSchema, from_object_schema, same_value

Api = Any  # the `api` fixtures' class lives in tests/conftest.py, which test modules cannot import

OPTIONS = [{"value": "Red", "color": "#f00"}, {"value": "Green", "color": "#0f0"},
           {"value": "Blue", "color": "#00f"}]
MATCHING = "sku"
EVERY_TYPE = [
    {"label": "Sku", "type": "text", "isUnique": True},  # the matching attribute
    {"label": "Notes", "type": "text"},
    {"label": "Phone", "type": "phone_number"},
    {"label": "Amount", "type": "number"},
    {"label": "Active", "type": "checkbox"},
    {"label": "Due Date", "type": "date"},
    {"label": "Starts At", "type": "datetime"},
    {"label": "Stage", "type": "select", "options": OPTIONS},
    {"label": "Tags", "type": "multiselect", "options": OPTIONS},
]
#: The (non-unique) attribute of each supported type on the every-type object.
KEY_OF_TYPE = {"text": "notes", "phone_number": "phone", "number": "amount", "checkbox": "active",
               "date": "due_date", "datetime": "starts_at", "select": "stage", "multiselect": "tags"}


def every_type_object(api: Api) -> tuple[dict[str, Any], ObjectSchema]:
    """Create a fresh every-type object; return it as `GET /crm/objects/{slug}` shows it, and its schema."""
    slug = api.new_object(*EVERY_TYPE)
    raw = api.object(slug)
    return raw, from_object_schema(raw)


def assert_same_attributes(schema: ObjectSchema, expected: dict[str, Any], record: dict[str, Any],
                           context: str) -> None:
    """Every attribute of `record` is the expected value per `same_value` (absent from `expected`: null)."""
    received = record["attributes"]
    assert set(received) == set(schema.keys), f"section 5: record attributes {sorted(received)}: {context}"
    for attr in schema.attributes:
        sent = expected.get(attr.key)
        assert same_value(attr.type, sent, received[attr.key]), (
            f"section 4 round trip: {attr.key} ({attr.type}) sent {sent!r}, read back "
            f"{received[attr.key]!r}: {context}")


@dataclass
class AssertModel:
    """What the records written through `PUT ?matchingAttribute=` should hold, by matching value.

    Values are kept as sent (or as first read back): `same_value` compares them with what the server
    returns later, so a datetime in another offset or a reordered multiselect still counts as equal.
    """

    api: Api
    schema: ObjectSchema
    matching: str = MATCHING
    records: dict[Any, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)

    def seed(self, *keys: Any) -> list[Any]:
        """Create one record per key (only the matching value set) and return the keys."""
        for key in keys:
            self.put({self.matching: key})
        return list(keys)

    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Assert `body`; check 201/200, the id, and every attribute in the response and in a fresh GET."""
        key = body[self.matching]
        known = self.records.get(key)
        resp = self.api.upsert(self.schema.slug, self.matching, body)
        status, rule = (200, "A2") if known else (201, "A1")
        record = self.api.ok(resp, status, "record", f"{rule}: accepted payload")
        self.statuses[status] += 1
        context = self.api.describe(resp)
        expected = {**(known[1] if known else {}), **body}  # A4: omitted keep their values, or are null
        if known:
            assert record["id"] == known[0], f"A2: the update must keep the id: {context}"
        assert_same_attributes(self.schema, expected, record, context)
        assert_same_attributes(self.schema, expected, self.api.record(self.schema.slug, record["id"]), context)
        self.records[key] = (record["id"], expected)
        return record
