"""Faulty targets for the runner's tests: the reference server wrapped so that it breaks one thing each.

Each wrapper is a plain ASGI middleware around `reference_server.create_app()`, named after what it
breaks; `FAULTY_APPS` maps a name to the rule it violates (or to "inconclusive" for a target that
leaves the suite without a verdict) and to a factory. `Served` runs any ASGI app under uvicorn in a
thread on a free loopback port, as `crm_contract.hosting.embedded.EmbeddedServer` does for the reference app.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode

import uvicorn
from crm_contract.reference_server import DEFAULT_WRITE_TOKEN, create_app
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_contract.hosting.embedded import free_port

__all__ = ["FAULTY_APPS", "READ_TOKEN", "TOKENS", "Served", "reference_app"]

READ_TOKEN = "faulty-apps-read-token"
TOKENS = {DEFAULT_WRITE_TOKEN: ("crm:read", "crm:write"), READ_TOKEN: ("crm:read",)}


def reference_app() -> ASGIApp:
    """The correct reference server, with a write token and a read-only one."""
    return create_app(tokens=TOKENS)


# Faults ------------------------------------------------------------------------------------------------


def update_answers_201(app: ASGIApp) -> ASGIApp:
    """A2: an assert that updates a record answers 201 Created, as if it had created one."""

    async def faulty(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "PUT":
            return await app(scope, receive, send)

        async def created(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                message = {**message, "status": 201}
            await send(message)

        await app(scope, receive, created)

    return faulty


def case_insensitive_matching(app: ASGIApp) -> ASGIApp:
    """A3: an assert matches a record whose matching value differs from the sent one only in case.

    Before the server sees the assert, a text matching value is replaced by the value of the oldest
    record that equals it case-insensitively (but not exactly), so the server updates that record.
    """

    async def faulty(scope: Scope, receive: Receive, send: Send) -> None:
        parts = scope["path"].strip("/").split("/") if scope["type"] == "http" else []
        key = parse_qs(scope.get("query_string", b"").decode()).get("matchingAttribute", [None])[0]
        if scope["type"] != "http" or scope["method"] != "PUT" or len(parts) != 3 or not key:
            return await app(scope, receive, send)
        raw = await _read_body(receive)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get(key), str):
            value = body[key]
            for record in await _records(app, scope):
                held = (record.get("attributes") or {}).get(key)
                if isinstance(held, str) and held != value and held.casefold() == value.casefold():
                    raw = json.dumps({**body, key: held}).encode()
                    break
        headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        headers.append((b"content-length", str(len(raw)).encode()))
        await app({**scope, "headers": headers}, _replay(raw, receive), send)

    return faulty


def always_429(app: ASGIApp) -> ASGIApp:
    """Inconclusive: every request is answered 429 with `Retry-After: 0`, for ever."""
    return _always(429, "Too many requests.", [(b"retry-after", b"0")])


def always_503(app: ASGIApp) -> ASGIApp:
    """Inconclusive: every request is answered 503 Service Unavailable."""
    return _always(503, "Service unavailable.", [])


def put_503(app: ASGIApp) -> ASGIApp:
    """Inconclusive: every assert (PUT) is answered 503; reads, creates and deletes work, so set-up and
    clean-up succeed and only the tests that assert are left without a verdict."""
    unavailable = _always(503, "Service unavailable.", [])

    async def faulty(scope: Scope, receive: Receive, send: Send) -> None:
        handler = unavailable if scope["type"] == "http" and scope["method"] == "PUT" else app
        await handler(scope, receive, send)

    return faulty


FAULTY_APPS: dict[str, tuple[str, Callable[[ASGIApp], ASGIApp]]] = {
    "update-answers-201": ("A2", update_answers_201),
    "case-insensitive-matching": ("A3", case_insensitive_matching),
    "always-429": ("inconclusive", always_429),
    "always-503": ("inconclusive", always_503),
    "put-503": ("inconclusive", put_503),
}


# ASGI helpers --------------------------------------------------------------------------------------------


def _always(status: int, message: str, headers: list[tuple[bytes, bytes]]) -> ASGIApp:
    body = json.dumps({"success": False, "status": status, "message": message}).encode()

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await _read_body(receive)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), *headers]})
        await send({"type": "http.response.body", "body": body})

    return answer


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # a disconnect, if the client goes away
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def _records(app: ASGIApp, scope: Scope) -> list[dict[str, Any]]:
    """Every record of the object the request names, oldest first, read from `app` in-process."""
    records: list[dict[str, Any]] = []
    page = 1
    while True:
        status, raw = await _get(app, scope, scope["path"], {"page": page, "count": 100})
        if status != 200:
            return records
        answer = json.loads(raw)
        records.extend(answer.get("collection") or [])
        if page >= int((answer.get("pagination") or {}).get("totalPages") or 0):
            return records
        page += 1


async def _get(app: ASGIApp, scope: Scope, path: str, params: dict[str, Any]) -> tuple[int, bytes]:
    headers = [(k, v) for k, v in scope["headers"] if k.lower() in (b"authorization", b"host")]
    request = {**scope, "method": "GET", "path": path, "raw_path": path.encode(),
               "query_string": urlencode(params).encode(), "headers": headers}
    answer: dict[str, Any] = {"status": 500, "body": b""}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(request, receive, send)
    return answer["status"], answer["body"]


class Served:
    """An ASGI app under uvicorn in a daemon thread on a free loopback port; a context manager."""

    def __init__(self, app: ASGIApp) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="faulty-app", daemon=True)
        self.base_url = f"http://127.0.0.1:{config.port}/v2"

    def __enter__(self) -> Served:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the faulty app did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
