"""Record calls of one object under test for the section 4 and 5 tests: each call checked, every record removed.

`records_of(subject)` opens a transcript and yields a `RecordCalls` on that `ObjectUnderTest`; every call
it makes checks the status and the envelope (section 1) and, for a record, its id, slug and timestamps.
The records it created are deleted again when the block ends, so a module-scoped object stays empty
between examples.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from crm_contract.contract_tests.checks import error_of, fail, parse_timestamp, record_of
from crm_contract.contract_tests.subjects import ObjectUnderTest
from crm_contract.strategies import (
    AttributeDefinition,
    ObjectDefinition,
    ObjectSchema,
    run_id,
    same_value,
    value_strategy,
)
from hypothesis import strategies as st

from crm_contract.kit.client import Exchange

__all__ = ["RecordCalls", "bodies", "definition", "fresh_key", "records_of", "stamps"]

Record = dict[str, Any]


def fresh_key() -> str:
    """A matching value no record holds yet: the run id and random hex (from the system, not Hypothesis)."""
    return f"{run_id()}-{secrets.token_hex(8)}"


def definition(purpose: str, *attributes: AttributeDefinition) -> ObjectDefinition:
    """A run-made object's definition: slug `<run id>-<purpose>-<hex>`."""
    slug = f"{run_id()}-{purpose}-{secrets.token_hex(3)}".lower().replace("_", "-")
    return ObjectDefinition(slug, f"Contract {slug}", f"Contract {slug}s", attributes)


def bodies(schema: ObjectSchema, *, exclude: tuple[str, ...] = ()) -> st.SearchStrategy[Record]:
    """Record bodies holding any subset of the object's writable attributes, with accepted values.

    Values whose round trip Zeeg documents, under every profile: the record calls are checked here, the
    reference ranges of values in section 4's tests. Shrinks towards the empty body.
    """
    writable = [attr for attr in schema.attributes
                if attr.supported and attr.key not in exclude and (attr.type != "select" or attr.option_ids)]
    return st.fixed_dictionaries({}, optional={attr.key: value_strategy(attr, documented_only=True)
                                               for attr in writable})


def stamps(record: Record, log: list[Exchange]) -> tuple[datetime, datetime]:
    """`createdAt` and `updatedAt` of a record, each an ISO 8601 timestamp with an offset (section 1)."""
    return (parse_timestamp(record.get("createdAt"), "createdAt", log),
            parse_timestamp(record.get("updatedAt"), "updatedAt", log))


class RecordCalls:
    """Calls on the records of one object under test, each checked for its status and envelope, in one transcript."""

    def __init__(self, subject: ObjectUnderTest, log: list[Exchange]) -> None:
        self.subject = subject
        self.api = subject.api
        self.schema = subject.schema
        self.log = log
        self.expect = subject.expect
        self.path = subject.path
        self.made: list[str] = []

    def _record(self, response: Any, status: int, rule: str) -> Record:
        record = record_of(response, status, rule, self.log, self.schema.slug)
        stamps(record, self.log)
        return record

    def _track(self, response: Any) -> Any:
        """Note the id of a record a POST or PUT made (even a wrong one), so that `cleanup` removes it."""
        if response.is_success:
            try:
                made = response.json()["record"]["id"]
            except (ValueError, KeyError, TypeError):
                return response
            if isinstance(made, str) and made not in self.made:
                self.made.append(made)
        return response

    def create(self, body: Record, rule: str = "section 5") -> Record:
        known = set(self.made)
        record = self._record(self._track(self.api.post(self.path, json=body)), 201, rule)
        if record["id"] in known:
            fail(rule, f"POST answered the id {record['id']} of a record it created before", self.log)
        return record

    def get(self, record_id: str, rule: str = "section 5") -> Record:
        return self._record(self.api.get(f"{self.path}/{record_id}"), 200, rule)

    def patch(self, record_id: str, body: Record, rule: str = "section 5") -> Record:
        record = self._record(self.api.patch(f"{self.path}/{record_id}", json=body), 200, rule)
        if record["id"] != record_id:
            fail(rule, f"PATCH of {record_id} answered the record {record['id']}", self.log)
        return record

    def upsert(self, matching: str, body: Record, status: int, rule: str) -> Record:
        """`PUT /crm/{slug}?matchingAttribute=…`, which must answer `status` (201 created, 200 updated)."""
        response = self.api.put(self.path, json=body, params={"matchingAttribute": matching})
        return self._record(self._track(response), status, rule)

    def refused(self, method: str, body: Any, rule: str, *, record_id: str | None = None,
                params: dict[str, Any] | None = None, status: int = 400, part: str | None = None) -> None:
        """A call that must answer the error `status`, and the error envelope where that part holds.

        `part`: the part of the contract (`expectations.PARTS`) that makes the exact status a reference
        choice, if any; where it does not hold, any 4xx will do.
        """
        path = self.path if record_id is None else f"{self.path}/{record_id}"
        response = self.api.request(method, path, json=body, params=params)
        if method in ("POST", "PUT"):
            self._track(response)
        error_of(response, status, rule, self.log, expect=self.expect, part=part)

    def page(self, rule: str, **params: Any) -> dict[str, Any]:
        """One page of the record list: the envelope with `collection` and `pagination` [R]."""
        return self.subject.page(rule, self.log, **params)

    def listing(self, rule: str = "section 5") -> list[Record]:
        """Every record of the object, page by page, in list order [R], each page's envelope checked."""
        return self.subject.records(rule, self.log, checked=True)

    def ids(self, rule: str = "section 5") -> list[Any]:
        return [item.get("id") for item in self.listing(rule)]

    def holds(self, record: Record, key: str, sent: Any, rule: str) -> None:
        """`record` holds `sent` in `key`, as section 4 defines the round trip (`same_value`)."""
        attr_type = self.schema.attribute(key).type
        got = (record.get("attributes") or {}).get(key)
        if not same_value(attr_type, sent, got):
            fail(rule, f"record {record.get('id')}: {key!r} ({attr_type}) is {got!r}, but {sent!r} was sent",
                 self.log)

    def unchanged(self, before: Record, rule: str, what: str) -> None:
        """The record reads back exactly as `before` (attributes and timestamps) after a refused call."""
        after = self.get(before["id"], rule)
        if after != before:
            changed = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
            fail(rule, f"{what} changed the record ({', '.join(changed)} differ)", self.log)

    def cleanup(self) -> None:
        self.subject.delete_records(self.made)
        self.made.clear()


@contextmanager
def records_of(subject: ObjectUnderTest) -> Iterator[RecordCalls]:
    """`RecordCalls` on `subject` in a fresh transcript; the records made in the block are deleted after it."""
    with subject.api.exchanges() as log:
        calls = RecordCalls(subject, log)
        try:
            yield calls
        finally:
            calls.cleanup()
