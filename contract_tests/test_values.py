"""Section 4: attribute values in record bodies, type by type, through every call that writes or reads them.

One run-made object holds an optional attribute of every supported type, three unique ones, a text
`note` and a unique text matching attribute `key`; a second object makes one attribute of every type
required. Records made by an example are deleted when it ends, so each example starts from an empty
object. What is [D] and what is [R] follows the contract's tags: under the `documented` profile a
value need only be accepted (its exact round trip, `null` clearing, required and unknown keys, the
atomicity of a refused write are reference choices), and rejections come from the [D] ones only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from crm_contract.contract_tests.calls import definition, fresh_key, records_of
from crm_contract.contract_tests.checks import fail
from crm_contract.contract_tests.expectations import Expectations
from crm_contract.contract_tests.subjects import ObjectUnderTest
from crm_contract.strategies import (
    SUPPORTED_TYPES,
    SYSTEM_KEYS,
    TYPE_RULES,
    UNIQUE_TYPES,
    AttributeDefinition,
    ObjectDefinition,
    accepted_values,
    documented_value,
    rejected_values,
    text_values,
    type_label,
    typed_attribute,
)
from hypothesis import given
from hypothesis import strategies as st

from crm_contract.kit.client import ContractClient
from crm_contract.kit.target import Target

TYPES = sorted(SUPPORTED_TYPES)
LABELS = {attr_type: type_label(attr_type) for attr_type in TYPES}  # "phone_number" → "Phone Number"
# The types whose accepted values Zeeg documents, and those with documented rejections (`TYPE_RULES`); the
# others' are reference choices (phone_number and datetime values, every rejection of a datetime).
DOCUMENTED_ACCEPTANCE = {name for name in TYPES if TYPE_RULES[name].documented_acceptance}
DOCUMENTED_REJECTION = {name for name in TYPES if TYPE_RULES[name].documented_rejection}


def by_type(documented: set[str] | frozenset[str], types: list[str] = TYPES) -> list[object]:
    """One parameter per type, marked `documented` or `reference` by what the contract says of that type."""
    return [pytest.param(t, id=t, marks=pytest.mark.documented if t in documented else pytest.mark.reference)
            for t in types]


def values_definition() -> ObjectDefinition:
    return definition(
        "values", AttributeDefinition("Key", "text", is_unique=True), AttributeDefinition("Note", "text"),
        *(typed_attribute(LABELS[t], t) for t in TYPES),
        *(typed_attribute(f"Unique {LABELS[t]}", t, is_unique=True) for t in sorted(UNIQUE_TYPES)))


def required_definition() -> ObjectDefinition:
    return definition("required", AttributeDefinition("Key", "text", is_unique=True),
                      *(typed_attribute(f"Required {LABELS[t]}", t, is_required=True) for t in TYPES))


@pytest.fixture(scope="module")
def values_object(object_under_test: Callable[[ObjectDefinition], ObjectUnderTest]) -> Iterator[ObjectUnderTest]:
    made = object_under_test(values_definition())
    yield made
    made.release()


@pytest.fixture(scope="module")
def required_object(object_under_test: Callable[[ObjectDefinition], ObjectUnderTest]) -> Iterator[ObjectUnderTest]:
    made = object_under_test(required_definition())
    yield made
    made.release()


def accepted(obj: ObjectUnderTest, label: str, *, documented_only: bool = True) -> st.SearchStrategy[object]:
    """Values the attribute must accept: of every documented form, and of the reference ranges unless
    `documented_only` (set-up values are always documented: a test of something else must not trip on them)."""
    attr = obj.schema.attribute(obj.key(label))
    return accepted_values(attr.type, option_ids=attr.option_ids, documented_only=documented_only)


# Accepted values -----------------------------------------------------------------------------------------

@pytest.mark.rule("section 4")
@pytest.mark.parametrize("attr_type", by_type(DOCUMENTED_ACCEPTANCE))
@given(data=st.data())
def test_accepted_value_is_stored_as_sent_through_every_call(
    target: Target, api: ContractClient, values_object: ObjectUnderTest, attr_type: str, data: st.DataObject
) -> None:
    """POST, PATCH, assert (update and create) accept the value; strict: GET, the list and each answer hold it."""
    obj = values_object
    key, match = obj.key(LABELS[attr_type]), obj.key("Key")
    sent = [data.draw(accepted(obj, LABELS[attr_type], documented_only=target.expect.documented_only),
                      label=f"value {n}") for n in range(4)]
    first, second = fresh_key(), fresh_key()
    # Values of the documented forms only, unless the reference round trip holds (`accepted`): a failure
    # with a value of a reference range (a 53-bit number, a text not in NFC, ...) names that [R] part.
    def rule_for(value: object) -> str:
        rule = f"section 4, {attr_type}: an accepted value is stored and returned as sent"
        documented = documented_value(attr_type, value)
        return rule if documented else f"{rule} ({Expectations.label('values-round-trip')})"

    with records_of(obj) as calls:
        def stored(record: dict[str, Any], value: object) -> dict[str, Any]:
            calls.holds(record, key, value, rule_for(value))
            calls.holds(calls.get(str(record["id"]), rule_for(value)), key, value, rule_for(value))
            return record

        made = stored(calls.create({match: first, key: sent[0]}, rule_for(sent[0])), sent[0])
        stored(calls.patch(made["id"], {key: sent[1]}, rule_for(sent[1])), sent[1])
        updated = stored(calls.upsert(match, {match: first, key: sent[2]}, 200, rule_for(sent[2])), sent[2])
        if updated["id"] != made["id"]:
            fail("A2", "the assert of the record's own matching value answered another record", calls.log)
        other = stored(calls.upsert(match, {match: second, key: sent[3]}, 201, rule_for(sent[3])), sent[3])
        if not target.expect.holds("list"):
            return
        listed = {item.get("id"): item for item in calls.listing(rule_for(None))}
        for record, value in ((updated, sent[2]), (other, sent[3])):
            if record["id"] not in listed:
                fail(Expectations.label("list"), f"the record {record['id']} is missing from the list", calls.log)
            calls.holds(listed[record["id"]], key, value, rule_for(value))


# Rejected values -----------------------------------------------------------------------------------------

@pytest.mark.rule("section 4", "A10", "A14")
@pytest.mark.parametrize("attr_type", by_type(DOCUMENTED_REJECTION))
@given(data=st.data())
def test_rejected_value_gives_400_and_changes_nothing(
    target: Target, api: ContractClient, values_object: ObjectUnderTest, attr_type: str, data: st.DataObject
) -> None:
    """POST, PATCH and assert (update and create) refuse it; strict: no record changes and none is made."""
    obj = values_object
    label = LABELS[attr_type]
    attr = obj.schema.attribute(obj.key(label))
    key, match, note = attr.key, obj.key("Key"), obj.key("Note")
    documented_only = target.expect.documented_only
    bad = data.draw(rejected_values(attr.type, option_ids=attr.option_ids, documented_only=documented_only),
                    label="bad")
    good = data.draw(accepted(obj, label), label="stored value")
    change = data.draw(text_values(max_size=20), label="note sent with it")
    existing = fresh_key()
    rule = f"section 4, {attr_type}: {bad.reason} is rejected with 400"
    with records_of(obj) as calls:
        made = calls.create({match: existing, key: good, note: "before"}, "section 4 (set-up)")
        before = calls.get(made["id"])
        calls.refused("POST", {match: fresh_key(), key: bad.value, note: change}, rule)
        calls.refused("PATCH", {key: bad.value, note: change}, rule, record_id=made["id"])
        calls.refused("PUT", {match: existing, key: bad.value, note: change}, rule,
                      params={"matchingAttribute": match})
        calls.refused("PUT", {match: fresh_key(), key: bad.value}, rule, params={"matchingAttribute": match})
        if target.expect.holds("A10"):
            calls.unchanged(before, "A10", "a refused PATCH or assert")
            if (ids := calls.ids("A10")) != [made["id"]]:
                fail("A10", f"refused POSTs and asserts must create nothing; the list holds {ids}", calls.log)


# null ----------------------------------------------------------------------------------------------------

@pytest.mark.rule("section 4", "A4")
@pytest.mark.reference
@pytest.mark.parametrize("attr_type", TYPES)
@given(data=st.data())
def test_null_clears_the_value(
    target: Target, api: ContractClient, values_object: ObjectUnderTest, attr_type: str, data: st.DataObject
) -> None:
    """null is accepted on create, and clears the value on PATCH and on an assert that updates."""
    obj = values_object
    key, match = obj.key(LABELS[attr_type]), obj.key("Key")
    values = [data.draw(accepted(obj, LABELS[attr_type]), label=f"value {n}") for n in range(2)]  # set-up values
    rule = f"section 4, {attr_type}: null is accepted and clears the value"
    matching = fresh_key()
    with records_of(obj) as calls:
        made = calls.create({match: matching, key: None}, rule)
        calls.holds(made, key, None, rule)
        calls.patch(made["id"], {key: values[0]}, "section 4 (set-up)")
        calls.holds(calls.patch(made["id"], {key: None}, rule), key, None, rule)
        calls.holds(calls.get(made["id"], rule), key, None, rule)
        calls.patch(made["id"], {key: values[1]}, "section 4 (set-up)")
        calls.holds(calls.upsert(match, {match: matching, key: None}, 200, rule), key, None, rule)
        calls.holds(calls.get(made["id"], rule), key, None, rule)


@pytest.mark.rule("section 4", "section 5")
@pytest.mark.reference
@pytest.mark.parametrize("attr_type", TYPES)
@given(data=st.data())
def test_null_on_a_required_attribute_is_rejected_on_create_patch_and_assert(
    target: Target, api: ContractClient, required_object: ObjectUnderTest, attr_type: str, data: st.DataObject
) -> None:
    """Every required attribute filled (false, 0 and "" included) creates; null in one is 400 everywhere."""
    obj = required_object
    match, key = obj.key("Key"), obj.key(f"Required {LABELS[attr_type]}")
    full = {obj.key(f"Required {LABELS[t]}"): data.draw(accepted(obj, f"Required {LABELS[t]}"), label=t)
            for t in TYPES}
    rule = f"section 4, required {attr_type}: null is treated as missing (400)"
    existing = fresh_key()
    with records_of(obj) as calls:
        calls.refused("POST", {match: fresh_key(), **full, key: None}, rule, part="shape-status")
        calls.refused("POST", {match: fresh_key(), **{k: v for k, v in full.items() if k != key}},
                      f"section 5, required {attr_type}: a missing required attribute is 400", part="shape-status")
        made = calls.create({match: existing, **full}, "section 4: every required attribute holds a value")
        before = calls.get(made["id"])
        calls.refused("PATCH", {key: None}, rule, record_id=made["id"], part="shape-status")
        calls.refused("PUT", {match: existing, key: None}, rule, params={"matchingAttribute": match},
                      part="shape-status")
        calls.refused("PUT", {match: fresh_key(), **full, key: None}, rule, params={"matchingAttribute": match},
                      part="shape-status")
        calls.unchanged(before, "A10", "a refused PATCH or assert")
        if (ids := calls.ids("A10")) != [made["id"]]:
            fail("A10", f"refused POSTs and asserts must create nothing; the list holds {ids}", calls.log)


# Keys ----------------------------------------------------------------------------------------------------

def unknown_keys(obj: ObjectUnderTest) -> st.SearchStrategy[str]:
    known = set(obj.schema.keys) | SYSTEM_KEYS
    near = st.sampled_from(sorted(obj.schema.keys)).map(lambda k: k.upper() if k.upper() != k else f"{k}_x")
    return st.one_of(near, st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True),
                     st.text(min_size=0, max_size=20)).filter(lambda k: k not in known)


@pytest.mark.rule("section 4", "A10")
@pytest.mark.reference
@given(data=st.data(), system=st.booleans())
def test_unknown_and_system_keys_are_rejected(
    target: Target, api: ContractClient, values_object: ObjectUnderTest, data: st.DataObject, system: bool
) -> None:
    """A key that is no attribute of the object, or `id`/`created_at`/`updated_at`, is 400 on every write."""
    obj = values_object
    match, note = obj.key("Key"), obj.key("Note")
    existing = fresh_key()
    with records_of(obj) as calls:
        made = calls.create({match: existing, note: "before"}, "section 4 (set-up)")
        if system:
            key = data.draw(st.sampled_from(sorted(SYSTEM_KEYS)), label="system key")
            value = data.draw(st.sampled_from([made["id"], made["createdAt"], None]), label="value")
            rule = f"section 4: the system attribute {key!r} cannot be written (400)"
        else:
            key = data.draw(unknown_keys(obj), label="unknown key")
            value = data.draw(st.one_of(st.none(), st.booleans(), st.integers(), text_values(max_size=20)))
            rule = f"section 4: {key!r} is not an attribute of the object (400)"
        before = calls.get(made["id"])
        calls.refused("POST", {match: fresh_key(), key: value}, rule, part="shape-status")
        calls.refused("PATCH", {note: "after", key: value}, rule, record_id=made["id"], part="shape-status")
        calls.refused("PUT", {match: existing, note: "after", key: value}, rule,
                      params={"matchingAttribute": match}, part="shape-status")
        calls.refused("PUT", {match: fresh_key(), key: value}, rule, params={"matchingAttribute": match},
                      part="shape-status")
        calls.unchanged(before, "A10", "a refused PATCH or assert")
        if (ids := calls.ids("A10")) != [made["id"]]:
            fail("A10", f"refused POSTs and asserts must create nothing; the list holds {ids}", calls.log)


# Uniqueness of "" and null -------------------------------------------------------------------------------

@pytest.mark.rule("section 4", "A8")
@pytest.mark.reference
@pytest.mark.parametrize("attr_type", ["text", "phone_number"])
def test_empty_string_collides_in_a_unique_attribute(
    target: Target, api: ContractClient, values_object: ObjectUnderTest, attr_type: str
) -> None:
    obj = values_object
    match, unique = obj.key("Key"), obj.key(f"Unique {LABELS[attr_type]}")
    rule = f"section 4, unique {attr_type}: an empty string collides with another record's empty string"
    first, second = fresh_key(), fresh_key()
    params = {"matchingAttribute": match}
    with records_of(obj) as calls:
        holder = calls.create({match: first, unique: ""}, "section 4: an empty string is a valid value")
        calls.holds(holder, unique, "", "section 4: an empty string is stored as sent")
        calls.refused("POST", {match: second, unique: ""}, rule)
        other = calls.create({match: second}, "section 4 (set-up)")
        calls.refused("PATCH", {unique: ""}, rule, record_id=other["id"])
        calls.refused("PUT", {match: second, unique: ""}, rule, params=params)
        calls.refused("PUT", {match: fresh_key(), unique: ""}, rule, params=params)
        again = calls.upsert(match, {match: first, unique: ""}, 200, "A8: a record's own unique value is no error")
        calls.holds(again, unique, "", "A8")
        calls.holds(calls.get(other["id"]), unique, None, "A10: a refused write changes nothing")


@pytest.mark.rule("section 4", "A8")
@pytest.mark.reference
@pytest.mark.parametrize("attr_type", sorted(UNIQUE_TYPES))
def test_null_never_collides_in_a_unique_attribute(
    target: Target, api: ContractClient, values_object: ObjectUnderTest, attr_type: str
) -> None:
    obj = values_object
    match, unique = obj.key("Key"), obj.key(f"Unique {LABELS[attr_type]}")
    rule = f"section 4, unique {attr_type}: null never collides"
    with records_of(obj) as calls:
        first = calls.create({match: fresh_key(), unique: None}, rule)
        calls.create({match: fresh_key()}, rule)
        third = calls.create({match: fresh_key(), unique: None}, rule)
        calls.holds(calls.patch(third["id"], {unique: None}, rule), unique, None, rule)
        calls.holds(calls.patch(first["id"], {unique: None}, rule), unique, None, rule)
        calls.holds(calls.upsert(match, {match: fresh_key(), unique: None}, 201, rule), unique, None, rule)
