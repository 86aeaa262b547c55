"""Matching keys (run-scoped, fresh) and near-miss variants (A3), alone and against the reference server.

A near miss differs from a key only by case, padding, normalisation form or JSON type; it is never the
key itself, and under exact matching asserting it never updates the key's record.
"""

from __future__ import annotations

import os
import re
import unicodedata
from typing import Any

import pytest
from crm_contract.strategies import (
    MAX_NUMBER,
    MAX_TEXT,
    NEAR_MISS_KINDS,
    NearMiss,
    from_object_schema,
    matching_keys,
    near_miss_sets,
    near_miss_variants,
    number_values,
    run_id,
    run_number_base,
    text_values,
)
from hypothesis import find, given, settings
from hypothesis import strategies as st
from strategies_support import MATCHING

Api = Any  # the `api` fixtures' class lives in tests/conftest.py

KEY_TYPES = ["text", "number", "phone_number"]


# -- fresh matching keys ---------------------------------------------------------------------------------

def test_run_id_names_the_run() -> None:
    assert re.fullmatch(r"cc[0-9a-f]{6}", run_id()) or run_id() == os.environ.get("CRM_CONTRACT_RUN_ID"), run_id()
    assert run_id() == run_id(), "one run id per process"
    base = run_number_base()
    assert 10**12 <= base and base + 10**9 <= MAX_NUMBER
    assert run_number_base("other") != base, "another run id gives another numeric range"


@settings(max_examples=60, deadline=None)
@given(data=st.data(), attr_type=st.sampled_from(KEY_TYPES), prefix=st.sampled_from([None, "ccabc123", "x"]))
def test_fresh_matching_keys_carry_the_run_prefix(data: st.DataObject, attr_type: str, prefix: str | None) -> None:
    head = prefix if prefix is not None else run_id()
    key = data.draw(matching_keys(prefix=prefix, attr_type=attr_type), label="key")
    base = run_number_base(head)
    if attr_type == "text":
        assert isinstance(key, str) and key.startswith(f"{head}-") and len(key) > len(head) + 1
        assert len(key) <= MAX_TEXT, f"{len(key)} code points"
    elif attr_type == "number":
        assert type(key) is int and base <= key <= min(base + 10**9, MAX_NUMBER)
    else:
        assert isinstance(key, str) and key.startswith("+") and key[1:].isascii() and key[1:].isdigit()
        assert base <= int(key[1:]) <= base + 10**9 and len(key) <= MAX_TEXT


def test_a_long_prefix_still_fits_in_255_code_points() -> None:
    # The decomposed form of the suffix can be longer than the suffix drawn ("Ĵ" is "J" and U+0302).
    @settings(max_examples=100, derandomize=True, database=None, deadline=None)
    @given(key=matching_keys(prefix="p" * 250))
    def check(key: str) -> None:
        assert key.startswith("p" * 250 + "-") and len(key) <= MAX_TEXT

    check()


@pytest.mark.parametrize("attr_type", ["checkbox", "date", "datetime", "select", "multiselect", "relation"])
def test_fresh_keys_exist_only_for_text_phone_and_number(attr_type: str) -> None:
    with pytest.raises(ValueError, match="fresh matching keys"):
        matching_keys(attr_type=attr_type)


def test_a_prefix_without_room_for_a_suffix_raises() -> None:
    with pytest.raises(ValueError, match="no room"):
        matching_keys(prefix="p" * (MAX_TEXT - 1))


# -- near-miss variants ----------------------------------------------------------------------------------

KEYS = st.one_of(
    st.sampled_from(KEY_TYPES).flatmap(lambda attr_type: matching_keys(attr_type=attr_type)),
    text_values(),
    number_values(),
    st.from_regex(r"\s*-?[0-9]{1,20}\s*", fullmatch=True),  # strings that spell a number (or too big a one)
    st.text("ßŉΐﬃé\u0301Å", max_size=MAX_TEXT),  # upper case and NFD are longer than the key
)


def _is_key(value: Any, key: Any) -> bool:
    return type(value) is type(key) and bool(value == key)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), key=KEYS)
def test_near_misses_are_never_the_key_and_are_accepted_values(data: st.DataObject, key: Any) -> None:
    try:
        variants = near_miss_variants(key)
    except ValueError:
        return  # a key without variants (e.g. 255 digits): nothing to check
    miss = data.draw(variants, label="miss")
    assert isinstance(miss, NearMiss) and miss.kind in NEAR_MISS_KINDS
    assert not _is_key(miss.value, key), f"{miss} is the key itself"
    if isinstance(miss.value, str):
        assert len(miss.value) <= MAX_TEXT, f"{miss.kind}: {len(miss.value)} code points would be rejected"
    else:
        assert type(miss.value) is int and abs(miss.value) <= MAX_NUMBER
    if miss.kind in ("nfc", "nfd"):
        assert unicodedata.normalize(miss.kind.upper(), key) == miss.value
    if miss.kind == "type":
        assert miss.value == (int(key.strip()) if isinstance(key, str) else str(key))


@pytest.mark.parametrize(("key", "expected"), [
    ("abc", {("whitespace", "abc "), ("whitespace", " abc"), ("whitespace", "abc\t"), ("whitespace", "\u00a0abc"),
             ("case", "ABC"), ("wildcard", "ab_"), ("wildcard", "ab%")}),
    ("é", {("whitespace", "é "), ("whitespace", " é"), ("whitespace", "é\t"), ("whitespace", "\u00a0é"),
           ("case", "É"), ("accent", "e"), ("nfd", "e\u0301")}),  # one character: nothing to replace by a wildcard
    ("e\u0301", {("whitespace", "e\u0301 "), ("whitespace", " e\u0301"), ("whitespace", "e\u0301\t"),
                 ("whitespace", "\u00a0e\u0301"), ("case", "E\u0301"), ("wildcard", "e_"), ("wildcard", "e%"),
                 ("accent", "e"), ("nfc", "é")}),
    ("-42", {("whitespace", "-42 "), ("whitespace", " -42"), ("whitespace", "-42\t"), ("whitespace", "\u00a0-42"),
             ("wildcard", "-4_"), ("wildcard", "-4%"), ("type", -42)}),
    ("--5", {("whitespace", "--5 "), ("whitespace", " --5"), ("whitespace", "--5\t"), ("whitespace", "\u00a0--5"),
             ("wildcard", "--_"), ("wildcard", "--%")}),
    ("9" * 20, {("whitespace", "9" * 20 + " "), ("whitespace", " " + "9" * 20), ("whitespace", "9" * 20 + "\t"),
                ("whitespace", "\u00a0" + "9" * 20), ("wildcard", "9" * 19 + "_"),
                ("wildcard", "9" * 19 + "%")}),  # past ±(2^53 - 1): not a number the API takes
    (42, {("type", "42")}),
    ("ß" * 200, {("whitespace", "ß" * 200 + " "), ("whitespace", " " + "ß" * 200), ("whitespace", "ß" * 200 + "\t"),
                 ("whitespace", "\u00a0" + "ß" * 200), ("wildcard", "ß" * 199 + "_"),
                 ("wildcard", "ß" * 199 + "%")}),  # its upper case "SS" * 200 is too long
    ("a" * MAX_TEXT, {("case", "A" * MAX_TEXT), ("wildcard", "a" * (MAX_TEXT - 1) + "_"),
                      ("wildcard", "a" * (MAX_TEXT - 1) + "%")}),  # padding would make 256 code points
])
def test_near_miss_variants_of_known_keys(key: Any, expected: set[tuple[str, Any]]) -> None:
    found: set[tuple[str, Any]] = set()

    @settings(max_examples=50, derandomize=True, database=None)  # few variants: Hypothesis draws them all
    @given(miss=near_miss_variants(key))
    def collect(miss: NearMiss) -> None:
        found.add((miss.kind, miss.value))

    collect()
    assert {(kind, repr(value)) for kind, value in found} == {(kind, repr(value)) for kind, value in expected}


@pytest.mark.parametrize(("key", "kinds"), [("abc", ["whitespace", "case", "wildcard"]),
                                           ("é", ["whitespace", "case", "accent", "nfd"]),
                                           ("-42", ["whitespace", "wildcard", "type"]), (42, ["type"])])
def test_a_near_miss_set_has_one_variant_of_every_kind_the_key_has(key: Any, kinds: list[str]) -> None:
    @settings(max_examples=30, derandomize=True, database=None)
    @given(misses=near_miss_sets(key), miss=near_miss_variants(key))
    def check(misses: tuple[NearMiss, ...], miss: NearMiss) -> None:
        assert [m.kind for m in misses] == kinds
        assert miss.kind in kinds
        assert all(not _is_key(m.value, key) for m in misses)

    check()
    with pytest.raises(ValueError, match="no near-miss variant"):
        near_miss_sets(True)


def test_near_misses_and_keys_shrink_as_documented() -> None:
    simplest = settings(database=None, max_examples=100, derandomize=True)
    assert find(near_miss_variants("Key"), lambda _: True, settings=simplest) == NearMiss("whitespace", "Key ")
    assert find(near_miss_variants(7), lambda _: True, settings=simplest) == NearMiss("type", "7")
    key = find(matching_keys(), lambda _: True, settings=simplest)
    assert key.startswith(f"{run_id()}-") and len(key) == len(run_id()) + 2
    assert find(matching_keys(attr_type="number"), lambda _: True, settings=simplest) == run_number_base()


@pytest.mark.parametrize("key", [True, False, None, 1.5, ["a"], {"id": 1}])
def test_keys_without_near_misses_raise(key: Any) -> None:
    with pytest.raises(ValueError, match="no near-miss variant"):
        near_miss_variants(key)


def test_every_kind_of_near_miss_is_reached_within_a_fixed_budget() -> None:
    kinds: set[str] = set()

    @settings(max_examples=200, derandomize=True, database=None, deadline=None)
    @given(data=st.data(), attr_type=st.sampled_from(KEY_TYPES))
    def collect(data: st.DataObject, attr_type: str) -> None:
        key = data.draw(matching_keys(attr_type=attr_type), label="key")
        kinds.add(data.draw(near_miss_variants(key), label="miss").kind)

    collect()
    assert kinds == set(NEAR_MISS_KINDS), f"never generated: {sorted(set(NEAR_MISS_KINDS) - kinds)}"


# -- against the reference server: a near miss never updates the key's record (A3) -------------------------

KEYED = [
    {"label": "Sku", "type": "text", "isUnique": True},
    {"label": "Code", "type": "number", "isUnique": True},
    {"label": "Mobile", "type": "phone_number", "isUnique": True},
    {"label": "Notes", "type": "text"},
]
KEY_OF = {"text": MATCHING, "number": "code", "phone_number": "mobile"}


@pytest.fixture(scope="module")
def keyed(shared_api: Api) -> str:
    slug = shared_api.new_object(*KEYED)
    assert from_object_schema(shared_api.object(slug)).keys == ("sku", "code", "mobile", "notes")
    return slug


@settings(max_examples=60, deadline=None)
@given(data=st.data(), attr_type=st.sampled_from(KEY_TYPES))
def test_asserting_a_near_miss_never_updates_the_keys_record(shared_api: Api, keyed: str, data: st.DataObject,
                                                            attr_type: str) -> None:
    attribute = KEY_OF[attr_type]
    key = data.draw(matching_keys(attr_type=attr_type), label="key")
    # A repeated key is an update of its own record (A2), so both outcomes are fine here.
    resp = shared_api.upsert(keyed, attribute, {attribute: key, "notes": "original"})
    original = shared_api.ok(resp, 201 if resp.status_code == 201 else 200, "record", "A1/A2: the key's record")
    miss = data.draw(near_miss_variants(key), label="miss")
    resp = shared_api.upsert(keyed, attribute, {attribute: miss.value, "notes": "near miss"})
    context = f"A3: {miss.kind} near miss {miss.value!r} of {key!r}: {shared_api.describe(resp)}"
    if miss.kind == "type":  # a number where a string belongs, or the reverse: a value of the wrong type
        shared_api.fails(resp, 400, context)
    else:
        record = shared_api.ok(resp, 201 if resp.status_code == 201 else 200, "record", context)
        assert record["id"] != original["id"], context
        assert record["attributes"][attribute] == miss.value, context
    assert shared_api.record(keyed, original["id"]) == original, f"the key's record changed: {context}"


def test_every_worker_of_a_run_has_a_run_id_of_its_own_of_the_same_form() -> None:
    from crm_contract.strategies.keys import worker_run_id

    from crm_contract.kit.sweep import RUN_SLUG

    ids = [worker_run_id("ccfffffe", worker) for worker in range(4)]
    assert ids == ["ccffffff", "cc000000", "cc000001", "cc000002"]
    assert all(RUN_SLUG.match(f"{run}-ab12cd34") for run in ids)  # a sweep knows their objects
    assert worker_run_id("ccfffffe", 0) == ids[0]  # the runner finds each worker's ledger from the run id
