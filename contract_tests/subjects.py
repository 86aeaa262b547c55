"""The objects the suite works on, behind one helper: `ObjectUnderTest`.

An object under test is a run-made object (with its labels' keys) or the user's ``--object``; it holds
the schema as the target reported it and the matching attribute, pages through its records, tracks the
records made in an object the run did not create, and cleans up after itself (`release`). The stateful
machine, the per-rule tests (`rule_support.Arena` adds their checks to it) and the section 4 and 5
tests (`calls.RecordCalls` drives one) all use it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from crm_contract.contract_tests.checks import envelope_of, fail
from crm_contract.contract_tests.expectations import Expectations
from crm_contract.strategies import (
    SUPPORTED_TYPES,
    TYPE_RULES,
    AttributeDefinition,
    ObjectDefinition,
    ObjectSchema,
    run_id,
    type_label,
    typed_attribute,
)

from crm_contract.kit.client import READ_CONCURRENCY, ContractClient, Exchange
from crm_contract.kit.target import Target
from crm_contract.kit.workspace import Workspace

__all__ = ["MATCHING_LABEL", "PAGE_SIZE", "ObjectUnderTest", "assert_object_definition", "make_subject"]

MATCHING_LABEL = "External Id"
PAGE_SIZE = 100  # records a page when the suite reads every record of an object (the most section 5 allows)
Record = dict[str, Any]


def assert_object_definition(*, unique_matching: bool, prefix: str | None = None) -> ObjectDefinition:
    """An object with a text matching attribute and one attribute of every supported type.

    The types come from the strategies' table (`TYPE_RULES`), so a new type is in it by itself. Each
    type that may be unique gets a second, unique attribute ("Unique Number", ...) for A8 and A14, and
    the checkbox is required, for the required-attribute rules of section 4.
    """
    slug = f"{(prefix or run_id()).replace('_', '-')}-{secrets.token_hex(4)}"
    attributes = [AttributeDefinition(MATCHING_LABEL, "text", is_unique=unique_matching)]
    for attr_type in sorted(SUPPORTED_TYPES):
        rules = TYPE_RULES[attr_type]
        attributes.append(typed_attribute(type_label(attr_type), attr_type, is_required=attr_type == "checkbox"))
        if rules.may_be_unique:
            attributes.append(typed_attribute(f"Unique {type_label(attr_type)}", attr_type, is_unique=True))
    return ObjectDefinition(slug, f"Contract {slug}", f"Contract {slug}s", tuple(attributes))


@dataclass
class ObjectUnderTest:
    """One object the suite works on: its schema, its matching attribute, its records, and its clean-up."""

    api: ContractClient
    workspace: Workspace
    schema: ObjectSchema
    expect: Expectations
    matching: str = ""  # the matching attribute's key ("" for an object that is not asserted into)
    owned: bool = True  # made by the run (deleted whole by `release`), or the user's --object
    labels: dict[str, str] = field(default_factory=dict)  # label -> key, of a run-made object
    prefix: str = field(default_factory=run_id)  # the prefix of the keys and unique values it gets

    @classmethod
    def create(cls, api: ContractClient, workspace: Workspace, expect: Expectations, definition: ObjectDefinition,
               *, matching_label: str | None = None, prefix: str | None = None) -> ObjectUnderTest:
        """A run-made object of `definition`, its set-up answers checked (sections 2 and 3)."""
        made = workspace.create_object(definition)
        return cls(api, workspace, made.schema, expect, made.key(matching_label) if matching_label else "", True,
                   dict(made.keys), prefix or run_id())

    @classmethod
    def existing(cls, api: ContractClient, workspace: Workspace, expect: Expectations, slug: str, matching: str,
                 *, prefix: str | None = None) -> ObjectUnderTest:
        """The user's --object, its schema read from the target."""
        return cls(api, workspace, workspace.read_schema(slug), expect, matching, False, {}, prefix or run_id())

    @property
    def slug(self) -> str:
        return self.schema.slug

    @property
    def path(self) -> str:
        return f"/crm/{self.schema.slug}"

    def key(self, label: str) -> str:
        """The key of a labelled attribute of a run-made object."""
        return self.labels[label]

    # Records ------------------------------------------------------------------------------------------

    def track(self, record_id: str) -> None:
        """A record made in this object: removed by `release` (and the run's clean-up) if the run did not make it."""
        self.workspace.track(self.slug, record_id)

    def forget(self, record_id: str) -> None:
        self.workspace.forget(self.slug, record_id)

    def page(self, rule: str, log: Sequence[Exchange], *, checked: bool = True, **params: Any) -> Record:
        """One page of the record list.

        `checked`: the answer must be the success envelope with a `collection` array and a `pagination`
        object (section 1 and the list's [R] shape); otherwise only its status is (200).
        """
        return self._page_of(self.api.get(self.path, params=params or None), rule, log, checked=checked)

    def _page_of(self, response: Any, rule: str, log: Sequence[Exchange], *, checked: bool) -> Record:
        if not checked:
            if response.status_code != 200:
                fail(rule, f"listing the records answered {response.status_code}", log)
            body = response.json()
            return body if isinstance(body, dict) else {}
        body = envelope_of(response, 200, rule, log)
        if not isinstance(body.get("collection"), list) or not isinstance(body.get("pagination"), dict):
            fail(rule, "the list envelope needs a 'collection' array and a 'pagination' object", log)
        return body

    def records(self, rule: str, log: Sequence[Exchange], *, checked: bool = False) -> list[Record]:
        """Every record of the object, page by page, in list order [R]; see `page` for `checked`.

        The first page says how many there are; the others are read several at once (`read_all`), and
        joined in page order, up to the first empty one.
        """
        body = self.page(rule, log, checked=checked, page=1, count=PAGE_SIZE)
        pages = int((body.get("pagination") or {}).get("totalPages") or 0)
        items = body.get("collection") or []
        listed: list[Record] = [item for item in items if isinstance(item, dict)]
        number = 2
        while items and number <= pages:
            batch = range(number, min(pages, number + READ_CONCURRENCY - 1) + 1)
            for answer in self.api.read_all([f"{self.path}?page={n}&count={PAGE_SIZE}" for n in batch]):
                items = self._page_of(answer, rule, log, checked=checked).get("collection") or []
                listed.extend(item for item in items if isinstance(item, dict))
                if not items:
                    break
            number = batch.stop
        return listed

    # Clean-up -----------------------------------------------------------------------------------------

    def delete_records(self, record_ids: Sequence[str] | None = None) -> None:
        """Delete `record_ids` (default: every record tracked in this object); a 404 is as good as a 200."""
        for record_id in list(self.workspace.tracked(self.slug) if record_ids is None else record_ids):
            self.api.delete(f"{self.path}/{record_id}", resend_if_lost=True)
            self.forget(record_id)

    def release(self) -> None:
        """Remove what was made for it: the whole object if the run made it, else the records it tracked."""
        if self.owned:
            self.workspace.delete_object(self.slug)
        else:
            self.delete_records()


def make_subject(target: Target, api: ContractClient, workspace: Workspace, *,
                 unique_matching: bool) -> Callable[[], ObjectUnderTest]:
    """A factory of objects under test: a fresh run-made object each time, or the `--object` one."""
    prefix = run_id()
    if target.object_slug and target.matching_attribute:
        slug, matching = target.object_slug, target.matching_attribute
        user_object = ObjectUnderTest.existing(api, workspace, target.expect, slug, matching, prefix=prefix)
        return lambda: user_object

    def owned() -> ObjectUnderTest:
        return ObjectUnderTest.create(api, workspace, target.expect,
                                      assert_object_definition(unique_matching=unique_matching, prefix=prefix),
                                      matching_label=MATCHING_LABEL, prefix=prefix)

    return owned
