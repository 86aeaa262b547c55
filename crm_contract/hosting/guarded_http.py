"""uvicorn as the reference server runs it: an HTTP protocol with bounded waits and sizes, and JSON refusals.

uvicorn's own HTTP protocol waits forever for a request's head (a client that connects and sends nothing,
or half a header line, holds its connection open indefinitely), accepts headers of any size, and answers
a request it cannot parse with a plain-text 400. `GuardedHttp` adds:

- a head deadline: the request line and headers must arrive within `HEAD_SECONDS` of the connection (or
  of the first byte of a next request), else 408 and the connection closes;
- a head size limit: a request line past `MAX_HEAD_BYTES` gets 414, headers past it 431;
- every refusal at this level in the contract's error envelope (`{"success": false, "status", "message"}`).

The body's own limits (size, time) are the app's (reference_server.wire.read_body).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HEAD_SECONDS", "MAX_HEAD_BYTES", "GuardedHttp", "server_config"]

HEAD_SECONDS = 10.0
MAX_HEAD_BYTES = 64 * 1024
_REASONS = {400: "Bad Request", 408: "Request Timeout", 414: "URI Too Long",
            431: "Request Header Fields Too Large"}


class _Refused(Exception):
    """Raised inside a parser callback; httptools wraps it and `data_received` answers `refusal`."""


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size limit on each request's head."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._refusal: tuple[int, str] | None = None

    # The head deadline: armed when a connection opens or a request begins, disarmed when its headers end.

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        if self._head_timer is None:
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url), 414, "The request line is longer than this server's limit")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value), 431, "The request headers are larger than this server's limit")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        super().on_headers_complete()

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(HEAD_SECONDS, self._head_too_slow)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or (self.cycle is not None and not self.cycle.response_complete):
            return  # a request is being answered; its body has its own deadline
        self._refuse(408, f"The request's line and headers did not arrive within {HEAD_SECONDS:g} s.")

    def _count_head(self, size: int, status: int, what: str) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refusal = (status, f"{what} of {MAX_HEAD_BYTES:,} bytes.")
            raise _Refused

    # Refusals as JSON envelopes.

    def send_400_response(self, msg: str) -> None:
        status, message = self._refusal or (400, "The request is not valid HTTP/1.1.")
        self._refuse(status, message)

    def _refuse(self, status: int, message: str) -> None:
        self._disarm_head_timer()
        if self.transport.is_closing():
            return
        body = json.dumps({"success": False, "status": status, "message": message}).encode()
        head = [f"HTTP/1.1 {status} {_REASONS[status]}".encode()]
        head += [name + b": " + value for name, value in self.server_state.default_headers]
        head += [b"content-type: application/json", b"content-length: " + str(len(body)).encode(),
                 b"connection: close"]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self.transport.close()


def server_config(app: Any, **options: Any) -> uvicorn.Config:
    """The uvicorn configuration every reference server runs with (`serve`, the embedded target)."""
    return uvicorn.Config(app, http=GuardedHttp, lifespan="off", **options)
