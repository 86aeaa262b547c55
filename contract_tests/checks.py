"""Checks as plain functions of one shape: each names its contract rule and shows the exchanges.

A failing check raises `ContractViolation` (an `AssertionError`) with a message that starts with the rule
(`[A2]`, `[section 5]`) and ends with the requests and responses that led to it, oldest first; the
exception carries the same as data, and the expected and observed status where a check compares one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NoReturn

import httpx
from crm_contract.contract_tests.expectations import PARTS, Expectations
from crm_contract.strategies import ObjectSchema, same_value

from crm_contract.kit.client import Exchange
from crm_contract.kit.violations import ContractViolation

__all__ = [
    "UUID", "envelope_of", "error_of", "fail", "parse_timestamp", "record_of", "record_agrees", "render",
]

STRICT = Expectations("strict")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def render(exchanges: Sequence[Exchange], limit: int = 40) -> str:
    """The exchanges as a replayable list: writes always, reads only near the end (they are checks)."""
    shown = [ex for i, ex in enumerate(exchanges) if ex.method != "GET" or i >= len(exchanges) - 3]
    dropped = len(shown) - limit
    if dropped > 0:
        shown = shown[-limit:]
    head = f"  … {dropped} earlier exchanges not shown\n" if dropped > 0 else ""
    return "requests and responses, oldest first:\n" + head + "\n".join(ex.render() for ex in shown)


def fail(rule: str, message: str, exchanges: Sequence[Exchange], *, expected: Any = None,
         observed: Any = None) -> NoReturn:
    raise ContractViolation(rule, message, exchanges, f"[{rule}] {message}\n{render(exchanges)}",
                            expected=expected, observed=observed)


def envelope_of(response: httpx.Response, status: int, rule: str, exchanges: Sequence[Exchange]) -> dict[str, Any]:
    """The success envelope of `response`, which must have HTTP `status` (section 1)."""
    if response.status_code != status:
        fail(rule, f"expected HTTP {status}, got {response.status_code}", exchanges, expected={"status": status},
             observed={"status": response.status_code})
    try:
        body = response.json()
    except ValueError:
        fail("section 1", "the response body is not JSON", exchanges)
    if not isinstance(body, dict) or body.get("success") is not True or body.get("status") != status:
        fail("section 1", f"expected the envelope {{success: true, status: {status}, …}}", exchanges)
    return body


def error_of(response: httpx.Response, status: int, rule: str, exchanges: Sequence[Exchange],
             *, expect: Expectations, part: str | None = None) -> None:
    """`response` must be the error `status`, and the error envelope where that part of the contract holds.

    `part` (one of `expectations.PARTS`) makes the exact status a reference choice: where it does not
    hold, any 4xx is enough; where it holds and is broken, the failure names that part, not `rule`.
    """
    if not expect.status_ok(part, status, response.status_code):
        named = rule
        if part is not None and 400 <= response.status_code < 500:  # another 4xx: the [R] part is what broke
            named = Expectations.label(part) if rule == PARTS[part].rule else f"{rule} ({Expectations.label(part)})"
        fail(named, f"expected HTTP {status}, got {response.status_code}", exchanges, expected={"status": status},
             observed={"status": response.status_code})
    if not expect.holds("error-envelope"):
        return
    envelope = Expectations.label("error-envelope")
    try:
        body = response.json()
    except ValueError:
        fail(envelope, "the error response is not JSON", exchanges)
    if not isinstance(body, dict) or body.get("success") is not False or body.get("status") != status:
        fail(envelope, f"expected the error envelope {{success: false, status: {status}, message}}", exchanges)


def record_of(response: httpx.Response, status: int, rule: str, exchanges: Sequence[Exchange],
              slug: str) -> dict[str, Any]:
    """The `record` of a success envelope: a UUID id, the object's slug, an attributes object."""
    record = envelope_of(response, status, rule, exchanges).get("record")
    if not isinstance(record, dict):
        fail("section 5", "the envelope has no 'record' object", exchanges)
    if not isinstance(record.get("id"), str) or not UUID.fullmatch(record["id"]):
        fail("section 1", f"the record id {record.get('id')!r} is not a UUID", exchanges)
    if record.get("objectSlug") != slug:
        fail("section 5", f"objectSlug is {record.get('objectSlug')!r}, not {slug!r}", exchanges)
    if not isinstance(record.get("attributes"), dict):
        fail("section 5", "the record's 'attributes' is not an object", exchanges)
    return record


def parse_timestamp(value: Any, what: str, exchanges: Sequence[Exchange]) -> datetime:
    """An ISO 8601 timestamp with an explicit offset (section 1)."""
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.utcoffset() is None:
        fail("section 1", f"{what} {value!r} is not an ISO 8601 timestamp with an offset", exchanges)
    return parsed


def record_agrees(record: dict[str, Any], expected: dict[str, Any], schema: ObjectSchema, rule: str,
                  exchanges: Sequence[Exchange], *, expect: Expectations = STRICT) -> None:
    """Every attribute of `record` holds the value the model expects (section 4 round trip).

    An attribute left out of the record counts as null, except where the record must list every
    attribute (an [R] part, `record-lists-every-attribute`).
    """
    listed_in_full = expect.holds("record-lists-every-attribute")
    attributes = record.get("attributes") or {}
    for attr in schema.attributes:
        if not attr.supported:
            continue
        if attr.key not in attributes and listed_in_full:
            fail(Expectations.label("record-lists-every-attribute"), f"attribute {attr.key!r} is missing from "
                 "the record (it must be there, null where unset)", exchanges)
        got, want = attributes.get(attr.key), expected.get(attr.key)
        if not same_value(attr.type, want, got):
            fail(rule, f"record {record.get('id')}: {attr.key!r} is {got!r}, expected {want!r}", exchanges,
                 expected={attr.key: want}, observed={attr.key: got})
