"""Section 5: the records of a custom object, by POST, GET, PATCH, DELETE and the paged list.

The tests work on a run-made object with an attribute of every supported type and a text `key` for
asserts; the list test makes a fresh object per example, so its list holds only the records it made.
Every answer is checked for its envelope (`success`, `status` equal to the HTTP status) and every
record for a UUID id, its object's slug and ISO 8601 timestamps with an offset (section 1).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from crm_contract.contract_tests.calls import RecordCalls, bodies, definition, fresh_key, records_of, stamps
from crm_contract.contract_tests.checks import envelope_of, error_of, fail
from crm_contract.contract_tests.subjects import ObjectUnderTest
from crm_contract.strategies import (
    SUPPORTED_TYPES,
    AttributeDefinition,
    ObjectDefinition,
    ObjectSchema,
    run_id,
    same_value,
    type_label,
    typed_attribute,
)
from hypothesis import given
from hypothesis import strategies as st

from crm_contract.kit.client import ContractClient
from crm_contract.kit.target import Target


def records_definition() -> ObjectDefinition:
    return definition("records", AttributeDefinition("Key", "text"),
                      *(typed_attribute(type_label(attr_type), attr_type) for attr_type in sorted(SUPPORTED_TYPES)))


@pytest.fixture(scope="module")
def records_object(object_under_test: Callable[[ObjectDefinition], ObjectUnderTest]) -> Iterator[ObjectUnderTest]:
    made = object_under_test(records_definition())
    yield made
    made.release()


def attributes_of(record: dict[str, Any]) -> dict[str, Any]:
    return record.get("attributes") or {}


def agrees(calls: RecordCalls, record: dict[str, Any], expected: dict[str, Any], rule: str) -> None:
    """Every attribute holds what was sent, null where nothing was (a create: section 5 [D])."""
    for attr in calls.schema.attributes:
        calls.holds(record, attr.key, expected.get(attr.key), rule)


@pytest.mark.rule("section 5")
@pytest.mark.documented
@given(data=st.data())
def test_post_creates_a_record_with_a_new_id_and_omitted_attributes_null(
    target: Target, api: ContractClient, records_object: ObjectUnderTest, data: st.DataObject
) -> None:
    schema = records_object.schema
    body = data.draw(bodies(schema), label="body")
    rule = "section 5: POST creates a record (201) with a new UUID, omitted attributes null"
    with records_of(records_object) as calls:
        made = calls.create(body, rule)
        again = calls.create(body, rule)  # no attribute is unique: the same body makes a second record
        if again["id"] == made["id"]:
            fail(rule, "two POSTs answered the same id", calls.log)
        for key in set(schema.keys) - set(body):
            if attributes_of(made).get(key) is not None:
                fail(rule, f"the omitted attribute {key!r} is {attributes_of(made)[key]!r}, not null", calls.log)
        fetched = calls.get(made["id"], "section 5: GET answers the record")
        if fetched["id"] != made["id"]:
            fail("section 5", f"GET of {made['id']} answered the record {fetched['id']}", calls.log)
        agrees(calls, made, body, "section 5: the new record holds what was sent")
        agrees(calls, fetched, body, "section 5: GET answers the record as created")
        if not target.expect.holds("timestamps"):
            return
        created, updated = stamps(made, calls.log)
        if created != updated:
            fail("section 5", "on create updatedAt must equal createdAt", calls.log)
        if stamps(fetched, calls.log) != (created, updated):
            fail("section 5", "GET answers other timestamps than the create did", calls.log)


@pytest.mark.rule("section 5")
@pytest.mark.documented
@given(data=st.data())
def test_patch_changes_only_the_attributes_it_sends(
    target: Target, api: ContractClient, records_object: ObjectUnderTest, data: st.DataObject
) -> None:
    schema = records_object.schema
    first = data.draw(bodies(schema), label="created with")
    change = data.draw(bodies(schema), label="patch")
    rule = "section 5: PATCH changes only the sent attributes"
    with records_of(records_object) as calls:
        made = calls.create(first, "section 5 (set-up)")
        before = calls.get(made["id"])
        patched = calls.patch(made["id"], change, rule)
        after = calls.get(made["id"], rule)
        for record in (patched, after):
            for attr in schema.attributes:
                if attr.key in change:
                    continue
                was, now = attributes_of(before).get(attr.key), attributes_of(record).get(attr.key)
                if not same_value(attr.type, was, now):
                    fail(rule, f"{attr.key!r} was not sent but changed from {was!r} to {now!r}", calls.log)
        expected = {**first, **change}
        agrees(calls, patched, expected, rule)
        agrees(calls, after, expected, rule)


@pytest.mark.rule("section 5")
@pytest.mark.reference
@given(data=st.data(), kinds=st.lists(st.sampled_from(["PATCH", "PUT"]), min_size=1, max_size=5))
def test_writes_keep_createdAt_and_never_move_updatedAt_backward(
    target: Target, api: ContractClient, records_object: ObjectUnderTest, data: st.DataObject, kinds: list[str]
) -> None:
    schema, match = records_object.schema, records_object.key("Key")
    rule = "section 5: every write keeps createdAt and moves updatedAt forward or leaves it equal"
    key = fresh_key()
    with records_of(records_object) as calls:
        made = calls.create({match: key}, "section 5 (set-up)")
        created, last = stamps(made, calls.log)
        for n, kind in enumerate(kinds):
            body = data.draw(bodies(schema, exclude=(match,)), label=f"write {n}")
            if kind == "PATCH":
                written = calls.patch(made["id"], body, rule)
            else:
                written = calls.upsert(match, {**body, match: key}, 200, rule)
            for record in (written, calls.get(made["id"], rule)):
                if record["id"] != made["id"]:
                    fail(rule, f"the {kind} answered another record ({record['id']})", calls.log)
                created_now, updated_now = stamps(record, calls.log)
                if created_now != created:
                    fail(rule, f"the {kind} changed createdAt from {created} to {created_now}", calls.log)
                if updated_now < last:
                    fail(rule, f"the {kind} moved updatedAt back from {last} to {updated_now}", calls.log)
                last = updated_now


@pytest.mark.rule("section 5")
@pytest.mark.documented
def test_delete_answers_200_then_get_and_delete_answer_404(
    target: Target, api: ContractClient, records_object: ObjectUnderTest
) -> None:
    match = records_object.key("Key")
    with records_of(records_object) as calls:
        doomed = calls.create({match: fresh_key()}, "section 5 (set-up)")
        kept = calls.get(calls.create({match: fresh_key()}, "section 5 (set-up)")["id"])
        path = f"{calls.path}/{doomed['id']}"
        body = envelope_of(api.delete(path), 200, "section 5: DELETE answers 200", calls.log)
        if not isinstance(body.get("message"), str):
            fail("section 5", "the delete envelope needs a 'message' string", calls.log)
        error_of(api.get(path), 404, "section 5: GET of a deleted record is 404", calls.log, expect=target.expect)
        error_of(api.delete(path), 404, "section 5: DELETE of a deleted record is 404", calls.log,
                 expect=target.expect)
        calls.refused("PATCH", {match: "x"}, "section 5: PATCH of an unknown id is 404", record_id=doomed["id"],
                      status=404, part="unknown-record-status")
        if (still := calls.get(kept["id"], "section 5: DELETE removes only its record")) != kept:
            fail("section 5", f"deleting another record changed this one: {still}", calls.log)


@pytest.mark.rule("section 5", "A15")
@pytest.mark.reference
def test_unknown_record_or_object_is_404(target: Target, api: ContractClient,
                                         records_object: ObjectUnderTest) -> None:
    match = records_object.key("Key")
    missing = f"{run_id()}-no-such-object-{uuid.uuid4().hex[:6]}"
    with records_of(records_object) as calls:
        for method in ("GET", "PATCH", "DELETE"):
            body = {match: "x"} if method == "PATCH" else None
            calls.refused(method, body, f"section 5: {method} of an unknown record id is 404",
                          record_id=str(uuid.uuid4()), status=404)
        unknown = RecordCalls(replace(records_object, schema=ObjectSchema(missing)), calls.log)
        unknown.refused("GET", None, "section 5: an unknown object is 404", status=404)
        unknown.refused("POST", {match: "x"}, "section 5: POST to an unknown object is 404", status=404)
        unknown.refused("PUT", {match: "x"}, "A15: an assert into an unknown object is 404", status=404,
                        params={"matchingAttribute": match})


@pytest.mark.rule("section 5")
@pytest.mark.reference
@pytest.mark.parametrize("params", [{"count": 0}, {"count": 101}, {"count": -1}, {"page": 0}, {"page": -1}],
                         ids=["count-0", "count-101", "count-negative", "page-0", "page-negative"])
def test_out_of_range_paging_is_400(target: Target, api: ContractClient, records_object: ObjectUnderTest,
                                    params: dict[str, int]) -> None:
    with records_of(records_object) as calls:
        response = api.get(calls.path, params=params)
        error_of(response, 400, f"section 5: the list with {params} is out of range (400)", calls.log,
                 expect=target.expect)


# The list ------------------------------------------------------------------------------------------------

def check_page(calls: RecordCalls, body: dict[str, Any], *, page: int, per_page: int, total: int) -> None:
    """`pagination` of one page: total, count, totalPages and currentPage as section 5 defines them [R]."""
    on_page = max(0, min(per_page, total - (page - 1) * per_page))
    expected = {"total": total, "count": on_page, "totalPages": math.ceil(total / per_page), "currentPage": page}
    pagination = body["pagination"]
    wrong = {name: pagination.get(name) for name, value in expected.items() if pagination.get(name) != value}
    if wrong or len(body["collection"]) != on_page:
        fail("section 5", f"page {page} of {total} records, {per_page} a page: expected {expected} and "
             f"{on_page} records, got {pagination} and {len(body['collection'])} records", calls.log)
    for link in ("previousPage", "nextPage"):
        if link not in pagination or not isinstance(pagination[link], str | None):
            fail("section 5", f"pagination.{link} must be a relative path or null", calls.log)
    for record in body["collection"]:
        stamps(record, calls.log)


@st.composite
def list_shapes(draw: st.DrawFn) -> tuple[int, int | None]:
    """A number of records and a page size (None: the default 20), often a full last page, or one over or under.

    Shrinks towards no records and the default page size.
    """
    count = draw(st.one_of(st.none(), st.integers(1, 6), st.integers(7, 100)), label="count")
    per_page = 20 if count is None else count
    full = draw(st.integers(0, max(1, 30 // per_page)), label="full pages")
    rest = draw(st.one_of(st.sampled_from([0, 1, per_page - 1]), st.integers(0, per_page - 1)), label="rest")
    return min(full * per_page + rest, 60), count


@pytest.mark.rule("section 5")
@pytest.mark.reference
@given(shape=list_shapes())
def test_the_list_pages_through_every_record_once_oldest_first(
    object_under_test: Callable[[ObjectDefinition], ObjectUnderTest], shape: tuple[int, int | None]
) -> None:
    """Pages of `count` (default 20) hold every record exactly once, oldest first; past the end is empty."""
    size, count = shape
    obj = object_under_test(definition("list", AttributeDefinition("Name", "text")))
    try:
        with obj.api.exchanges() as log:  # no record clean-up: deleting the object removes them
            calls = RecordCalls(obj, log)
            made = [calls.create({obj.key("Name"): f"record {n}"}, "section 5 (set-up)")["id"]
                    for n in range(size)]
            # The drawn page size, then (when there are records) all of them on exactly one full page.
            for size_of_page in [count, *([size] if 1 <= size <= 100 and size != count else [])]:
                per_page = 20 if size_of_page is None else size_of_page
                listed: list[str] = []
                for page in range(1, math.ceil(size / per_page) + 2):  # one page past the end
                    params = {"page": page} if size_of_page is None else {"page": page, "count": size_of_page}
                    body = calls.page("section 5", **params)
                    check_page(calls, body, page=page, per_page=per_page, total=size)
                    listed.extend(item.get("id") for item in body["collection"])
                if listed != made:
                    fail("section 5", f"pages of {per_page} list {listed}, but the records made, oldest first, are "
                         f"{made}", log)
    finally:
        obj.release()
