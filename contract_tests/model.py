"""A plain-Python model of one object's records, and what the contract says each request must do.

The model knows only what the contract states: exact matching (A3), the oldest match wins (A9),
omitted attributes null on create and kept on update (A4), unique values (A8), required attributes
(section 4). Checks compare the target's answers with its predictions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crm_contract.strategies import ObjectSchema, same_value

__all__ = ["ModelRecord", "Prediction", "RecordModel"]


@dataclass
class ModelRecord:
    id: str
    values: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Prediction:
    """What a write must do: `create`, `update` (of `record`) or `reject`, and the rule that says so."""

    outcome: str
    rule: str
    record: ModelRecord | None = None
    detail: str = ""
    # The part of the contract (expectations.PARTS) that makes the exact status, or the choice of
    # `record` among `candidates`, a reference choice; None when all of it is documented.
    part: str | None = None
    candidates: tuple[ModelRecord, ...] = ()

    @property
    def status(self) -> int:
        return {"create": 201, "update": 200, "reject": 400}[self.outcome]


@dataclass
class RecordModel:
    """The records of one object that the run made, oldest first, with every attribute's value."""

    schema: ObjectSchema
    records: list[ModelRecord] = field(default_factory=list)

    def equal(self, key: str, left: Any, right: Any) -> bool:
        return same_value(self.schema.attribute(key).type, left, right)

    def holders(self, key: str, value: Any) -> list[ModelRecord]:
        """Records whose `key` is exactly `value` (A3), oldest first; `null` is held by nobody."""
        if value is None:
            return []
        return [record for record in self.records if self.equal(key, record.values.get(key), value)]

    def by_id(self, record_id: str) -> ModelRecord | None:
        return next((record for record in self.records if record.id == record_id), None)

    def _collision(self, body: dict[str, Any], own: ModelRecord | None) -> str | None:
        for attr in self.schema.attributes:
            if attr.is_unique and attr.key in body:
                if any(holder is not own for holder in self.holders(attr.key, body[attr.key])):
                    return attr.key
        return None

    def _missing_required(self, body: dict[str, Any]) -> list[str]:
        return [attr.key for attr in self.schema.attributes if attr.is_required and body.get(attr.key) is None]

    def predict_create(self, body: dict[str, Any]) -> Prediction:
        """`POST /crm/{slug}` with a body of valid values."""
        if missing := self._missing_required(body):
            return Prediction("reject", "section 5", detail=f"required attribute(s) {missing} missing or null",
                              part="shape-status")
        if (key := self._collision(body, None)) is not None:
            return Prediction("reject", "A8", detail=f"unique attribute {key!r} already held by another record")
        return Prediction("create", "section 5")

    def predict_update(self, record: ModelRecord, body: dict[str, Any]) -> Prediction:
        """`PATCH /crm/{slug}/{id}` with a body of valid values."""
        nulled = [attr.key for attr in self.schema.attributes
                  if attr.is_required and attr.key in body and body[attr.key] is None]
        if nulled:
            return Prediction("reject", "section 4", detail=f"null on required attribute(s) {nulled}",
                              part="shape-status")
        if (key := self._collision(body, record)) is not None:
            return Prediction("reject", "A8", record, detail=f"unique attribute {key!r} held by another record")
        return Prediction("update", "A4", record)

    def predict_assert(self, matching: str, body: dict[str, Any]) -> Prediction:
        """`PUT /crm/{slug}?matchingAttribute=…` with a body of valid values."""
        value = body.get(matching)
        if matching not in body:
            return Prediction("reject", "A7", detail="the matching value is missing", part="A7-missing")
        if value is None or value == "":
            return Prediction("reject", "A7", detail="the matching value is null or empty")
        holders = self.holders(matching, value)
        if not holders:
            prediction = self.predict_create(body)
            return Prediction("create", "A1") if prediction.outcome == "create" else prediction
        first = holders[0]
        prediction = self.predict_update(first, body)
        if prediction.outcome == "update" and len(holders) > 1:  # A9: the first [D], meaning the oldest [R]
            return Prediction("update", "A9", first, part="A9-oldest", candidates=tuple(holders))
        if prediction.outcome == "update":
            return Prediction("update", "A2", first)
        return prediction

    def same_outcome_for_every_holder(self, matching: str, body: dict[str, Any]) -> bool:
        """Whether updating any record that holds the matching value would succeed or fail alike (A9)."""
        holders = self.holders(matching, body.get(matching))
        return len({self.predict_update(holder, body).outcome for holder in holders}) <= 1

    # Applying what the target confirmed --------------------------------------------------------------

    def created(self, record_id: str, body: dict[str, Any], created_at: datetime, updated_at: datetime) -> ModelRecord:
        values = {attr.key: body.get(attr.key) for attr in self.schema.attributes}
        record = ModelRecord(record_id, values, created_at, updated_at)
        self.records.append(record)
        return record

    def updated(self, record: ModelRecord, body: dict[str, Any], updated_at: datetime) -> None:
        record.values.update({key: value for key, value in body.items() if key in record.values})
        record.updated_at = updated_at

    def deleted(self, record: ModelRecord) -> None:
        self.records.remove(record)
