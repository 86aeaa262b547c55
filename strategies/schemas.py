"""Object schemas: definitions the suite creates on a target, and schemas read back from one.

`object_schemas()` generates custom-object definitions (slug, attributes with types, `isUnique`,
`isRequired`, options) as request bodies. `from_object_schema()` turns an object as returned by
`GET /crm/objects/{slug}`, from any implementation, into an `ObjectSchema` that the payload
strategies work from.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from .dispatch import OPTION_TYPES, SUPPORTED_TYPES, TYPE_RULES, UNIQUE_TYPES

__all__ = [
    "SYSTEM_KEYS", "UNIQUE_TYPES", "Attribute", "AttributeDefinition", "ObjectDefinition", "ObjectSchema",
    "attribute_definitions", "from_object_schema", "object_schemas", "type_label", "typed_attribute",
]

SYSTEM_KEYS = frozenset({"id", "created_at", "updated_at"})


@dataclass(frozen=True)
class Attribute:
    """One attribute of an object as the target reports it: what payloads need to know."""

    key: str
    type: str
    is_unique: bool = False
    is_required: bool = False
    option_ids: tuple[int, ...] = ()

    @property
    def supported(self) -> bool:
        return self.type in SUPPORTED_TYPES


@dataclass(frozen=True)
class ObjectSchema:
    """An object's slug and its custom attributes (system and standard attributes left out)."""

    slug: str
    attributes: tuple[Attribute, ...] = field(default=())

    def attribute(self, key: str) -> Attribute:
        for attr in self.attributes:
            if attr.key == key:
                return attr
        raise KeyError(f"{self.slug} has no custom attribute {key!r}")

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(attr.key for attr in self.attributes)

    def of_type(self, *types: str) -> tuple[Attribute, ...]:
        return tuple(attr for attr in self.attributes if attr.type in types)


def from_object_schema(schema: Mapping[str, Any]) -> ObjectSchema:
    """The `ObjectSchema` of an object returned by `GET /crm/objects/{slug}` (the `object`, or the envelope).

    Keeps custom attributes of every type, supported or not (payloads leave unsupported ones out), and
    skips system and standard attributes. Raises ValueError on a body that is not an object schema.
    """
    obj = schema.get("object", schema)
    try:
        slug = obj["slug"]
        raw_attributes = obj["attributes"]
    except (KeyError, TypeError):
        raise ValueError("not an object schema: it needs 'slug' and 'attributes'") from None
    attributes = []
    for raw in raw_attributes:
        if raw.get("isStandard") or raw.get("key") in SYSTEM_KEYS:
            continue
        option_ids = tuple(option["id"] for option in raw.get("options") or () if "id" in option)
        attributes.append(Attribute(raw["key"], raw["type"], bool(raw.get("isUnique")),
                                    bool(raw.get("isRequired")), option_ids))
    return ObjectSchema(slug, tuple(attributes))


@dataclass(frozen=True)
class AttributeDefinition:
    """The body of `POST /crm/objects/{slug}/attributes`: the target derives the key from the label."""

    label: str
    type: str
    is_required: bool = False
    is_unique: bool = False
    options: tuple[str, ...] = ()

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"label": self.label, "type": self.type, "isRequired": self.is_required}
        if self.is_unique:
            body["isUnique"] = True
        if self.type in OPTION_TYPES:
            body["options"] = [{"value": value, "color": _COLORS[i % len(_COLORS)]}
                               for i, value in enumerate(self.options)]
        return body


_COLORS = ("#e11d48", "#2563eb", "#16a34a", "#f59e0b", "#7c3aed")


@dataclass(frozen=True)
class ObjectDefinition:
    """A custom object to create: the body of `POST /crm/objects` and its attributes' bodies."""

    slug: str
    singular_name: str
    plural_name: str
    attributes: tuple[AttributeDefinition, ...]

    def body(self) -> dict[str, Any]:
        return {"slug": self.slug, "singularName": self.singular_name, "pluralName": self.plural_name}


_WORDS = ("Sku", "External Id", "Email", "Name", "Price", "Quantity", "Active", "Due Date", "Starts At",
          "Stage", "Tags", "Phone", "Notes", "Rank")


def attribute_definitions(*, types: Sequence[str] = tuple(sorted(SUPPORTED_TYPES)),
                          allow_required: bool = True) -> st.SearchStrategy[AttributeDefinition]:
    """One attribute definition of a type in `types`: a readable label, flags the type allows, options.

    `isUnique` only on text, phone_number and number; one to four options for select and multiselect.
    Shrinks towards a plain, optional, non-unique attribute of the first type.
    """
    unknown = set(types) - SUPPORTED_TYPES
    if not types or unknown:
        raise ValueError(f"types must be a non-empty subset of {sorted(SUPPORTED_TYPES)}, got {list(types)}")

    @st.composite
    def build(draw: st.DrawFn) -> AttributeDefinition:
        attr_type = draw(st.sampled_from(list(types)))
        label = draw(st.sampled_from(_WORDS))
        unique = attr_type in UNIQUE_TYPES and draw(st.booleans())
        required = allow_required and draw(st.booleans())
        options: tuple[str, ...] = ()
        if attr_type in OPTION_TYPES:
            options = tuple(draw(st.lists(st.sampled_from(["Red", "Green", "Blue", "Gold", "Grey"]),
                                          min_size=1, max_size=4, unique=True)))
        return AttributeDefinition(label, attr_type, required, unique, options)

    return build()


def object_schemas(*, prefix: str = "cc", min_attributes: int = 1, max_attributes: int = 8,
                   types: Sequence[str] = tuple(sorted(SUPPORTED_TYPES)),
                   allow_required: bool = True) -> st.SearchStrategy[ObjectDefinition]:
    """Custom-object definitions with a fresh slug (`<prefix>-<8 hex>`) and 1–8 attributes.

    The slug's random part comes from the system's randomness, not from Hypothesis, so every example
    names a new object even when Hypothesis replays it. Labels may repeat (the target then derives
    `_2`, `_3` keys). Shrinks towards one plain attribute.
    """
    if not 1 <= min_attributes <= max_attributes:
        raise ValueError(f"need 1 <= min_attributes <= max_attributes, got {min_attributes}, {max_attributes}")
    attributes = st.lists(attribute_definitions(types=types, allow_required=allow_required),
                          min_size=min_attributes, max_size=max_attributes).map(tuple)
    slugs = st.builds(lambda: f"{prefix}-{secrets.token_hex(4)}")
    return st.builds(lambda slug, attrs: ObjectDefinition(slug, f"Contract {slug}", f"Contract {slug}s", attrs),
                     slugs, attributes)


def type_label(attr_type: str) -> str:
    """The label a run-made attribute of `attr_type` gets: "phone_number" is "Phone Number"."""
    return attr_type.replace("_", " ").title()


def typed_attribute(label: str, attr_type: str, *, is_unique: bool = False,
                    is_required: bool = False) -> AttributeDefinition:
    """An attribute of `attr_type`, with the type's sample options (`TYPE_RULES`) when it has options."""
    return AttributeDefinition(label, attr_type, is_unique=is_unique, is_required=is_required,
                               options=TYPE_RULES[attr_type].sample_options)
