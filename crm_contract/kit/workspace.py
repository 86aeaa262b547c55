"""What a run creates on a target (objects, records) and the clean-up that removes exactly that.

Objects get run-unique slugs; on an existing object (`--object`), only records whose creation the run
saw are deleted at the end, and nothing else is ever modified or deleted.

Everything is written to the run's ledger (`crm_contract.kit.ledger`) before the create is sent, so that
`crm-contract sweep` can remove what a killed run left. A create whose answer is lost is not sent
blindly again: the workspace reads the object back by its run-unique slug (or the attribute by its
label) and goes on with what is there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import httpx
import pytest

from crm_contract.strategies import AttributeDefinition, ObjectDefinition, ObjectSchema, from_object_schema

from .client import ContractClient, Exchange, OutcomeUnknown, TargetInconclusive
from .ledger import Ledger
from .setup_checks import SetupProblem, attribute_created, object_created, object_read
from .violations import SetupViolation, setup_not_run

# How many times a create whose answer was lost is read back and, if absent, sent again.
_CREATE_ATTEMPTS = 3

__all__ = ["CreatedObject", "Workspace"]


@dataclass(frozen=True)
class CreatedObject:
    """An object the run made: its schema as the target reports it, and the key of each label."""

    schema: ObjectSchema
    keys: dict[str, str]

    @property
    def slug(self) -> str:
        return self.schema.slug

    def key(self, label: str) -> str:
        return self.keys[label]


class Workspace:
    """Creates run-scoped objects and tracks records on existing ones, then removes exactly those."""

    def __init__(self, client: ContractClient, definitions: dict[str, ObjectDefinition] | None = None, *,
                 ledger: Ledger | None = None, foreign: tuple[str, str] | None = None) -> None:
        self.client = client
        self.ledger = ledger
        # The user's object and its matching attribute (`--object`): run-unique keys written into it
        # are ledgered before they are sent.
        self.foreign = foreign
        # Every object made, by slug, also after its deletion: a replay file recreates those it names.
        self.definitions: dict[str, ObjectDefinition] = definitions if definitions is not None else {}
        self._objects: list[str] = []
        self._records: dict[str, set[str]] = {}
        # Set-up calls found broken, by clause and call: the test that reported it.
        self.setup_failures: dict[str, str] = {}

    def create_object(self, definition: ObjectDefinition) -> CreatedObject:
        """Create `definition` with its attributes and read it back, each answer checked (sections 2 and 3).

        A wrong answer fails the test that met it first with a `SetupViolation`; any later test that
        meets a wrong answer to the same call is not run, with the violation as the reason.
        """
        if self.ledger is not None:
            self.ledger.object(definition.slug)
        self._objects.append(definition.slug)
        self.definitions[definition.slug] = definition
        with self.client.exchanges() as log:
            try:
                return self._create(definition)
            except SetupProblem as problem:
                failed = problem
        self._refuse(failed, log)

    def _create(self, definition: ObjectDefinition) -> CreatedObject:
        for _ in range(_CREATE_ATTEMPTS):
            try:
                response = self.client.post("/crm/objects", json=definition.body())
            except OutcomeUnknown:
                if self._exists(f"/crm/objects/{definition.slug}"):
                    break
                continue
            try:
                object_created(response, definition)
            except SetupProblem as problem:
                raise self._read_back(problem, f"/crm/objects/{definition.slug}") from None
            break
        else:
            raise OutcomeUnknown(f"set-up: the answers to creating the object {definition.slug} were lost "
                                 f"{_CREATE_ATTEMPTS} times")
        created: dict[str, dict[str, Any]] = {}
        for attribute in definition.attributes:
            taken = {str(made["key"]) for made in created.values()}
            created[attribute.label] = self._create_attribute(definition.slug, attribute, taken)
        schema = object_read(self.client.get(f"/crm/objects/{definition.slug}"), definition, created)
        return CreatedObject(schema, {label: str(made["key"]) for label, made in created.items()})

    def _create_attribute(self, slug: str, attribute: AttributeDefinition, taken: set[str]) -> dict[str, Any]:
        for _ in range(_CREATE_ATTEMPTS):
            try:
                response = self.client.post(f"/crm/objects/{slug}/attributes", json=attribute.body())
            except OutcomeUnknown:
                made = self._attribute_read_back(slug, attribute.label)
                if made is not None:
                    return made
                continue
            return attribute_created(response, slug, attribute, taken)
        raise OutcomeUnknown(f"set-up: the answers to creating the attribute {attribute.label!r} on {slug} were "
                             f"lost {_CREATE_ATTEMPTS} times")

    def _attribute_read_back(self, slug: str, label: str) -> dict[str, Any] | None:
        """The attribute labelled `label` on `slug`, if it has one (read back after a lost answer)."""
        call = f"GET /crm/objects/{slug}"
        response = self.client.get(f"/crm/objects/{slug}")
        if response.status_code != 200:
            raise SetupProblem("section 2", call, f"expected HTTP 200, got {response.status_code}")
        try:
            attributes = response.json()["object"]["attributes"]
            return next((a for a in attributes if a.get("label") == label and isinstance(a.get("key"), str)), None)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SetupProblem("section 2", call, "the answer is not an object with a list of attributes") from None

    def _read_back(self, problem: SetupProblem, path: str) -> SetupProblem:
        """`problem`, with what a GET of `path` answers: whether the target holds what the wrong answer hid."""
        try:
            response = self.client.get(path)
        except (TargetInconclusive, httpx.HTTPError):
            return problem
        try:
            body = response.json()
            found = body.get("object", {}).get("slug") if isinstance(body, dict) else None
        except (ValueError, AttributeError):
            found = None
        said = f" with the slug {found!r}" if found is not None else ""
        return SetupProblem(problem.clause, problem.call,
                            f"{problem.detail}; GET {path} then answered {response.status_code}{said}")

    def _exists(self, path: str) -> bool:
        """Whether a GET of `path` finds it (200) rather than not (404); anything else is a set-up problem."""
        status = self.client.get(path).status_code
        if status not in (200, 404):
            raise SetupProblem("section 2", f"GET {path}", f"expected HTTP 200 or 404, got {status}")
        return status == 200

    def read_schema(self, slug: str) -> ObjectSchema:
        """The schema of an object the run did not make (`--object`), as `GET /crm/objects/{slug}` gives it."""
        call = f"GET /crm/objects/{slug}"
        with self.client.exchanges() as log:
            response = self.client.get(f"/crm/objects/{slug}")
        if response.status_code != 200:
            self._refuse(SetupProblem("section 2", call, f"expected HTTP 200, got {response.status_code}"), log)
        try:
            return from_object_schema(response.json())
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            problem = SetupProblem("section 2", call, f"the object is unreadable: {error}")
        self._refuse(problem, log)

    def _refuse(self, problem: SetupProblem, log: list[Exchange]) -> NoReturn:
        """Fail the first test that meets a wrong answer to a set-up call; skip the later ones.

        The test that reported it fails the same way each time Hypothesis runs it again.
        """
        key = f"{problem.clause} {problem.kind}"
        current = os.environ.get("PYTEST_CURRENT_TEST", "").rpartition(" ")[0]
        reporter = self.setup_failures.setdefault(key, current)
        if reporter != current:
            pytest.skip(setup_not_run(problem.clause, f"{problem.call}: {problem.detail}", reporter))
        shown = list({id(exchange): exchange for exchange in [*log[:1], *log[-3:]]}.values())
        message = f"[{problem.clause}] set-up: {problem.call}: {problem.detail}\n" + "\n".join(
            exchange.render() for exchange in shown)
        # One raise for every time: Hypothesis tells failures apart by where they were raised.
        raise SetupViolation(problem.clause, f"set-up: {problem.call}: {problem.detail}", log, message,
                             call=problem.call, reporter=current)

    def adopt(self, slug: str) -> None:
        """An object about to be created by another call (schemathesis' createObject): ledgered, and removed
        by `cleanup()` or `delete_object()` like the workspace's own."""
        if slug not in self._objects:
            if self.ledger is not None:
                self.ledger.object(slug)
            self._objects.append(slug)

    def delete_object(self, slug: str) -> None:
        if slug in self._objects:
            if self._delete(f"/crm/objects/{slug}") in (200, 404):
                self._removed(slug)
            self._objects.remove(slug)

    def _delete(self, path: str) -> int:
        """DELETE `path`; a lost answer is met by sending it again (a DELETE acts once: 404 the second time)."""
        return self.client.delete(path, resend_if_lost=True).status_code

    def _removed(self, slug: str, record_id: str | None = None) -> None:
        if self.ledger is not None:
            self.ledger.removed(slug, record_id)

    def track(self, slug: str, record_id: str) -> None:
        """A record the run created on an object it did not create: deleted again by `cleanup()`."""
        if slug not in self._objects:
            if self.ledger is not None and record_id not in self._records.get(slug, ()):
                self.ledger.record(slug, record_id)
            self._records.setdefault(slug, set()).add(record_id)

    def forget(self, slug: str, record_id: str) -> None:
        if record_id in self._records.get(slug, set()):
            self._records[slug].discard(record_id)
            self._removed(slug, record_id)

    def note_write(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any) -> None:
        """Ledger the matching value of a create or assert into the user's object before it is sent.

        Run-unique values only ever go there, so a record that holds one is the run's, also when the
        answer that would have named its id was lost.
        """
        if self.ledger is None or self.foreign is None or not isinstance(body, dict):
            return
        slug, matching = self.foreign
        if method in ("POST", "PUT") and path.rstrip("/") == f"/crm/{slug}" and body.get(matching) is not None:
            self.ledger.key(slug, matching, body[matching])

    def tracked(self, slug: str) -> set[str]:
        return set(self._records.get(slug, ()))

    def cleanup(self) -> list[str]:
        """Delete every tracked record and every created object; return what could not be deleted."""
        left: list[str] = []
        for slug, ids in self._records.items():
            for record_id in sorted(ids):
                status = self._delete(f"/crm/{slug}/{record_id}")
                if status in (200, 404):
                    self._removed(slug, record_id)
                else:
                    left.append(f"record {slug}/{record_id} ({status or 'no answer'})")
        self._records.clear()
        for slug in list(self._objects):
            status = self._delete(f"/crm/objects/{slug}")
            if status in (200, 404):
                self._removed(slug)
            else:
                left.append(f"object {slug} ({status or 'no answer'})")
            self._objects.remove(slug)
        return left

