"""What the per-rule assert tests share: the objects they assert into, fresh keys and payloads, and reads.

An `Arena` is an `ObjectUnderTest` with a matching attribute, and the checks the rule tests share: a
run-made object (`assert_object_definition`) shared by the tests of a module, or the user's `--object`.
Records of many examples pile up on a shared object, so every check reasons only about records its own
example made (fresh keys, ids it saw): each payload strategy gets a new per-example prefix, so fresh
keys and unique values never meet another example's. Under `--object` a test that needs something the
object lacks skips with "not run: ...".
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import httpx
import pytest
from crm_contract.contract_tests.checks import fail, parse_timestamp, record_of
from crm_contract.contract_tests.subjects import (
    MATCHING_LABEL,
    ObjectUnderTest,
    assert_object_definition,
)
from crm_contract.strategies import (
    MAX_NUMBER,
    MAX_TEXT,
    Attribute,
    full_payloads,
    matching_keys,
    partial_payloads,
    run_id,
    same_value,
    type_label,
)
from hypothesis import strategies as st

from crm_contract.kit.client import ContractClient, Exchange
from crm_contract.kit.target import Target
from crm_contract.kit.workspace import Workspace

__all__ = ["Arena", "Arenas", "Joined", "not_run", "valid_for"]



def matching_label(attr_type: str) -> str:
    """The attribute of the run-made object to match on, per type: External Id for text, else the type's
    unique attribute (any attribute may be the matching one)."""
    return MATCHING_LABEL if attr_type == "text" else f"Unique {type_label(attr_type)}"


def not_run(reason: str) -> NoReturn:
    pytest.skip(f"not run: {reason}")


def valid_for(attr_type: str, value: Any) -> bool:
    """Whether section 4 accepts `value` for a text, phone_number or number attribute."""
    if attr_type == "number":
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_NUMBER
    return isinstance(value, str) and len(value) <= MAX_TEXT


class Joined(Sequence[Exchange]):
    """Transcripts of several clients read as one, in the order given (each may still grow)."""

    def __init__(self, *parts: Sequence[Exchange]) -> None:
        self.parts = parts

    def _all(self) -> list[Exchange]:
        return [exchange for part in self.parts for exchange in part]

    def __getitem__(self, index: Any) -> Any:
        return self._all()[index]

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts)


@dataclass
class Arena(ObjectUnderTest):
    """The object the rule tests of a module assert into, and the ids its examples saw."""

    seen: set[str] = field(default_factory=set)

    def matching_of_type(self, attr_type: str) -> str:
        """A matching attribute of `attr_type`: the run-made object's, or the `--object`'s if its type fits."""
        if self.owned:
            return self.labels[matching_label(attr_type)]
        if self.schema.attribute(self.matching).type != attr_type:
            not_run(f"needs a {attr_type} matching attribute; {self.matching!r} of --object is not one")
        return self.matching

    def other_unique(self) -> list[Attribute]:
        attrs = [a for a in self.schema.attributes if a.is_unique and a.key != self.matching and a.supported]
        if not attrs:
            not_run(f"needs a unique attribute besides the matching one; {self.slug!r} has none")
        return attrs

    # Strategies: a new prefix per call, so that keys and unique values are the example's own ---------

    @staticmethod
    def fresh_prefix() -> str:
        return f"{run_id()}-{secrets.token_hex(4)}"

    def keys(self, matching: str | None = None) -> st.SearchStrategy[Any]:
        attr_type = self.schema.attribute(matching or self.matching).type
        try:
            return matching_keys(prefix=self.fresh_prefix(), attr_type=attr_type, documented_only=True)
        except ValueError as error:
            not_run(str(error))

    def bodies(self, *, full: bool | None = None, keys: st.SearchStrategy[Any] | None = None,
               matching: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
        """Valid bodies with a fresh key (or one from `keys`): full, partial, or either (`full=None`)."""
        matching = matching or self.matching
        keys = keys if keys is not None else self.keys(matching)
        kinds = {None: [full_payloads, partial_payloads], True: [full_payloads], False: [partial_payloads]}[full]
        try:
            # Documented values only, under every profile: a rule test checks its rule, and the reference
            # ranges of values (53-bit numbers, texts not in NFC, ...) are section 4's tests' business.
            return st.one_of([kind(self.schema, matching, keys=keys, prefix=self.fresh_prefix(), documented_only=True)
                              for kind in kinds])
        except ValueError as error:
            not_run(str(error))

    # Requests ----------------------------------------------------------------------------------------

    def assert_record(self, body: dict[str, Any], matching: str | None = None) -> httpx.Response:
        return self.api.put(self.path, json=body, params={"matchingAttribute": matching or self.matching})

    def created(self, response: httpx.Response, rule: str, log: Sequence[Exchange]) -> dict[str, Any]:
        """The record of a 201 with an id never seen before; tracked for clean-up."""
        record = record_of(response, 201, rule, log, self.slug)
        if record["id"] in self.seen:
            fail(rule, f"a create answered the id {record['id']} of a record made earlier", log)
        self.seen.add(record["id"])
        self.track(record["id"])
        return record

    def fetch(self, record_id: str, rule: str, log: Sequence[Exchange]) -> dict[str, Any]:
        return record_of(self.api.get(f"{self.path}/{record_id}"), 200, rule, log, self.slug)

    def listed(self, ids: set[str], rule: str, log: Sequence[Exchange]) -> dict[str, dict[str, Any]]:
        """The records of the list [R] whose id is in `ids`, by id."""
        return {record["id"]: record for record in self.records(rule, log) if record.get("id") in ids}

    def holding(self, key: str, value: Any, rule: str, log: Sequence[Exchange]) -> list[dict[str, Any]]:
        """The records of the list [R] whose attribute `key` is `value`, oldest first."""
        attr_type = self.schema.attribute(key).type
        return [record for record in self.records(rule, log)
                if same_value(attr_type, value, (record.get("attributes") or {}).get(key))]

    # Checks ------------------------------------------------------------------------------------------

    @staticmethod
    def same(attr: Attribute, left: Any, right: Any) -> bool:
        return same_value(attr.type, left, right)

    def same_attributes(self, record: dict[str, Any], before: dict[str, Any], rule: str, what: str,
                        log: Sequence[Exchange]) -> None:
        """`record` holds what the target said `before` held, attribute by attribute."""
        now, then = record.get("attributes") or {}, before.get("attributes") or {}
        for attr in self.schema.attributes:
            if attr.supported and not same_value(attr.type, then.get(attr.key), now.get(attr.key)):
                fail(rule, f"{what}: record {record.get('id')} {attr.key!r} is {now.get(attr.key)!r}, "
                     f"was {then.get(attr.key)!r}", log)

    def unchanged(self, before: Sequence[dict[str, Any]], rule: str, log: Sequence[Exchange], *,
                  what: str = "the record changed") -> None:
        """Each record of `before` (as the target last answered it) is still there and unchanged.

        Read by id; also `updatedAt` and, on a run-made object, the list, where those [R] parts hold.
        """
        answers = self.api.read_all([f"{self.path}/{old['id']}" for old in before])  # at once: reads only
        for old, answer in zip(before, answers, strict=True):
            now = record_of(answer, 200, rule, log, self.slug)
            self.same_attributes(now, old, rule, what, log)
            moved = parse_timestamp(now.get("updatedAt"), "updatedAt", log) != parse_timestamp(
                old.get("updatedAt"), "updatedAt", log)
            if moved and self.expect.holds("timestamps"):
                fail(rule, f"{what}: record {old['id']} has a new updatedAt", log)
        if self.expect.holds("list") and self.owned:
            listed = self.listed({old["id"] for old in before}, rule, log)
            for old in before:
                if old["id"] not in listed:
                    fail(rule, f"{what}: record {old['id']} is missing from the list", log)
                self.same_attributes(listed[old["id"]], old, rule, f"{what} (in the list)", log)

    def nothing_created(self, body: dict[str, Any], rule: str, log: Sequence[Exchange],
                        matching: str | None = None) -> None:
        """After a refused assert of a fresh key: asserting `body` (valid, same key) must create (201)."""
        response = self.assert_record(body, matching)
        if response.status_code == 200:  # a 4xx is no evidence of a record: `created` tells why it came
            fail(rule, "the refused assert left a record behind: asserting its key again answered 200, "
                 "expected 201", log)
        self.created(response, rule, log)


    def rejection_changed_nothing(self, known: dict[str, Any] | None, body: dict[str, Any], log: Sequence[Exchange],
                                  what: str) -> None:
        """A10 after a rejected assert: the record it aimed at (`known`) is as it was, or none was created."""
        if known is not None:
            self.unchanged([known], "A10", log, what=what)
        else:
            self.nothing_created(body, "A10", log)


class Arenas:
    """The objects of one test module: made on first use (unique or non-unique matching), or `--object`."""

    def __init__(self, target: Target, api: ContractClient, workspace: Workspace) -> None:
        self.target, self.api, self.workspace = target, api, workspace
        self.expect = target.expect
        self._made: dict[bool, Arena] = {}
        self._twins: list[Arena] = []
        self._configured: Arena | None = None

    def get(self, *, unique: bool | None = None) -> Arena:
        """An arena whose matching attribute is unique (or not; `None`: either)."""
        if self.target.object_slug and self.target.matching_attribute:
            arena = self._existing(self.target.object_slug, self.target.matching_attribute)
            is_unique = arena.schema.attribute(arena.matching).is_unique
            if unique is not None and is_unique != unique:
                not_run(f"needs a {'unique' if unique else 'non-unique'} matching attribute; "
                        f"{arena.matching!r} of --object is {'unique' if is_unique else 'not unique'}")
            return arena
        wanted = True if unique is None else unique
        if wanted not in self._made:
            self._made[wanted] = self._create(wanted)
        return self._made[wanted]

    def twin(self) -> Arena:
        """A second run-made object with the same attribute keys as `get()` (A13)."""
        if self.target.object_slug:
            not_run("needs two objects with the same attribute keys; --object names one")
        if not self._twins:
            self._twins.append(self._create(True))
        return self._twins[0]

    def _create(self, unique: bool) -> Arena:
        made = self.workspace.create_object(assert_object_definition(unique_matching=unique))
        return Arena(self.api, self.workspace, made.schema, self.expect, made.key(MATCHING_LABEL), True,
                     dict(made.keys))

    def _existing(self, slug: str, matching: str) -> Arena:
        if self._configured is None:
            schema = self.workspace.read_schema(slug)
            if matching not in schema.keys:
                not_run(f"{matching!r} is a system or standard attribute of {slug!r}, not a custom one")
            self._configured = Arena(self.api, self.workspace, schema, self.expect, matching, False)
        return self._configured
