"""Records (section 5) and the assert (section 6): validation of a body, uniqueness, matching, writes.

Every function here runs inside one `Store.transaction()`, so a rejected request changes nothing
(A10) and two asserts of the same new value cannot both create (A11).
"""

from __future__ import annotations

import uuid
from typing import Any

from .clock import later_of_now_and, now
from .errors import ApiError
from .objects import SYSTEM_KEYS
from .store import ObjectDef, RecordRow, Store
from .values import matching_key, validate_value

__all__ = ["assert_record", "clear_options", "create_record", "patch_record", "record_json"]


def record_json(obj: ObjectDef, record: RecordRow) -> dict[str, Any]:
    return {
        "id": record.id, "objectSlug": obj.slug,
        "attributes": {attr.key: record.data.get(attr.key) for attr in obj.custom_attributes},
        "createdAt": record.created_at, "updatedAt": record.updated_at,
    }


def _validated(obj: ObjectDef, body: dict[str, Any]) -> dict[str, Any]:
    """The body with every value in its stored form; 400 naming every bad key (section 4)."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for key, value in body.items():
        attr = obj.attribute(key)
        if key in SYSTEM_KEYS:
            errors[key] = ["is a system attribute and cannot be written"]
        elif attr is None:
            errors[key] = ["is not an attribute of this object"]
        elif value is None:
            if attr.is_required:
                errors[key] = ["is required and cannot be null"]
            values[key] = None
        else:
            try:
                values[key] = validate_value(attr.type, value, attr.option_ids)
            except ValueError as error:
                errors[key] = [str(error)]
    if errors:
        raise ApiError(400, "The record is invalid: " + "; ".join(
            f"{key} {texts[0]}" for key, texts in errors.items()), errors)
    return values


def _value_keys(data: dict[str, Any]) -> dict[str, str]:
    return {key: matching_key(value) for key, value in data.items() if value is not None}


def _check_unique(store: Store, obj: ObjectDef, values: dict[str, Any], own_seq: int | None) -> None:
    """400 if a unique attribute in `values` holds a value that a *different* record has (A8)."""
    errors: dict[str, list[str]] = {}
    for attr in obj.custom_attributes:
        value = values.get(attr.key)
        if not attr.is_unique or value is None:
            continue
        holders = store.find_by_value(obj.slug, attr.key, matching_key(value))
        if any(holder.seq != own_seq for holder in holders):
            errors[attr.key] = ["is unique and another record already has this value"]
    if errors:
        raise ApiError(400, "A unique value is already taken: " + ", ".join(errors), errors)


def _check_required(obj: ObjectDef, data: dict[str, Any]) -> None:
    missing = {attr.key: ["is required"] for attr in obj.custom_attributes
               if attr.is_required and data.get(attr.key) is None}
    if missing:
        raise ApiError(400, "Required attributes are missing: " + ", ".join(missing), missing)


def create_record(store: Store, obj: ObjectDef, body: dict[str, Any]) -> RecordRow:
    return _insert(store, obj, _validated(obj, body))


def _insert(store: Store, obj: ObjectDef, values: dict[str, Any]) -> RecordRow:
    _check_required(obj, values)
    _check_unique(store, obj, values, None)
    data = {key: value for key, value in values.items() if value is not None}
    stamp = now()
    record = RecordRow(0, str(uuid.uuid4()), obj.slug, data, stamp, stamp)
    return store.insert_record(record, _value_keys(data))


def _update(store: Store, obj: ObjectDef, record: RecordRow, values: dict[str, Any]) -> RecordRow:
    _check_unique(store, obj, values, record.seq)
    for key, value in values.items():
        if value is None:
            record.data.pop(key, None)
        else:
            record.data[key] = value
    record.updated_at = later_of_now_and(record.updated_at)
    store.update_record(record, _value_keys(record.data))
    return record


def patch_record(store: Store, obj: ObjectDef, record: RecordRow, body: dict[str, Any]) -> RecordRow:
    return _update(store, obj, record, _validated(obj, body))


def assert_record(store: Store, obj: ObjectDef, matching_attribute: str | None,
                  body: dict[str, Any]) -> tuple[RecordRow, bool]:
    """Update the oldest record with the body's matching value, or create one; True if created."""
    if not matching_attribute:
        raise ApiError(400, "The query parameter matchingAttribute is required.")
    if matching_attribute in SYSTEM_KEYS:
        raise ApiError(400, f"The system attribute '{matching_attribute}' cannot be a matching attribute.")
    if obj.attribute(matching_attribute) is None:
        raise ApiError(400, f"matchingAttribute '{matching_attribute}' is not an attribute of '{obj.slug}'.")
    values = _validated(obj, body)
    match_value = values.get(matching_attribute)
    if match_value is None or match_value == "":
        raise ApiError(400, f"The matching attribute '{matching_attribute}' needs a non-empty value.",
                       {matching_attribute: ["must be present, not null and not empty"]})
    matches = store.find_by_value(obj.slug, matching_attribute, matching_key(match_value))
    if matches:
        return _update(store, obj, matches[0], values), False
    return _insert(store, obj, values), True


def clear_options(store: Store, obj: ObjectDef, key: str, removed: set[int]) -> None:
    """Remove deleted options of attribute `key` from every record of `obj` (section 3)."""
    for record in store.all_records(obj.slug):
        value = record.data.get(key)
        if isinstance(value, dict) and value.get("id") in removed:
            record.data.pop(key)
        elif isinstance(value, list) and any(item["id"] in removed for item in value):
            record.data[key] = [item for item in value if item["id"] not in removed]
        else:
            continue
        record.updated_at = later_of_now_and(record.updated_at)
        store.update_record(record, _value_keys(record.data))
