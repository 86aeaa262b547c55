"""Hostile targets: the reference server behind a middleware that mangles the shape of its answers.

Each is named after what it does to the answers it mangles (`HOSTILE_APPS`): a resource under the wrong
key, fields of the wrong type, fields left out, extra fields, empty bodies, HTML. Most mangle only the
answers of the record calls, so the run's set-up works and every test meets the mangled answers; two
mangle the set-up calls themselves. The one that only adds fields is a correct API (APIs grow): the
suite must pass it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HOSTILE_APPS", "Mangle"]

Mangle = Callable[[int, Any], Any]  # (status, parsed JSON answer) -> the answer to send (bytes: as is)


def _records(scope: Scope) -> bool:
    """The record calls: /v2/crm/{slug}[/{id}], not /v2/crm/objects..."""
    path = scope["path"].removeprefix("/v2")
    return path.startswith("/crm/") and not path.startswith("/crm/objects")


def _attributes(scope: Scope) -> bool:
    return scope["method"] == "POST" and scope["path"].endswith("/attributes")


def _object_read(scope: Scope) -> bool:
    parts = scope["path"].removeprefix("/v2").strip("/").split("/")
    return scope["method"] == "GET" and parts[:2] == ["crm", "objects"] and len(parts) == 3


def wrong_key(status: int, body: Any) -> Any:
    """The record under `data` instead of `record`."""
    if isinstance(body, dict) and "record" in body:
        body["data"] = body.pop("record")
    return body


def wrong_types(status: int, body: Any) -> Any:
    """A record's id a number, its attributes a list, its timestamps numbers; a list's pagination a string."""
    record = body.get("record") if isinstance(body, dict) else None
    if isinstance(record, dict):
        record.update(id=12345, attributes=list((record.get("attributes") or {}).values()), createdAt=0, updatedAt=0)
    if isinstance(body, dict) and "pagination" in body:
        body["pagination"] = "1 of 1"
        body["collection"] = {"records": body.get("collection")}
    return body


def missing_fields(status: int, body: Any) -> Any:
    """Records without `attributes`, `objectSlug` and `id`; errors without `message`."""
    if isinstance(body, dict):
        body.pop("message", None)
        for record in [body.get("record"), *(body.get("collection") or [])]:
            if isinstance(record, dict):
                for name in ("attributes", "objectSlug", "id"):
                    record.pop(name, None)
    return body


def extra_fields(status: int, body: Any) -> Any:
    """More fields everywhere (a correct API: answers may grow)."""
    def grow(value: Any) -> Any:
        if isinstance(value, dict):
            return {**{key: grow(item) for key, item in value.items()}, "zExtra": {"added": [1, "two", None]}}
        if isinstance(value, list):
            return [grow(item) for item in value]
        return value

    if isinstance(body, dict):
        # Record values stay as they are: an extra key there would be an attribute the object lacks.
        records = [body.get("record"), *(body.get("collection") or [])]
        kept = [dict(record["attributes"]) if isinstance(record, dict) and isinstance(record.get("attributes"), dict)
                else None for record in records]
        body = grow(body)
        for record, attributes in zip([body.get("record"), *(body.get("collection") or [])], kept, strict=True):
            if attributes is not None:
                record["attributes"] = attributes
    return body


def empty(status: int, body: Any) -> Any:
    return b""


def html(status: int, body: Any) -> Any:
    return f"<!DOCTYPE html><html><body><h1>{status}</h1><p>Welcome to nginx!</p></body></html>".encode()


def attribute_as_list(status: int, body: Any) -> Any:
    """The created attribute as a one-item list."""
    if isinstance(body, dict) and isinstance(body.get("attribute"), dict):
        body["attribute"] = [body["attribute"]]
    return body


def attributes_as_mapping(status: int, body: Any) -> Any:
    """An object's attributes as a mapping from key to attribute rather than a list."""
    obj = body.get("object") if isinstance(body, dict) else None
    if isinstance(obj, dict) and isinstance(obj.get("attributes"), list):
        obj["attributes"] = {str(a.get("key")): a for a in obj["attributes"] if isinstance(a, dict)}
    return body


def mangled(app: ASGIApp, which: Callable[[Scope], bool], mangle: Mangle) -> ASGIApp:
    """`app`, whose answers to the requests `which` picks are passed through `mangle`."""

    async def hostile(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not which(scope):
            return await app(scope, receive, send)
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(scope, receive, keep)
        status, raw = start["status"], b"".join(chunks)
        try:
            answer = mangle(status, json.loads(raw)) if raw else mangle(status, None)
        except ValueError:
            answer = raw
        body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        kind = b"text/html" if body.startswith(b"<!DOCTYPE") else b"application/json"
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"content-type")]
        headers += [(b"content-length", str(len(body)).encode()), (b"content-type", kind)]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return hostile


# name -> (the requests whose answers are mangled, how)
HOSTILE_APPS: dict[str, tuple[Callable[[Scope], bool], Mangle]] = {
    "record-under-wrong-key": (_records, wrong_key),
    "wrong-types": (_records, wrong_types),
    "missing-fields": (_records, missing_fields),
    "empty-bodies": (_records, empty),
    "html": (_records, html),
    "attribute-as-list": (_attributes, attribute_as_list),
    "attributes-as-mapping": (_object_read, attributes_as_mapping),
    "extra-fields": (lambda scope: True, extra_fields),
}
