"""Request plumbing shared by the handlers: bounded bodies, JSON objects, query integers, success envelopes.

A body is read by `read_body` before any handler runs: within a size limit (413, checked against
Content-Length before a byte is read) and a time limit (408), so that one client cannot fill the
server's memory or hold a request open by trickling. It is parsed only where a handler asks for it
(`Body.object`), after the existence checks that come first in the contract's order (section 1).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from .errors import ApiError

__all__ = ["Body", "BodyLimits", "ClientDisconnect", "clip", "query_int", "read_body", "success"]

# A lone surrogate can only come from a `\uD800`–`\uDFFF` escape: valid UTF-8 cannot encode one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class BodyLimits:
    """The most a request body may hold, and how long the server waits for all of it."""

    max_bytes: int = 1024 * 1024
    seconds: float = 30.0


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _DuplicateKey(ValueError):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise _DuplicateKey(twice)
    return result


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _is_json_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class Body:
    """A request body as read, with the Content-Type it was sent with ("" when none was).

    `parse` does the work once (outside the store's lock: the handler's worker thread calls it before
    the handler runs); `object` hands out the result where the contract's order of checks wants it.
    """

    def __init__(self, raw: bytes, content_type: str = "") -> None:
        self.raw, self.content_type = raw, content_type
        self._parsed: dict[str, Any] | ApiError | None = None

    def parse(self) -> None:
        if self._parsed is None:
            try:
                self._parsed = self._object()
            except ApiError as error:
                self._parsed = error

    def object(self) -> dict[str, Any]:
        """The body as a JSON object, or the contract's 400 (415 for a declared non-JSON type), never a 500."""
        self.parse()
        if isinstance(self._parsed, ApiError):
            raise self._parsed
        assert self._parsed is not None
        return self._parsed

    def _object(self) -> dict[str, Any]:
        if self.content_type and not _is_json_type(self.content_type):
            shown = self.content_type[:100]
            raise ApiError(415, f"The request body must be sent as application/json, not {shown}.")
        try:
            data = json.loads(self.raw.decode("utf-8"), parse_constant=_reject_constant,
                              object_pairs_hook=_unique_pairs)
        except _DuplicateKey as twice:
            raise ApiError(400, f"The request body names the key {clip(str(twice))!r} twice.",
                           kind="not-json") from None
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ApiError(400, "The request body must be valid JSON (UTF-8).", kind="not-json") from None
        if not isinstance(data, dict):
            raise ApiError(400, "The request body must be a JSON object.", kind="not-json")
        if _SURROGATE_ESCAPE.search(self.raw) and _has_lone_surrogate(data):
            raise ApiError(400, "The request body contains a lone UTF-16 surrogate, which is not valid text.")
        return data


def clip(text: str, most: int = 100) -> str:
    """`text` as an error message may echo it: at most `most` characters, marked when cut."""
    return text if len(text) <= most else f"{text[:most]}… ({len(text):,} characters)"


async def read_body(request: Request, limits: BodyLimits) -> Body:
    """The whole body within `limits`: 413 past the size (before reading, when Content-Length says so),
    408 past the time. A client that goes away mid-body raises ClientDisconnect."""
    content_type = request.headers.get("content-type", "")
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limits.max_bytes:
        raise _too_large(limits)
    deadline = time.monotonic() + limits.seconds
    chunks: list[bytes] = []
    size = 0
    stream = request.stream()
    while True:
        left = deadline - time.monotonic()
        try:
            chunk = await _wait(stream.__anext__(), left)
        except StopAsyncIteration:
            break
        size += len(chunk)
        if size > limits.max_bytes:
            raise _too_large(limits)
        chunks.append(chunk)
    return Body(b"".join(chunks), content_type)


async def _wait(step: Any, seconds: float) -> bytes:
    try:
        return bytes(await asyncio.wait_for(step, max(seconds, 0.0)))
    except TimeoutError:
        raise ApiError(408, "The request body did not arrive in time.",
                       headers={"Connection": "close"}) from None


def _too_large(limits: BodyLimits) -> ApiError:
    return ApiError(413, f"The request body is larger than this server's limit of {limits.max_bytes:,} bytes.",
                    headers={"Connection": "close"})


def query_int(request: Request, name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 4000:  # int() refuses longer digit strings
        raise ApiError(400, f"The query parameter {name} must be a whole number.")
    value = int(raw)
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ApiError(400, f"The query parameter {name} must be {bounds}.", kind="query")
    return value


def success(status: int, **payload: Any) -> JSONResponse:
    return JSONResponse({"success": True, "status": status, **payload}, status_code=status)
