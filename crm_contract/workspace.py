"""What a run creates on a target (objects, records) and the clean-up that removes exactly that.

Objects get run-unique slugs; on an existing object (`--object`), only records whose creation the run
saw are deleted at the end, and nothing else is ever modified or deleted.

Everything is written to the run's ledger (`crm_contract.ledger`) before the create is sent, so that
`crm-contract sweep` can remove what a killed run left. A create whose answer is lost is not sent
blindly again: the workspace reads the object back by its run-unique slug (or the attribute by its
label) and goes on with what is there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crm_contract.strategies import AttributeDefinition, ObjectDefinition, ObjectSchema, from_object_schema

from .client import ContractClient, Exchange, OutcomeUnknown
from .ledger import Ledger

# How many times a create whose answer was lost is read back and, if absent, sent again.
_CREATE_ATTEMPTS = 3

__all__ = ["CreatedObject", "SetupError", "Workspace"]


class SetupError(Exception):
    """The target refused a set-up step (creating an object or attribute, reading a schema)."""


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

    def create_object(self, definition: ObjectDefinition) -> CreatedObject:
        if self.ledger is not None:
            self.ledger.object(definition.slug)
        self._objects.append(definition.slug)
        self.definitions[definition.slug] = definition
        for _ in range(_CREATE_ATTEMPTS):
            try:
                response = self.client.post("/crm/objects", json=definition.body())
            except OutcomeUnknown:
                if self._exists(f"/crm/objects/{definition.slug}"):
                    break
                continue
            if response.status_code != 201:
                raise SetupError(f"set-up: cannot create the object {definition.slug}\n{_shown(self.client)}")
            break
        else:
            raise OutcomeUnknown(f"set-up: the answers to creating the object {definition.slug} were lost "
                                 f"{_CREATE_ATTEMPTS} times")
        keys: dict[str, str] = {}
        for attribute in definition.attributes:
            keys[attribute.label] = self._create_attribute(definition.slug, attribute)
        return CreatedObject(self.read_schema(definition.slug), keys)

    def _create_attribute(self, slug: str, attribute: AttributeDefinition) -> str:
        for _ in range(_CREATE_ATTEMPTS):
            try:
                response = self.client.post(f"/crm/objects/{slug}/attributes", json=attribute.body())
            except OutcomeUnknown:
                made = self._attribute_key(slug, attribute.label)
                if made is not None:
                    return made
                continue
            if response.status_code != 201:
                raise SetupError(f"set-up: cannot create the attribute {attribute.label!r} on {slug}\n"
                                 f"{_shown(self.client)}")
            return str(response.json()["attribute"]["key"])
        raise OutcomeUnknown(f"set-up: the answers to creating the attribute {attribute.label!r} on {slug} were "
                             f"lost {_CREATE_ATTEMPTS} times")

    def _attribute_key(self, slug: str, label: str) -> str | None:
        """The key of the attribute labelled `label` on `slug`, if it has one (read back after a lost answer)."""
        response = self.client.get(f"/crm/objects/{slug}")
        if response.status_code != 200:
            raise SetupError(f"set-up: cannot read the object {slug}\n{_shown(self.client)}")
        try:
            attributes = response.json()["object"]["attributes"]
            return next((str(a["key"]) for a in attributes if a.get("label") == label), None)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise SetupError(f"set-up: the schema of {slug} is unreadable: {error!r}") from None

    def _exists(self, path: str) -> bool:
        """Whether a GET of `path` finds it (200) rather than not (404); anything else is a set-up error."""
        status = self.client.get(path).status_code
        if status not in (200, 404):
            raise SetupError(f"set-up: GET {path} answered {status}\n{_shown(self.client)}")
        return status == 200

    def read_schema(self, slug: str) -> ObjectSchema:
        response = self.client.get(f"/crm/objects/{slug}")
        if response.status_code != 200:
            raise SetupError(f"set-up: cannot read the object {slug}\n{_shown(self.client)}")
        try:
            return from_object_schema(response.json())
        except (ValueError, KeyError, TypeError) as error:
            raise SetupError(f"set-up: the schema of {slug} is unreadable: {error}") from None

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


def _shown(client: ContractClient) -> str:
    last: list[Exchange] = list(client.transcript)[-1:]
    return "\n".join(exchange.render() for exchange in last)
