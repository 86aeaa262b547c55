"""Objects (section 2) and attributes (section 3): body validation, key derivation, the JSON forms."""

from __future__ import annotations

import re
from typing import Any

from .clock import later_of_now_and, now
from .errors import ApiError
from .store import AttributeDef, ObjectDef, Store
from .values import MAX_TEXT, SUPPORTED_TYPES, UNIQUE_TYPES

__all__ = [
    "STANDARD_OBJECTS", "SYSTEM_KEYS", "attribute_json", "create_attribute", "create_object", "derive_key",
    "ensure_standard_objects", "object_json", "update_attribute", "update_object",
]

SLUG = re.compile(r"[a-z0-9_-]{3,60}", re.ASCII)
RESERVED_SLUGS = frozenset({"people", "companies", "objects"})
SYSTEM_KEYS = ("id", "created_at", "updated_at")
_SYSTEM_TYPES = {"id": "text", "created_at": "datetime", "updated_at": "datetime"}
STANDARD_OBJECTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "people": ("Person", "People", ("first_name", "last_name")),
    "companies": ("Company", "Companies", ("name", "domain")),
}
OPTION_TYPES = frozenset({"select", "multiselect"})


def object_json(obj: ObjectDef) -> dict[str, Any]:
    return {
        "slug": obj.slug, "singularName": obj.singular_name, "pluralName": obj.plural_name,
        "isStandard": obj.is_standard, "isActive": obj.is_active,
        "attributes": [attribute_json(attr) for attr in obj.attributes],
        "createdAt": obj.created_at, "updatedAt": obj.updated_at,
    }


def attribute_json(attr: AttributeDef) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": attr.key, "label": attr.label, "type": attr.type, "isRequired": attr.is_required,
        "isStandard": attr.is_standard, "isUnique": attr.is_unique, "isArchived": attr.is_archived,
        "createdAt": attr.created_at, "updatedAt": attr.updated_at,
    }
    if attr.options is not None:
        body["options"] = attr.options
    return body


def _check_keys(body: dict[str, Any], allowed: set[str], required: set[str]) -> None:
    errors = {key: ["is not a field of this body"] for key in body if key not in allowed}
    errors.update({key: ["is required"] for key in sorted(required - set(body))})
    if errors:
        raise ApiError(400, "The request body is invalid.", errors)


def _name(body: dict[str, Any], key: str) -> str:
    value = body[key]
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise ApiError(400, f"{key} must be a non-empty string of at most {MAX_TEXT} characters.",
                       {key: ["must be a non-empty string of at most 255 characters"]})
    return value


def _flag(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise ApiError(400, f"{key} must be true or false.", {key: ["must be true or false"]})
    return value


def _system_attribute(key: str, stamp: str) -> AttributeDef:
    label = key.replace("_", " ").capitalize()
    return AttributeDef(key, label, _SYSTEM_TYPES[key], False, True, key == "id", False, None, stamp, stamp)


def ensure_standard_objects(store: Store) -> None:
    """`people` and `companies` exist from the start, as in every Zeeg workspace."""
    for slug, (singular, plural, keys) in STANDARD_OBJECTS.items():
        if store.get_object(slug) is not None:
            continue
        stamp = now()
        store.save_object(ObjectDef(slug, singular, plural, True, True, stamp, stamp))
        for key in SYSTEM_KEYS:
            store.save_attribute(slug, _system_attribute(key, stamp))
        for key in keys:
            label = key.replace("_", " ").capitalize()
            store.save_attribute(slug, AttributeDef(key, label, "text", False, True, False, False, None,
                                                    stamp, stamp))


def create_object(store: Store, body: dict[str, Any]) -> ObjectDef:
    _check_keys(body, {"slug", "singularName", "pluralName", "isActive"}, {"slug", "singularName", "pluralName"})
    slug = body["slug"]
    if not isinstance(slug, str) or not SLUG.fullmatch(slug):
        raise ApiError(400, "slug must be 3 to 60 characters of a-z, 0-9, '-' and '_'.",
                       {"slug": ["must match ^[a-z0-9_-]{3,60}$"]})
    if slug in RESERVED_SLUGS:
        raise ApiError(400, f"The slug '{slug}' is reserved.", {"slug": ["is reserved"]})
    singular, plural = _name(body, "singularName"), _name(body, "pluralName")
    is_active = _flag(body, "isActive", True)
    if store.get_object(slug) is not None:
        raise ApiError(409, f"An object with the slug '{slug}' already exists.", kind="duplicate-slug")
    stamp = now()
    store.save_object(ObjectDef(slug, singular, plural, False, is_active, stamp, stamp))
    for key in SYSTEM_KEYS:
        store.save_attribute(slug, _system_attribute(key, stamp))
    return _reload(store, slug)


def update_object(store: Store, obj: ObjectDef, body: dict[str, Any]) -> ObjectDef:
    if obj.is_standard:
        raise ApiError(403, f"The standard object '{obj.slug}' cannot be changed.")
    _check_keys(body, {"singularName", "pluralName"}, set())
    if "singularName" in body:
        obj.singular_name = _name(body, "singularName")
    if "pluralName" in body:
        obj.plural_name = _name(body, "pluralName")
    obj.updated_at = later_of_now_and(obj.updated_at)
    store.save_object(obj)
    return _reload(store, obj.slug)


def derive_key(label: str, taken: set[str]) -> str:
    """The attribute key for `label`: snake_case, `_2`, `_3`, … added on a collision."""
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_") or "attribute"
    if base[0].isdigit():
        base = f"attr_{base}"
    key, suffix = base, 2
    while key in taken:
        key, suffix = f"{base}_{suffix}", suffix + 1
    return key


def _new_options(raw: Any, existing: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The full replacement list of options: entries with an `id` keep it, the others get a new one."""
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "options must be a non-empty array of {value, color}.",
                       {"options": ["must be a non-empty array"]})
    known = {option["id"]: option for option in existing or ()}
    next_id = max(known, default=0) + 1
    result: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict) or not set(item) <= {"id", "value", "color"} or \
                not {"value", "color"} <= set(item):
            raise ApiError(400, "Each option must be an object {value, color} with an optional id.",
                           {"options": ["each option must be {value, color}"]})
        value, color = item["value"], item["color"]
        if not all(isinstance(text, str) and text.strip() and len(text) <= MAX_TEXT for text in (value, color)):
            raise ApiError(400, "Option value and color must be non-empty strings.",
                           {"options": ["value and color must be non-empty strings"]})
        option_id = item.get("id")
        if option_id is None:
            option_id, next_id = next_id, next_id + 1
        elif isinstance(option_id, bool) or not isinstance(option_id, int) or option_id not in known or \
                any(option["id"] == option_id for option in result):
            raise ApiError(400, f"Option id {option_id!r} is not an option of this attribute.",
                           {"options": [f"unknown option id {option_id!r}"]})
        result.append({"id": option_id, "value": value, "color": color})
    return result


def create_attribute(store: Store, obj: ObjectDef, body: dict[str, Any]) -> AttributeDef:
    _check_keys(body, {"label", "type", "isRequired", "isUnique", "isArchived", "options"},
                {"label", "type", "isRequired"})
    label = _name(body, "label")
    attr_type = body["type"]
    if not isinstance(attr_type, str) or attr_type not in SUPPORTED_TYPES:
        raise ApiError(400, f"type must be one of {', '.join(sorted(SUPPORTED_TYPES))}.",
                       {"type": ["is not a supported type"]})
    is_required, is_unique = _flag(body, "isRequired", False), _flag(body, "isUnique", False)
    is_archived = _flag(body, "isArchived", False)
    if is_unique and attr_type not in UNIQUE_TYPES:
        raise ApiError(400, "isUnique applies only to text, phone_number and number attributes.",
                       {"isUnique": ["not allowed for this type"]})
    options = None
    if attr_type in OPTION_TYPES:
        options = _new_options(body.get("options"), None)
    elif "options" in body:
        raise ApiError(400, "options apply only to select and multiselect attributes.",
                       {"options": ["not allowed for this type"]})
    stamp = now()
    key = derive_key(label, {attr.key for attr in obj.attributes})
    attr = AttributeDef(key, label, attr_type, is_required, False, is_unique, is_archived, options, stamp, stamp)
    store.save_attribute(obj.slug, attr)
    return attr


def update_attribute(store: Store, obj: ObjectDef, attr: AttributeDef, body: dict[str, Any]) -> set[int]:
    """Apply a PATCH to `attr`; return the option ids it removed (the caller clears them on records)."""
    if attr.is_standard:
        raise ApiError(400, f"The standard attribute '{attr.key}' cannot be changed.")
    _check_keys(body, {"label", "isRequired", "isArchived", "options"}, set())
    if "label" in body:
        attr.label = _name(body, "label")
    attr.is_required = _flag(body, "isRequired", attr.is_required)
    attr.is_archived = _flag(body, "isArchived", attr.is_archived)
    removed: set[int] = set()
    if "options" in body:
        if attr.type not in OPTION_TYPES:
            raise ApiError(400, "options apply only to select and multiselect attributes.",
                           {"options": ["not allowed for this type"]})
        options = _new_options(body["options"], attr.options)
        removed = attr.option_ids - {option["id"] for option in options}
        attr.options = options
    attr.updated_at = later_of_now_and(attr.updated_at)
    store.save_attribute(obj.slug, attr)
    return removed


def _reload(store: Store, slug: str) -> ObjectDef:
    obj = store.get_object(slug)
    assert obj is not None, "an object just written is readable in the same transaction"
    return obj
