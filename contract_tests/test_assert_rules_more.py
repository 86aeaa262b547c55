"""The assert rules A8–A15 (A11, concurrency, in `test_concurrency`); A1–A7 are in `test_assert_rules`.

Same shape as there: one module-scoped object per kind of matching attribute (unique or not), records
reasoned about only by the example that made them, `documented` tests for what Zeeg documents (with
the reference choices that go with them checked under the strict profile only), `reference` tests for
reference choices [R].
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from crm_contract.contract_tests.checks import error_of, fail, record_agrees, record_of
from crm_contract.contract_tests.expectations import Expectations
from crm_contract.contract_tests.rule_support import Arena, Arenas, Joined, not_run
from crm_contract.strategies import SUPPORTED_TYPES, UNIQUE_TYPES, invalid_payloads, rejected_values, run_id
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_contract.kit.client import ContractClient, Exchange
from crm_contract.kit.target import Target
from crm_contract.kit.workspace import Workspace

UNKNOWN_TOKEN = f"{run_id()}-unknown-{secrets.token_hex(8)}"
UNIQUENESS = pytest.mark.parametrize("unique", [True, False], ids=["unique-key", "non-unique-key"])


@pytest.fixture(scope="module")
def arenas(target: Target, api: ContractClient, workspace: Workspace) -> Arenas:
    return Arenas(target, api, workspace)


def merged(arena: Arena, first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """What a record created from `first` and updated with `second` holds (A4)."""
    return {key: second[key] if key in second else first.get(key) for key in arena.schema.keys}


# A8 -------------------------------------------------------------------------------------------------

@pytest.mark.rule("A8", "A10")
@pytest.mark.documented
@UNIQUENESS
@given(data=st.data(), onto_existing=st.booleans())
def test_a8_a_unique_value_held_by_another_record_is_rejected(arenas: Arenas, unique: bool, data: st.DataObject,
                                                              onto_existing: bool) -> None:
    arena = arenas.get(unique=unique)
    attr = data.draw(st.sampled_from(arena.other_unique()), label="unique attribute")
    holder_body = data.draw(arena.bodies(full=True), label="body of the holder")
    taker_key = data.draw(arena.keys(), label="key of the other record")
    taker_body = data.draw(arena.bodies(keys=st.just(taker_key), full=False), label="body of the other record")
    taken = {**data.draw(arena.bodies(keys=st.just(taker_key), full=False), label="colliding body"),
             attr.key: holder_body[attr.key]}
    with arena.api.exchanges() as log:
        holder = arena.created(arena.assert_record(holder_body), "A1", log)
        taker = arena.created(arena.assert_record(taker_body), "A1", log) if onto_existing else None
        response = arena.assert_record(taken)
        if response.status_code != 400:
            fail("A8", f"{attr.key!r} is unique and {holder['id']} holds {holder_body[attr.key]!r}; asserting it "
                 f"onto {'another record' if taker else 'a new record'} answered {response.status_code}, "
                 "expected 400", log)
        error_of(response, 400, "A8", log, expect=arena.expect)
        if arena.expect.holds("A10"):
            arena.unchanged([holder, *([taker] if taker else [])], "A10", log, what="a rejected assert (A8)")
            if taker is None:
                arena.nothing_created(taker_body, "A10", log)


@pytest.mark.rule("A8")
@pytest.mark.documented
@UNIQUENESS
@given(data=st.data())
def test_a8_reasserting_a_records_own_unique_value_is_never_an_error(arenas: Arenas, unique: bool,
                                                                     data: st.DataObject) -> None:
    arena = arenas.get(unique=unique)
    attrs = arena.other_unique()
    key = data.draw(arena.keys(), label="key")
    first = data.draw(arena.bodies(keys=st.just(key), full=True), label="first body")
    own = data.draw(st.lists(st.sampled_from(attrs), min_size=1, unique=True), label="own unique attributes")
    second = {**data.draw(arena.bodies(keys=st.just(key), full=False), label="second body"),
              **{attr.key: first[attr.key] for attr in own}}
    with arena.api.exchanges() as log:
        made = arena.created(arena.assert_record(first), "A1", log)
        response = arena.assert_record(second)
        if response.status_code != 200:
            fail("A8", f"re-asserting the record's own unique value(s) of {[a.key for a in own]} answered "
                 f"{response.status_code}; it is never an error (expected 200)", log)
        updated = record_of(response, 200, "A8", log, arena.slug)
        if updated["id"] != made["id"]:
            fail("A8", f"the assert updated {updated['id']}, not {made['id']}", log)
        record_agrees(updated, merged(arena, first, second), arena.schema, "A8", log, expect=arena.expect)


# A9 -------------------------------------------------------------------------------------------------

def duplicates(arena: Arena, data: st.DataObject, log: list[Exchange]) -> tuple[Any, list[dict[str, Any]]]:
    """Two to four records holding one fresh key, oldest first: the first by assert or POST, then POSTs."""
    key = data.draw(arena.keys(), label="shared key")
    count = data.draw(st.integers(2, 4), label="records holding it")
    first_by_assert = data.draw(st.booleans(), label="first made by assert")
    made = []
    for i in range(count):
        body = data.draw(arena.bodies(keys=st.just(key), full=False), label=f"body {i}")
        if i == 0 and first_by_assert:
            made.append(arena.created(arena.assert_record(body), "A1", log))
        else:
            made.append(arena.created(arena.api.post(arena.path, json=body), "A9", log))
    return key, made


@pytest.mark.rule("A9")
@pytest.mark.documented
@given(data=st.data())
def test_a9_exactly_one_of_several_matches_is_updated_and_the_others_are_untouched(arenas: Arenas,
                                                                                   data: st.DataObject) -> None:
    arena = arenas.get(unique=False)
    with arena.api.exchanges() as log:
        key, made = duplicates(arena, data, log)
        body = data.draw(arena.bodies(keys=st.just(key), full=False), label="asserted body")
        updated = record_of(arena.assert_record(body), 200, "A9", log, arena.slug)
        ids = [record["id"] for record in made]
        if updated["id"] not in ids:
            fail("A9", f"{len(made)} records hold {key!r} ({ids}); the assert answered {updated['id']}, none of them",
                 log)
        others = [record for record in made if record["id"] != updated["id"]]
        arena.unchanged(others, "A9", log, what=f"the assert of {key!r} changed a record it did not answer with")


@pytest.mark.rule("A9")
@pytest.mark.reference
@given(data=st.data())
def test_a9_the_oldest_of_several_matches_is_updated_and_the_others_are_untouched(arenas: Arenas,
                                                                                  data: st.DataObject) -> None:
    arena = arenas.get(unique=False)
    with arena.api.exchanges() as log:
        key, made = duplicates(arena, data, log)
        body = data.draw(arena.bodies(keys=st.just(key), full=False), label="asserted body")
        for attempt in range(2):  # and again: the oldest stays the first
            updated = record_of(arena.assert_record(body), 200, "A9", log, arena.slug)
            if updated["id"] != made[0]["id"]:  # one of them (A9 [D]), but not the oldest (A9 [R])
                rule = Expectations.label("A9-oldest") if updated["id"] in {r["id"] for r in made} else "A9"
                fail(rule, f"{len(made)} records hold {key!r}; assert {attempt + 1} updated {updated['id']}, not the "
                     f"oldest, {made[0]['id']}", log)
        record_agrees(arena.fetch(made[0]["id"], "A9", log), merged(arena, made[0]["attributes"], body),
                      arena.schema, "A9", log)
        arena.unchanged(made[1:], "A9", log, what=f"the assert of {key!r} changed a record other than the oldest")


# A10 ------------------------------------------------------------------------------------------------

PROBLEMS = ("a rejected value", "null on a required attribute", "an unknown attribute", "a system attribute")


@pytest.mark.rule("A10")
@pytest.mark.reference
@given(data=st.data(), existing=st.booleans())
def test_a10_a_rejected_assert_changes_nothing(arenas: Arenas, data: st.DataObject, existing: bool) -> None:
    arena = arenas.get()
    required = [a.key for a in arena.schema.attributes if a.is_required and a.key != arena.matching]
    problems = [p for p in PROBLEMS if p != "null on a required attribute" or required]
    problem = data.draw(st.sampled_from(problems), label="problem")
    key = data.draw(arena.keys(), label="key")
    good = data.draw(arena.bodies(keys=st.just(key), full=False), label="valid body")
    if problem == "a rejected value":
        bad = data.draw(invalid_payloads(arena.schema, arena.matching, keys=st.just(key), prefix=arena.fresh_prefix()),
                        label="invalid body")
        body, detail = bad.body, f"{bad.key} = {bad.rejected.value!r}: {bad.rejected.reason}"
    elif problem == "null on a required attribute":
        null_key = data.draw(st.sampled_from(required), label="required attribute")
        body, detail = {**good, null_key: None}, f"{null_key} is required"
    else:
        extra = f"{run_id()}_no_such_attribute" if problem == "an unknown attribute" else \
            data.draw(st.sampled_from(["id", "created_at", "updated_at"]), label="system attribute")
        body, detail = {**good, extra: "x"}, f"{extra} cannot be written"
    with arena.api.exchanges() as log:
        known = arena.created(arena.assert_record(good), "A1", log) if existing else None
        response = arena.assert_record(body)
        if response.status_code != 400:
            fail("A14" if problem == "a rejected value" else "section 4", f"{problem} ({detail}) answered "
                 f"{response.status_code}, expected 400", log)
        error_of(response, 400, "A10", log, expect=arena.expect)
        arena.rejection_changed_nothing(known, good, log, f"a rejected assert ({problem}: {detail})")


# A12 ------------------------------------------------------------------------------------------------

@pytest.mark.rule("A12")
@pytest.mark.reference
@given(data=st.data())
def test_a12_the_value_of_a_deleted_record_creates_a_new_record(arenas: Arenas, data: st.DataObject) -> None:
    arena = arenas.get()
    key = data.draw(arena.keys(), label="key")
    first = data.draw(arena.bodies(keys=st.just(key), full=True), label="first body")
    second = data.draw(arena.bodies(keys=st.just(key), full=False), label="body after the delete")
    with arena.api.exchanges() as log:
        gone = arena.created(arena.assert_record(first), "A1", log)
        deleted = arena.api.delete(f"{arena.path}/{gone['id']}")
        if deleted.status_code != 200:
            fail("section 5", f"DELETE of the record answered {deleted.status_code}", log)
        arena.workspace.forget(arena.slug, gone["id"])
        response = arena.assert_record(second)
        if response.status_code != 201:
            fail("A12", f"the record holding {key!r} was deleted; asserting {key!r} answered "
                 f"{response.status_code}, expected 201 (a new record)", log)
        new = arena.created(response, "A12", log)  # `created` also rejects the deleted record's id
        record_agrees(new, {k: second.get(k) for k in arena.schema.keys}, arena.schema, "A12", log)
        if (status := arena.api.get(f"{arena.path}/{gone['id']}").status_code) != 404:
            fail("A12", f"the deleted record {gone['id']} answered GET with {status}, expected 404", log)


# A13 ------------------------------------------------------------------------------------------------

@pytest.mark.rule("A13")
@pytest.mark.reference
@given(data=st.data(), other_first=st.booleans())
def test_a13_records_of_another_object_never_match(arenas: Arenas, data: st.DataObject, other_first: bool) -> None:
    twin, arena = arenas.twin(), arenas.get()
    key = data.draw(arena.keys(), label="key, in both objects")
    bodies = [data.draw(side.bodies(keys=st.just(key), full=False), label=f"body for {side.slug}")
              for side in (arena, twin)]
    sides = [(arena, bodies[0]), (twin, bodies[1])]
    if other_first:
        sides.reverse()
    with arena.api.exchanges() as log:
        (first_side, first_body), (second_side, second_body) = sides
        first = first_side.created(first_side.assert_record(first_body), "A1", log)
        response = second_side.assert_record(second_body)
        if response.status_code != 201:
            fail("A13", f"{key!r} is held only by a record of {first_side.slug}; asserting it in {second_side.slug} "
                 f"answered {response.status_code}, expected 201", log)
        second = second_side.created(response, "A13", log)
        first_side.unchanged([first], "A13", log, what=f"asserting {key!r} in {second_side.slug} changed this record")
        for side, body, record in ((first_side, first_body, first), (second_side, second_body, second)):
            again = record_of(side.assert_record(body), 200, "A13", log, side.slug)
            if again["id"] != record["id"]:
                fail("A13", f"asserting {key!r} in {side.slug} updated {again['id']}, not its own {record['id']}", log)


# A14 ------------------------------------------------------------------------------------------------

TYPES = [pytest.param(t, marks=pytest.mark.reference) if t == "datetime" else t for t in sorted(SUPPORTED_TYPES)]


@pytest.mark.rule("A14")
@pytest.mark.documented
@pytest.mark.parametrize("attr_type", TYPES)
@settings(suppress_health_check=[HealthCheck.filter_too_much])  # documented_only filters most number rejections
@given(data=st.data())
def test_a14_a_value_of_the_wrong_type_or_length_is_rejected(arenas: Arenas, attr_type: str,
                                                             data: st.DataObject) -> None:
    """Every datetime rejection is a reference choice, so that case runs under the strict profile only."""
    arena = arenas.get()
    candidates = [a for a in arena.schema.of_type(attr_type) if a.key != arena.matching] or \
        list(arena.schema.of_type(attr_type))
    if not candidates:
        not_run(f"needs a {attr_type} attribute; {arena.slug!r} has none")
    attr = data.draw(st.sampled_from(candidates), label="attribute")
    body = data.draw(arena.bodies(full=False), label="valid body")
    documented_only = arena.expect.documented_only
    bad = data.draw(rejected_values(attr_type, option_ids=attr.option_ids, documented_only=documented_only),
                    label="rejected value")
    with arena.api.exchanges() as log:
        response = arena.assert_record({**body, attr.key: bad.value})
        if response.status_code != 400:
            fail("A14", f"{attr.key!r} ({attr_type}) = {bad.value!r} ({bad.reason}) answered {response.status_code}, "
                 "expected 400", log)
        error_of(response, 400, "A14", log, expect=arena.expect)
        if arena.expect.holds("A10") and attr.key != arena.matching:
            arena.nothing_created(body, "A10", log)


@pytest.mark.rule("A14")
@pytest.mark.documented
@pytest.mark.parametrize("key_type", sorted(UNIQUE_TYPES))
@settings(suppress_health_check=[HealthCheck.filter_too_much])  # as above
@given(data=st.data())
def test_a14_the_matching_value_is_validated_too(arenas: Arenas, key_type: str, data: st.DataObject) -> None:
    arena = arenas.get()
    matching = arena.matching_of_type(key_type)
    body = data.draw(arena.bodies(matching=matching, full=False), label="valid body")
    bad = data.draw(rejected_values(key_type, documented_only=arena.expect.documented_only),
                    label="rejected matching value")
    with arena.api.exchanges() as log:
        response = arena.assert_record({**body, matching: bad.value}, matching)
        if response.status_code != 400:
            fail("A14", f"the matching value {matching!r} = {bad.value!r} ({bad.reason}) answered "
                 f"{response.status_code}, expected 400", log)
        error_of(response, 400, "A14", log, expect=arena.expect)


# A15 ------------------------------------------------------------------------------------------------

class Callers:
    """Clients of the target with another token, or none, made once per module (keep-alive)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._made: dict[tuple[str | None, bool], tuple[httpx.Client, ContractClient]] = {}

    def get(self, token: str | None = None, anonymous: bool = False) -> ContractClient:
        if (token, anonymous) not in self._made:
            http = self.target.client(token=token, anonymous=anonymous)
            self._made[token, anonymous] = (http, ContractClient(http))
        return self._made[token, anonymous][1]

    def close(self) -> None:
        for http, _ in self._made.values():
            http.close()


@pytest.fixture(scope="module")
def callers(target: Target) -> Iterator[Callers]:
    made = Callers(target)
    yield made
    made.close()


def refused(arena: Arena, caller: ContractClient, data: st.DataObject, status: int, who: str, *,
            slug: str | None = None, part: str | None = None) -> None:
    """An otherwise valid assert sent by `caller` (another token, none) or to the object `slug` answers `status`.

    `part`: what makes the exact status a reference choice, if any (then any refusal may do).
    """
    body = data.draw(arena.bodies(full=False), label="body")
    with caller.exchanges() as sent:
        response = caller.put(f"/crm/{slug or arena.slug}", json=body, params={"matchingAttribute": arena.matching})
    with arena.api.exchanges() as after:
        log = Joined(sent, after)
        if not arena.expect.status_ok(part, status, response.status_code):
            fail("A15", f"an assert {who} answered {response.status_code}, expected {status}", log)
        error_of(response, status, "A15", log, expect=arena.expect, part=part)
        if slug is None and (arena.expect.holds("A10") or part is not None):
            # the refused body, sent with the write token, must create: the refusal changed nothing (A10
            # [R]; for a write without crm:write, the scope rule itself [D])
            arena.nothing_created(body, "A10" if part is None else "A15", log)


@pytest.mark.rule("A15")
@pytest.mark.reference
@given(data=st.data())
def test_a15_an_unknown_object_is_404(arenas: Arenas, data: st.DataObject) -> None:
    arena = arenas.get()
    slug = f"{run_id()}-no-such-object-{secrets.token_hex(4)}"
    refused(arena, arena.api, data, 404, f"to the object {slug!r}, which does not exist", slug=slug)


@pytest.mark.rule("A15")
@pytest.mark.documented
@given(data=st.data())
def test_a15_a_missing_token_is_401(arenas: Arenas, callers: Callers, data: st.DataObject) -> None:
    refused(arenas.get(), callers.get(anonymous=True), data, 401, "without a token")


@pytest.mark.rule("A15")
@pytest.mark.documented
@given(data=st.data())
def test_a15_an_unknown_token_is_401(arenas: Arenas, callers: Callers, data: st.DataObject) -> None:
    refused(arenas.get(), callers.get(token=UNKNOWN_TOKEN), data, 401, "with an unknown token")


@pytest.mark.rule("A15")
@pytest.mark.documented
@given(data=st.data())
def test_a15_a_read_only_token_is_403(arenas: Arenas, target: Target, callers: Callers, data: st.DataObject) -> None:
    if not target.read_token:
        pytest.skip("not run: no --read-token given")
    refused(arenas.get(), callers.get(token=target.read_token), data, 403, "with a read-only token",
            part="A15-scope-status")
