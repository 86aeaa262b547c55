"""What a run creates on a target (objects, records) and the clean-up that removes exactly that.

Objects get run-unique slugs; on an existing object (`--object`), only records whose creation the run
saw are deleted at the end, and nothing else is ever modified or deleted.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_contract.strategies import AttributeDefinition, ObjectDefinition, ObjectSchema, from_object_schema

from .client import ContractClient, Exchange

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

    def __init__(self, client: ContractClient, definitions: dict[str, ObjectDefinition] | None = None) -> None:
        self.client = client
        # Every object made, by slug, also after its deletion: a replay file recreates those it names.
        self.definitions: dict[str, ObjectDefinition] = definitions if definitions is not None else {}
        self._objects: list[str] = []
        self._records: dict[str, set[str]] = {}

    def create_object(self, definition: ObjectDefinition) -> CreatedObject:
        response = self.client.post("/crm/objects", json=definition.body())
        if response.status_code != 201:
            raise SetupError(f"set-up: cannot create the object {definition.slug}\n{_shown(self.client)}")
        self._objects.append(definition.slug)
        self.definitions[definition.slug] = definition
        keys: dict[str, str] = {}
        for attribute in definition.attributes:
            keys[attribute.label] = self._create_attribute(definition.slug, attribute)
        return CreatedObject(self.read_schema(definition.slug), keys)

    def _create_attribute(self, slug: str, attribute: AttributeDefinition) -> str:
        response = self.client.post(f"/crm/objects/{slug}/attributes", json=attribute.body())
        if response.status_code != 201:
            raise SetupError(f"set-up: cannot create the attribute {attribute.label!r} on {slug}\n"
                             f"{_shown(self.client)}")
        return str(response.json()["attribute"]["key"])

    def read_schema(self, slug: str) -> ObjectSchema:
        response = self.client.get(f"/crm/objects/{slug}")
        if response.status_code != 200:
            raise SetupError(f"set-up: cannot read the object {slug}\n{_shown(self.client)}")
        try:
            return from_object_schema(response.json())
        except (ValueError, KeyError, TypeError) as error:
            raise SetupError(f"set-up: the schema of {slug} is unreadable: {error}") from None

    def delete_object(self, slug: str) -> None:
        if slug in self._objects:
            self.client.delete(f"/crm/objects/{slug}")
            self._objects.remove(slug)

    def track(self, slug: str, record_id: str) -> None:
        """A record the run created on an object it did not create: deleted again by `cleanup()`."""
        if slug not in self._objects:
            self._records.setdefault(slug, set()).add(record_id)

    def forget(self, slug: str, record_id: str) -> None:
        self._records.get(slug, set()).discard(record_id)

    def tracked(self, slug: str) -> set[str]:
        return set(self._records.get(slug, ()))

    def cleanup(self) -> list[str]:
        """Delete every tracked record and every created object; return what could not be deleted."""
        left: list[str] = []
        for slug, ids in self._records.items():
            for record_id in sorted(ids):
                status = self.client.delete(f"/crm/{slug}/{record_id}").status_code
                if status not in (200, 404):
                    left.append(f"record {slug}/{record_id} ({status})")
        self._records.clear()
        for slug in list(self._objects):
            status = self.client.delete(f"/crm/objects/{slug}").status_code
            if status not in (200, 404):
                left.append(f"object {slug} ({status})")
            self._objects.remove(slug)
        return left


def _shown(client: ContractClient) -> str:
    last: list[Exchange] = list(client.transcript)[-1:]
    return "\n".join(exchange.render() for exchange in last)
