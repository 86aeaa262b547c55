"""The assert rules A1–A7, one focused property test (or more) per rule; A8–A15 in `test_assert_rules_more`.

Each test asserts into an object shared by the module (`Arenas`) and reasons only about the records its
own example made. Tests marked `documented` check what Zeeg documents and, under the strict profile
only, the reference choices that go with it; tests marked `reference` check a reference choice [R].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from crm_contract.contract_tests.calls import definition
from crm_contract.contract_tests.checks import error_of, fail, parse_timestamp, record_agrees, record_of
from crm_contract.contract_tests.expectations import DOCUMENTED_NEAR_MISSES, Expectations
from crm_contract.contract_tests.rule_support import Arena, Arenas, not_run, valid_for
from crm_contract.strategies import (
    SYSTEM_KEYS,
    UNIQUE_TYPES,
    AttributeDefinition,
    ObjectDefinition,
    bad_matching_payloads,
    near_miss_sets,
    null_payloads,
    run_id,
)
from hypothesis import given
from hypothesis import strategies as st

from crm_contract.kit.client import ContractClient
from crm_contract.kit.target import Target
from crm_contract.kit.workspace import CreatedObject, Workspace

UNIQUENESS = pytest.mark.parametrize("unique", [True, False], ids=["unique-key", "non-unique-key"])
KEY_TYPES = pytest.mark.parametrize("key_type", sorted(UNIQUE_TYPES))


@pytest.fixture(scope="module")
def arenas(target: Target, api: ContractClient, workspace: Workspace) -> Arenas:
    return Arenas(target, api, workspace)


def as_created(arena: Arena, body: dict[str, Any]) -> dict[str, Any]:
    """What a record made from `body` holds (A4): the body's values, `null` for every other attribute."""
    return {key: body.get(key) for key in arena.schema.keys}


# A1 -------------------------------------------------------------------------------------------------

@pytest.mark.rule("A1")
@pytest.mark.documented
@UNIQUENESS
@given(data=st.data())
def test_a1_asserting_a_new_value_creates_a_record_with_a_new_id(arenas: Arenas, unique: bool,
                                                                 data: st.DataObject) -> None:
    arena = arenas.get(unique=unique)
    body = data.draw(arena.bodies(), label="body")
    with arena.api.exchanges() as log:
        record = arena.created(arena.assert_record(body), "A1", log)
        fetched = arena.fetch(record["id"], "A1", log)
        if fetched["id"] != record["id"]:
            fail("A1", f"GET of the new record {record['id']} answered the record {fetched['id']}", log)
        record_agrees(record, as_created(arena, body), arena.schema, "A1", log, expect=arena.expect)
        record_agrees(fetched, as_created(arena, body), arena.schema, "A1", log, expect=arena.expect)
        if arena.expect.holds("timestamps") and parse_timestamp(record.get("createdAt"), "createdAt", log) != \
                parse_timestamp(record.get("updatedAt"), "updatedAt", log):
            fail(Expectations.label("timestamps"), "on create updatedAt must equal createdAt", log)


# A2 -------------------------------------------------------------------------------------------------

@pytest.mark.rule("A2")
@pytest.mark.documented
@UNIQUENESS
@given(data=st.data())
def test_a2_asserting_a_known_value_updates_that_record_and_keeps_its_id(arenas: Arenas, unique: bool,
                                                                        data: st.DataObject) -> None:
    arena = arenas.get(unique=unique)
    key = data.draw(arena.keys(), label="key")
    first = data.draw(arena.bodies(keys=st.just(key)), label="first body")
    made_by_post = data.draw(st.booleans(), label="first record made with POST")
    second = data.draw(arena.bodies(keys=st.just(key)), label="second body")
    with arena.api.exchanges() as log:
        made = arena.created(arena.api.post(arena.path, json=first) if made_by_post else arena.assert_record(first),
                             "section 5" if made_by_post else "A1", log)
        response = arena.assert_record(second)
        if response.status_code == 201:
            fail("A2", f"a record ({made['id']}) holds the matching value {key!r}, yet the assert created one", log,
                 expected={"status": 200, "id": made["id"]}, observed={"status": 201})
        updated = record_of(response, 200, "A2", log, arena.slug)
        if updated["id"] != made["id"]:
            fail("A2", f"the assert updated {updated['id']}, not {made['id']}, the record holding {key!r}", log,
                 expected={"id": made["id"]}, observed={"id": updated["id"]})
        expected = {k: second[k] if k in second else first.get(k) for k in arena.schema.keys}
        record_agrees(updated, expected, arena.schema, "A2", log, expect=arena.expect)
        if arena.expect.holds("timestamps"):
            if parse_timestamp(updated.get("createdAt"), "createdAt", log) != parse_timestamp(
                    made.get("createdAt"), "createdAt", log):
                fail(Expectations.label("timestamps"), "the update changed createdAt", log)
            if parse_timestamp(updated.get("updatedAt"), "updatedAt", log) < parse_timestamp(
                    made.get("updatedAt"), "updatedAt", log):
                fail(Expectations.label("timestamps"), "the update moved updatedAt backward", log)


# A3 -------------------------------------------------------------------------------------------------

@pytest.mark.rule("A3")
@pytest.mark.documented
@given(data=st.data(), count=st.integers(2, 4))
def test_a3_each_value_matches_only_the_record_that_holds_it(arenas: Arenas, data: st.DataObject,
                                                             count: int) -> None:
    arena = arenas.get()
    keys = [data.draw(arena.keys(), label=f"key {i}") for i in range(count)]  # a prefix each: never alike
    bodies = [data.draw(arena.bodies(keys=st.just(key), full=False), label=f"body {i}") for i, key in enumerate(keys)]
    with arena.api.exchanges() as log:
        ids = [arena.created(arena.assert_record(body), "A1", log)["id"] for body in bodies]
        for key, body, record_id in reversed(list(zip(keys, bodies, ids, strict=True))):
            again = record_of(arena.assert_record(body), 200, "A3", log, arena.slug)
            if again["id"] != record_id:
                fail("A3", f"asserting {key!r} again updated {again['id']}, not {record_id}, which holds it", log)


@pytest.mark.rule("A3")
@pytest.mark.documented
@KEY_TYPES
@given(data=st.data())
def test_a3_a_near_miss_of_a_known_key_never_updates_it(arenas: Arenas, key_type: str, data: st.DataObject) -> None:
    """Every kind of near miss the key has in every example: case, wildcards and type always (A3 and A14
    [D]); padding and normal forms where exact form holds (A3 [R])."""
    arena = arenas.get()
    matching = arena.matching_of_type(key_type)
    key = data.draw(arena.keys(matching), label="known key")
    first = data.draw(arena.bodies(keys=st.just(key), matching=matching, full=False), label="first body")
    misses = [miss for miss in data.draw(near_miss_sets(key), label="near misses")  # fresh keys always have some
              if arena.expect.near_miss_checked(miss.kind)]
    seconds = [data.draw(arena.bodies(keys=st.just(miss.value), matching=matching, full=False),
                         label=f"{miss.kind} body") for miss in misses]
    exact = "exact matching: no case folding, trimming, Unicode normalisation or type coercion"
    with arena.api.exchanges() as log:
        known = arena.created(arena.assert_record(first, matching), "A1", log)
        for miss, second in zip(misses, seconds, strict=True):
            response = arena.assert_record(second, matching)
            # case, wildcards: A3 [D]; padding and normal forms: exact form, A3 [R]
            rule = "A3" if miss.kind in DOCUMENTED_NEAR_MISSES else Expectations.label("A3-exact-form")
            if valid_for(key_type, miss.value):
                if response.status_code == 200:
                    fail(rule, f"the {miss.kind} near miss {miss.value!r} of the known key {key!r} answered "
                         f"200; under {exact} it is a new value: expected 201", log)
                other = arena.created(response, rule, log)  # a refusal: of the body's values, or of A3
                if other["id"] == known["id"]:
                    fail("A3", f"the near miss {miss.value!r} created a record with the id of {key!r}'s", log)
            elif response.status_code != 400:
                fail("A3", f"the near miss {miss.value!r} ({type(miss.value).__name__}) of the {key_type} key "
                     f"{key!r} answered {response.status_code}; {exact}: it must be rejected (400, A14)", log)
        arena.unchanged([known], "A3", log, what=f"a near miss of {key!r} changed its record")
        again = record_of(arena.assert_record(first, matching), 200, "A3", log, arena.slug)
        if again["id"] != known["id"]:
            fail("A3", f"after the near misses, {key!r} matched {again['id']}, not {known['id']}", log)


# A4 -------------------------------------------------------------------------------------------------

@pytest.mark.rule("A4")
@pytest.mark.documented
@given(data=st.data())
def test_a4_on_create_omitted_attributes_are_null(arenas: Arenas, data: st.DataObject) -> None:
    arena = arenas.get()
    body = data.draw(arena.bodies(full=False), label="body")
    with arena.api.exchanges() as log:
        record = arena.created(arena.assert_record(body), "A4", log)
        for stored in (record, arena.fetch(record["id"], "A4", log)):
            attributes = stored["attributes"]
            for key in set(arena.schema.keys) - set(body):
                if attributes.get(key) is not None:
                    fail("A4", f"{key!r} was not in the body, so the new record must hold null, not "
                         f"{attributes[key]!r}", log)
            record_agrees(stored, as_created(arena, body), arena.schema, "A4", log, expect=arena.expect)


@pytest.mark.rule("A4")
@pytest.mark.documented
@given(data=st.data())
def test_a4_an_update_applies_the_body_and_keeps_omitted_values(arenas: Arenas, data: st.DataObject) -> None:
    arena = arenas.get()
    key = data.draw(arena.keys(), label="key")
    first = data.draw(arena.bodies(keys=st.just(key), full=True), label="first body")
    second = data.draw(arena.bodies(keys=st.just(key), full=False), label="second body")
    with arena.api.exchanges() as log:
        made = arena.created(arena.assert_record(first), "A1", log)
        updated = record_of(arena.assert_record(second), 200, "A4", log, arena.slug)
        for stored in (updated, arena.fetch(made["id"], "A4", log)):
            now, before = stored["attributes"], made["attributes"]
            for attr in arena.schema.attributes:
                if attr.key not in second and not arena.same(attr, before.get(attr.key), now.get(attr.key)):
                    fail("A4", f"{attr.key!r} was left out of the update, so it keeps {before.get(attr.key)!r}; "
                         f"it is {now.get(attr.key)!r}", log)
                if attr.key in second and second[attr.key] is not None and now.get(attr.key) is None:
                    fail("A4", f"the update sent {attr.key!r} = {second[attr.key]!r}; the record holds null", log)
            expected = {k: second[k] if k in second else first.get(k) for k in arena.schema.keys}
            record_agrees(stored, expected, arena.schema, "A4", log, expect=arena.expect)


@pytest.mark.rule("A4")
@pytest.mark.reference
@given(data=st.data())
def test_a4_an_explicit_null_clears_a_value(arenas: Arenas, data: st.DataObject) -> None:
    arena = arenas.get()
    key = data.draw(arena.keys(), label="key")
    first = data.draw(arena.bodies(keys=st.just(key), full=True), label="first body")
    try:
        nulls = null_payloads(arena.schema, arena.matching, keys=st.just(key), prefix=arena.fresh_prefix())
    except ValueError as error:
        not_run(str(error))
    second = data.draw(nulls, label="body with nulls")
    with arena.api.exchanges() as log:
        made = arena.created(arena.assert_record(first), "A1", log)
        updated = record_of(arena.assert_record(second), 200, "A4", log, arena.slug)
        expected = {k: second[k] if k in second else first.get(k) for k in arena.schema.keys}
        record_agrees(updated, expected, arena.schema, "A4", log)
        record_agrees(arena.fetch(made["id"], "A4", log), expected, arena.schema, "A4", log)


# A5 -------------------------------------------------------------------------------------------------

@pytest.mark.rule("A5")
@pytest.mark.documented
@UNIQUENESS
@given(data=st.data(), repeats=st.integers(1, 3))
def test_a5_repeating_an_assert_changes_nothing_and_creates_nothing(arenas: Arenas, unique: bool,
                                                                    data: st.DataObject, repeats: int) -> None:
    arena = arenas.get(unique=unique)
    body = data.draw(arena.bodies(), label="body")
    with arena.api.exchanges() as log:
        made = arena.created(arena.assert_record(body), "A1", log)
        for _ in range(repeats):
            again = record_of(arena.assert_record(body), 200, "A5", log, arena.slug)
            if again["id"] != made["id"]:
                fail("A5", f"the repeated assert answered the record {again['id']}, not {made['id']}", log)
            arena.same_attributes(again, made, "A5", "a repeated assert changed the record", log)
        arena.same_attributes(arena.fetch(made["id"], "A5", log), made, "A5", "the repeats changed the record", log)
        if arena.expect.holds("list") and arena.owned:
            holders = arena.holding(arena.matching, body[arena.matching], "A5", log)
            if [record["id"] for record in holders] != [made["id"]]:
                fail("A5", f"after {repeats + 1} identical asserts the list holds {len(holders)} records with "
                     f"the key {body[arena.matching]!r}, expected exactly {made['id']}", log)


# A6 -------------------------------------------------------------------------------------------------

@pytest.mark.rule("A6", "A10")
@pytest.mark.reference
@given(data=st.data(), problem=st.sampled_from(["missing", "unknown", *sorted(SYSTEM_KEYS)]),
       existing=st.booleans())
def test_a6_a_missing_unknown_or_system_matching_attribute_is_rejected(arenas: Arenas, data: st.DataObject,
                                                                       problem: str, existing: bool) -> None:
    arena = arenas.get()
    key = data.draw(arena.keys(), label="key")
    body = data.draw(arena.bodies(keys=st.just(key), full=False), label="body")
    params = {} if problem == "missing" else {
        "matchingAttribute": f"{run_id()}_no_such_attribute" if problem == "unknown" else problem}
    with arena.api.exchanges() as log:
        known = arena.created(arena.assert_record(body), "A1", log) if existing else None
        response = arena.api.put(arena.path, json=body, params=params)
        error_of(response, 400, "A6", log, expect=arena.expect, part="A6-status")
        arena.rejection_changed_nothing(known, body, log, f"a rejected assert (matchingAttribute {problem})")


# A7 -------------------------------------------------------------------------------------------------

@pytest.mark.rule("A7")
@pytest.mark.documented
@UNIQUENESS
@given(data=st.data())
def test_a7_a_null_or_empty_matching_value_is_rejected(arenas: Arenas, unique: bool, data: st.DataObject) -> None:
    arena = arenas.get(unique=unique)
    bad = data.draw(bad_matching_payloads(arena.schema, arena.matching, prefix=arena.fresh_prefix())
                    .filter(lambda bad: bad.kind != "missing"), label="body")
    matching = arena.schema.attribute(arena.matching)
    # A record without a matching value (or, where the contract allows it, with ""): never a match. An
    # --object whose matching attribute is required cannot hold one, so there the record has its own key.
    other = data.draw(arena.bodies(full=False), label="record held while the assert is rejected")
    if not matching.is_required:
        other.pop(arena.matching)
        empty_is_no_value = not matching.is_unique and matching.type in ("text", "phone_number")
        if arena.expect.holds("empty-text-value") and bad.kind == "empty" and empty_is_no_value:
            other[arena.matching] = ""
    with arena.api.exchanges() as log:
        held = arena.created(arena.api.post(arena.path, json=other), "section 5", log)
        error_of(arena.assert_record(bad.body), 400, "A7", log, expect=arena.expect)
        if arena.expect.holds("A10"):
            arena.unchanged([held], "A10", log, what=f"an assert with a {bad.kind} matching value")


FALSY = {"number": 0, "checkbox": False, "text": " "}


@pytest.fixture(scope="module")
def falsy_object(make_object: Callable[[ObjectDefinition], CreatedObject]) -> CreatedObject:
    """A run-made object with a number, a checkbox and a text attribute, none required or unique."""
    return make_object(definition("falsy", *(AttributeDefinition(f"Key {attr_type}", attr_type)
                                             for attr_type in FALSY)))


@pytest.mark.rule("A7", "A5")
@pytest.mark.documented
@pytest.mark.parametrize("attr_type", sorted(FALSY))
def test_a7_zero_false_and_white_space_are_usable_matching_values(
    api: ContractClient, falsy_object: CreatedObject, attr_type: str
) -> None:
    """Only null and the empty string are refused (A7 [D]): 0, false and " " match like any value.

    The first assert creates (or, run again, updates the record that already holds the value); the
    same assert again must update that very record.
    """
    key = falsy_object.key(f"Key {attr_type}")
    path, body = f"/crm/{falsy_object.slug}", {key: FALSY[attr_type]}
    with api.exchanges() as log:
        first = api.put(path, json=body, params={"matchingAttribute": key})
        if first.status_code not in (200, 201):
            fail("A7", f"{FALSY[attr_type]!r} is a usable matching value (only null and \"\" are refused): "
                 f"expected 201 or 200, got {first.status_code}", log, expected={"status": 201},
                 observed={"status": first.status_code})
        made = record_of(first, first.status_code, "A7", log, falsy_object.slug)
        again = record_of(api.put(path, json=body, params={"matchingAttribute": key}), 200, "A5", log,
                          falsy_object.slug)
        if again["id"] != made["id"]:
            fail("A5", f"asserting {FALSY[attr_type]!r} again updated {again['id']}, not {made['id']}", log)


@pytest.mark.rule("A7", "A10")
@pytest.mark.reference
@given(data=st.data())
def test_a7_a_matching_value_missing_from_the_body_is_rejected(arenas: Arenas, data: st.DataObject) -> None:
    arena = arenas.get()
    bad = data.draw(bad_matching_payloads(arena.schema, arena.matching, prefix=arena.fresh_prefix())
                    .filter(lambda bad: bad.kind == "missing"), label="body")
    with arena.api.exchanges() as log:
        error_of(arena.assert_record(bad.body), 400, "A7", log, expect=arena.expect, part="A7-missing")
        if arena.owned:  # a record made anyway would hold the body's run-unique value of a unique attribute
            attr = arena.other_unique()[0]
            if arena.holding(attr.key, bad.body[attr.key], "A10", log):
                fail("A10", f"the rejected assert created a record holding {attr.key!r} = {bad.body[attr.key]!r}",
                     log)
