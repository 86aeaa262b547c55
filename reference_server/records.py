"""Records (section 5) and the assert (section 6): validation of a body, uniqueness, matching, writes.

Every method runs inside one `Store.transaction()`, so a rejected request changes nothing (A10) and
two asserts of the same new value cannot both create (A11). Each point where a fault may deviate is
a field of `Rules`, which holds the contract's behaviour unless a fault replaced it.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from .clock import later_of_now_and, now
from .errors import ApiError
from .objects import SYSTEM_KEYS
from .rules import Rules
from .store import ObjectDef, RecordRow, Store

__all__ = ["Records", "record_json"]


def record_json(obj: ObjectDef, record: RecordRow) -> dict[str, Any]:
    return {
        "id": record.id, "objectSlug": obj.slug,
        "attributes": {attr.key: record.data.get(attr.key) for attr in obj.custom_attributes},
        "createdAt": record.created_at, "updatedAt": record.updated_at,
    }


class Records:
    """The writes to the records of one object, in one transaction of `store`."""

    def __init__(self, store: Store, obj: ObjectDef, rules: Rules) -> None:
        self.store, self.obj, self.rules = store, obj, rules

    def validated(self, body: dict[str, Any]) -> dict[str, Any]:
        """The body with every value in its stored form; 400 naming every bad key (section 4)."""
        errors: dict[str, list[str]] = {}
        shape: set[str] = set()  # keys refused by an [R] rule: system, unknown, a null required attribute
        values: dict[str, Any] = {}
        for key, value in body.items():
            attr = self.obj.attribute(key)
            if key in SYSTEM_KEYS:
                errors[key] = ["is a system attribute and cannot be written"]
                shape.add(key)
            elif attr is None:
                errors[key] = ["is not an attribute of this object"]
                shape.add(key)
            elif value is None:
                if attr.is_required:
                    errors[key] = ["is required and cannot be null"]
                    shape.add(key)
                values[key] = None
            else:
                try:
                    values[key] = self.rules.validate(attr.type, value, attr.option_ids)
                except ValueError as problem:
                    errors[key] = [str(problem)]
        if errors:
            shape_only = all(key in shape for key in errors)  # only [R] problems: the status is a choice
            rejection = ApiError(400, "The record is invalid: " + "; ".join(
                f"{key} {texts[0]}" for key, texts in errors.items()), errors, kind="shape" if shape_only else None)
            rejection.valid_part = values
            raise rejection
        return values

    def value_keys(self, data: dict[str, Any]) -> dict[str, str]:
        return {key: self.rules.match_key(value) for key, value in data.items() if value is not None}

    def find(self, key: str, value: Any) -> list[RecordRow]:
        if self.rules.match_as_pattern and isinstance(value, str):  # a fault: WHERE key ILIKE :value
            pattern = re.compile("".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in value),
                                 re.IGNORECASE | re.DOTALL)
            every = self.store.list_records(self.obj.slug, 0, 1 << 30)
            return [row for row in every if isinstance(row.data.get(key), str) and pattern.fullmatch(row.data[key])]
        if self.rules.lookup_window is not None:  # a fault: only the first page of records is searched
            wanted = self.rules.match_key(value)
            window = self.store.list_records(self.obj.slug, 0, self.rules.lookup_window)
            return [row for row in window
                    if row.data.get(key) is not None and self.rules.match_key(row.data[key]) == wanted]
        slug = None if self.rules.match_across_objects else self.obj.slug
        return self.store.find_by_value(slug, key, self.rules.match_key(value),
                                        include_deleted=self.rules.soft_delete)

    def check_unique(self, values: dict[str, Any], own_seq: int | None) -> None:
        """400 if a unique attribute in `values` holds a value that a *different* record has (A8)."""
        errors: dict[str, list[str]] = {}
        for attr in self.obj.custom_attributes:
            value = values.get(attr.key)
            if attr.is_unique and value is not None and self.rules.unique_collides(self.find(attr.key, value),
                                                                                   own_seq):
                errors[attr.key] = ["is unique and another record already has this value"]
        if errors:
            raise ApiError(400, "A unique value is already taken: " + ", ".join(errors), errors)

    def check_required(self, data: dict[str, Any]) -> None:
        missing = {attr.key: ["is required"] for attr in self.obj.custom_attributes
                   if attr.is_required and data.get(attr.key) is None}
        if missing:
            raise ApiError(400, "Required attributes are missing: " + ", ".join(missing), missing, kind="shape")

    def create(self, body: dict[str, Any]) -> RecordRow:
        return self.insert(self.validated(body))

    def insert(self, values: dict[str, Any]) -> RecordRow:
        self.check_required(values)
        data = self.rules.merge(self.rules.create_defaults(self.obj), values)
        stamp = now()
        record = RecordRow(0, str(uuid.uuid4()), self.obj.slug, data, stamp, stamp)
        try:
            self.check_unique(values, None)
        except ApiError as error:
            if self.rules.commit_rejected_writes:  # a fault: the record was written before the check
                self.store.insert_record(record, self.value_keys(data))
                error.commit = True
            raise
        return self.store.insert_record(record, self.value_keys(data))

    def update(self, record: RecordRow, values: dict[str, Any]) -> RecordRow:
        self.check_unique(values, record.seq)
        record.data = self.rules.merge(record.data, values)
        stamp = later_of_now_and(record.updated_at)
        if self.rules.updated_at_shift_hours:  # a fault: local time written with a UTC offset
            shifted = datetime.fromisoformat(stamp) + timedelta(hours=self.rules.updated_at_shift_hours)
            stamp = shifted.isoformat(timespec="microseconds")
        record.updated_at = stamp
        if not self.rules.keep_created_at:
            record.created_at = stamp
        if not self.rules.update_keeps_id:
            record.id = str(uuid.uuid4())
        self.store.update_record(record, self.value_keys(record.data))
        return record

    def patch(self, record: RecordRow, body: dict[str, Any]) -> RecordRow:
        return self.update(record, self.validated(body))

    def check_matching_attribute(self, matching_attribute: str | None) -> None:
        """A6: the query names a custom attribute of the object."""
        if not self.rules.check_matching_attribute:
            return
        if not matching_attribute:
            raise ApiError(400, "The query parameter matchingAttribute is required.", kind="query")
        if matching_attribute in SYSTEM_KEYS:
            raise ApiError(400, f"The system attribute '{matching_attribute}' cannot be a matching attribute.",
                           kind="query")
        if self.obj.attribute(matching_attribute) is None:
            raise ApiError(400, f"matchingAttribute '{matching_attribute}' is not an attribute of '{self.obj.slug}'.",
                           kind="query")

    def matches(self, matching_attribute: str | None, values: dict[str, Any]) -> list[RecordRow]:
        """The records that hold the body's matching value, oldest first (A3, A7)."""
        attr = self.obj.attribute(matching_attribute or "")
        if not self.rules.check_matching_attribute and (attr is None or attr.is_standard):
            return []  # a fault: an unusable matchingAttribute is taken as "nothing matches"
        match_value = values.get(matching_attribute or "")
        if not self.rules.matching_value_allowed(match_value):
            raise ApiError(400, f"The matching attribute '{matching_attribute}' needs a non-empty value.",
                           {matching_attribute or "matchingAttribute": ["must be present, not null and not empty"]},
                           kind=None if match_value is not None or matching_attribute in values else "matching-missing")
        if match_value is None or not matching_attribute:
            return []
        return self.find(matching_attribute, match_value)

    def assert_(self, matching_attribute: str | None, body: dict[str, Any],
                matches: list[RecordRow] | None = None) -> tuple[RecordRow, bool]:
        """Update the oldest record with the body's matching value, or create one; True if created.

        `matches` is the lookup done earlier, when a fault separates it from the write (A11).
        """
        self.check_matching_attribute(matching_attribute)
        try:
            values = self.validated(body)
        except ApiError as error:
            if matching_attribute in body and body[matching_attribute] in (None, ""):
                error.kind = None  # a null or empty matching value is A7's documented 400, whatever else failed
            if self.rules.commit_rejected_writes and error.valid_part:
                self._write_valid_part(matching_attribute, error.valid_part)
                error.commit = True
            raise
        found = self.matches(matching_attribute, values) if matches is None else matches
        chosen = self.rules.pick_matches(found)
        if not chosen:
            return self.insert(values), True
        for record in chosen:
            if record.deleted:
                self.store.restore_record(record)
            updated = self.update(record, values)
        return updated, False

    def _write_valid_part(self, matching_attribute: str | None, values: dict[str, Any]) -> None:
        """A fault: what was valid in a rejected assert is written before the 400 goes out (A10)."""
        try:
            found = self.matches(matching_attribute, values)
        except ApiError:
            return
        if found:
            found[0].data = self.rules.merge(found[0].data, values)
            self.store.update_record(found[0], self.value_keys(found[0].data))
        elif values:
            stamp = now()
            record = RecordRow(0, str(uuid.uuid4()), self.obj.slug, self.rules.merge({}, values), stamp, stamp)
            self.store.insert_record(record, self.value_keys(record.data))

    def clear_options(self, key: str, removed: set[int]) -> None:
        """Remove deleted options of attribute `key` from every record (section 3)."""
        for record in self.store.all_records(self.obj.slug):
            value = record.data.get(key)
            if isinstance(value, dict) and value.get("id") in removed:
                record.data.pop(key)
            elif isinstance(value, list) and any(item["id"] in removed for item in value):
                record.data[key] = [item for item in value if item["id"] not in removed]
            else:
                continue
            record.updated_at = later_of_now_and(record.updated_at)
            self.store.update_record(record, self.value_keys(record.data))
