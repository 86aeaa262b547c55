"""Where the contract leaves room ([R] rules), the choices the server makes: ours, or another honest set.

`crm-contract serve --choices alternative` serves an API that keeps every documented [D] rule but
decides differently wherever docs/contract.md marks a rule [R]: other 4xx codes where only the code is
[R], a richer error envelope, timestamps in another offset, extra fields, the newest record first, and
so on (docs/alternative-choices.md lists each with its rule). The suite under ``--profile documented``
must pass it; under ``--profile strict`` it must fail, naming [R] rules only. Unlike a fault, nothing
here is a bug: a real implementation of the documented API could make every one of these choices.

The reference choices leave every answer as the handlers made it. The alternative ones act at three
points: the validation of a value (`validate`), the status of an [R] error (`status_of`), and the
answer's body (`present`), so the handlers stay those of the reference server.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from .errors import ApiError
from .rules import Rules
from .store import ObjectDef, Store

__all__ = ["CHOICES", "Choices", "get_choices"]

INT32 = 2**31 - 1


@dataclass(frozen=True)
class Choices:
    """One set of choices for the [R] rules; `alternative=False` is the reference server's."""

    name: str
    alternative: bool = False
    # Status for an error whose code is an [R] choice, by kind (ApiError.kind); other errors keep theirs.
    statuses: tuple[tuple[str, int], ...] = ()
    offset: timezone = UTC

    def status_of(self, error: ApiError) -> int:
        return dict(self.statuses).get(error.kind or "", error.status)

    def apply(self, rules: Rules) -> None:
        """The [R] choices that are points of `Rules`: matching order, list order, value validation."""
        if not self.alternative:
            return
        rules.pick_matches = lambda matches: matches[-1:]  # A9: "first" is the newest record
        rules.list_newest_first = True  # section 5: newest first
        rules.validate = _alternative_validate(rules.validate)

    def present(self, body: Any, store: Store, path: str) -> Any:
        """The answer's body as this server shows it (unchanged for the reference choices)."""
        if not self.alternative or not isinstance(body, dict):
            return body
        if body.get("success") is False:
            return self._error(body)
        body = {**body, "requestId": str(uuid.uuid4())}  # extra fields are allowed [R]
        if isinstance(body.get("objects"), list):  # section 2: only custom objects are listed
            body["objects"] = [self._stamped(o) for o in body["objects"] if not o.get("isStandard")]
        for key in ("object", "attribute"):
            if isinstance(body.get(key), dict):
                body[key] = self._stamped(body[key])
        objects: dict[str, ObjectDef | None] = {}  # a page of records shares one object: read it once
        if isinstance(body.get("record"), dict):
            body["record"] = self._record(body["record"], store, objects)
        if isinstance(body.get("collection"), list):
            body["collection"] = [self._record(r, store, objects) for r in body["collection"]]
        if isinstance(body.get("pagination"), dict):  # absolute links, not relative paths [R]
            base = path.split("/crm/")[0]
            body["pagination"] = {key: (f"{base}{value}" if key.endswith("Page") and isinstance(value, str)
                                        else value) for key, value in body["pagination"].items()}
        return body

    def _error(self, body: dict[str, Any]) -> dict[str, Any]:
        """Another error envelope: a code, a request id, and the field errors as a list [R]."""
        shown = {**body, "code": _ERROR_CODES.get(int(body.get("status") or 0), "error"),
                 "requestId": str(uuid.uuid4())}
        if isinstance(body.get("errors"), dict):
            shown["errors"] = [{"field": key, "messages": texts} for key, texts in body["errors"].items()]
        return shown

    def _stamped(self, item: dict[str, Any]) -> dict[str, Any]:
        return {**item, **{key: self._instant(item[key]) for key in ("createdAt", "updatedAt") if key in item}}

    def _instant(self, value: Any) -> Any:
        """The same instant in this server's offset (timestamps carry an explicit offset [D])."""
        try:
            return datetime.fromisoformat(value).astimezone(self.offset).isoformat()
        except (TypeError, ValueError):
            return value

    def _record(self, record: dict[str, Any], store: Store, objects: dict[str, ObjectDef | None]) -> dict[str, Any]:
        slug = str(record.get("objectSlug"))
        if slug not in objects:
            objects[slug] = store.get_object(slug)
        obj = objects[slug]
        shown = self._stamped(record)
        shown["url"] = f"/crm/{record.get('objectSlug')}/{record.get('id')}"
        shown["attributes"] = _attributes(record.get("attributes") or {}, obj, self._instant)
        return shown


def _attributes(values: dict[str, Any], obj: ObjectDef | None, instant: Callable[[Any], Any]) -> dict[str, Any]:
    """Unset attributes left out [R]; datetimes in the server's offset; options with their value."""
    shown: dict[str, Any] = {}
    for key, value in values.items():
        attr = obj.attribute(key) if obj is not None else None
        if value is None:
            continue
        if attr is not None and attr.type == "datetime":
            value = instant(value)
        elif attr is not None and attr.type in ("select", "multiselect"):
            labels = {option["id"]: option.get("value") for option in attr.options or ()}
            picked = value if isinstance(value, list) else [value]
            value_with_labels = [{**item, "value": labels.get(item.get("id"))} for item in picked]
            value = value_with_labels if isinstance(value, list) else value_with_labels[0]
        shown[key] = value
    return shown


def _alternative_validate(validate: Callable[[str, Any, Collection[int]], Any]) -> Callable[..., Any]:
    """Texts stored in NFC (A3's normalisation is [R]); numbers limited to 32 bits (the 2^53 range is [R])."""

    def checked(attr_type: str, value: Any, option_ids: Collection[int]) -> Any:
        stored = validate(attr_type, value, option_ids)
        if attr_type in ("text", "phone_number") and isinstance(stored, str):
            return unicodedata.normalize("NFC", stored)
        if attr_type == "number" and isinstance(stored, int) and abs(stored) > INT32:
            raise ValueError(f"must be a 32-bit integer, between {-INT32} and {INT32}")
        return stored

    return checked


_ERROR_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 422: "unprocessable_entity", 429: "rate_limited"}

CHOICES: dict[str, Choices] = {
    "reference": Choices("reference"),
    "alternative": Choices(
        "alternative",
        alternative=True,
        statuses=(
            ("query", 422),             # A6 and the list's page/count: a bad query parameter
            ("matching-missing", 422),  # A7: a matching value missing from the body
            ("shape", 422),             # section 4: unknown keys, system attributes, a missing required one
            ("not-json", 422),          # section 1: a body that is not a JSON object
            ("duplicate-slug", 400),    # section 2: a slug already taken
            ("method", 404),            # section 1: a method the path does not support
        ),
        offset=timezone(timedelta(hours=2)),
    ),
}


def get_choices(name: str | None) -> Choices:
    try:
        return CHOICES[name or "reference"]
    except KeyError:
        raise ValueError(f"unknown choices {name!r} (known: {', '.join(CHOICES)})") from None
