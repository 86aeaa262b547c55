"""A reverse proxy that injects infrastructure faults between a client and a target, for rehearsals.

Put it in front of a correct target to see that the suite never reads a flaky network as a contract
violation, and in front of a faulty one to see that real violations still come through. It speaks
plain HTTP/1.1 with keep-alive, listens on loopback, and forwards every request to the upstream's
origin unchanged (the path stays as the client sent it). Each request draws one fault, or none, from
a seeded random source, with these kinds:

- ``reset``: the connection is reset before the request is forwarded (nothing happened upstream);
- ``lost``: the request is forwarded and takes effect, then the connection is reset (the answer is lost);
- ``502`` and ``503``: a gateway error is answered without forwarding;
- ``429``: Too Many Requests without ``Retry-After``; ``429-retry-after``: with ``Retry-After`` (seconds);
- ``timeout``: the request is forwarded, and the answer is held for ``hold`` seconds, then dropped.

`delay` adds a round trip to every request (the answer comes that many seconds later), as a target
far away over a network does: the benchmarks put the reference server 20, 50 or 100 ms away this way.

`FaultProxy.counts` says how many of each were injected, and how many requests went through;
`FaultProxy.connections` how many TCP connections clients opened, `FaultProxy.alone` how many requests
came while no other was in flight, and `FaultProxy.in_flight_peak` the most it held at once.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = ["FAULT_KINDS", "FaultProxy"]

FAULT_KINDS = ("reset", "lost", "502", "503", "429", "429-retry-after", "timeout")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "te",
               "trailer", "upgrade", "proxy-connection", "host"}
_MAX_HEAD = 64 * 1024


class FaultProxy:
    """A loopback proxy to `upstream` that injects faults at the given rates (0.05 is 5 % of requests)."""

    def __init__(self, upstream: str, faults: Mapping[str, float], *, seed: int = 0, retry_after: int = 1,
                 hold: float = 20.0, host: str = "127.0.0.1", port: int = 0, delay: float = 0.0) -> None:
        unknown = set(faults) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
        if sum(faults.values()) > 1:
            raise ValueError("the fault rates add up to more than 1")
        parts = urlsplit(upstream)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.base_path = parts.path.rstrip("/")
        self.faults = dict(faults)
        self.retry_after = retry_after
        self.hold = hold
        self.delay = delay
        self.connections = 0
        self.in_flight = 0
        self.in_flight_peak = 0
        self.alone = 0  # requests that came while no other was in flight
        self.counts: Counter[str] = Counter()
        self._random = random.Random(seed)
        self._host, self._port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._upstream: httpx.AsyncClient | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """The proxy's URL for the upstream's base (same path)."""
        return f"http://{self._host}:{self._port}{self.base_path}"

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError(f"the fault proxy did not start: {self._error}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    # The event loop --------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # noqa: BLE001 - reported by start()
            self._error = error
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=self.origin, timeout=60.0, limits=limits) as upstream:
            self._upstream = upstream
            self._server = await asyncio.start_server(self._connection, self._host, self._port, limit=_MAX_HEAD)
            self._port = self._server.sockets[0].getsockname()[1]
            self._ready.set()
            async with self._server:
                await self._stopping.wait()

    def _draw(self) -> str | None:
        roll, edge = self._random.random(), 0.0
        for kind in FAULT_KINDS:
            edge += self.faults.get(kind, 0.0)
            if roll < edge:
                return kind
        return None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                if not await self._answer(request, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                asyncio.CancelledError):
            pass  # a client that went away, a request we cannot read, or the proxy stopping
        finally:
            writer.close()

    async def _answer(self, request: tuple[str, str, list[tuple[str, str]], bytes], writer: asyncio.StreamWriter
                      ) -> bool:
        """Forward one request, or inject its fault; False when the connection was reset."""
        method, target, headers, body = request
        kind = self._draw()
        self.counts[kind or "forwarded"] += 1
        self.alone += self.in_flight == 0
        self.in_flight += 1
        self.in_flight_peak = max(self.in_flight_peak, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)  # the round trip of a target that far away
            return await self._forward(kind, method, target, headers, body, writer)
        finally:
            self.in_flight -= 1

    async def _forward(self, kind: str | None, method: str, target: str, headers: list[tuple[str, str]], body: bytes,
                       writer: asyncio.StreamWriter) -> bool:
        if kind == "reset":
            _reset(writer)
            return False
        if kind in ("502", "503", "429", "429-retry-after"):
            status = 429 if kind.startswith("429") else int(kind)
            extra = [("Retry-After", str(self.retry_after))] if kind == "429-retry-after" else []
            text = f"<html><body>{status} injected by the fault proxy</body></html>".encode()
            await _write(writer, status, [("Content-Type", "text/html"), *extra], text)
            return True
        assert self._upstream is not None
        sent = [(name, value) for name, value in headers if name.lower() not in _HOP_BY_HOP]
        try:
            answer = await self._upstream.request(method, target, headers=sent, content=body)
        except httpx.HTTPError:
            await _write(writer, 502, [("Content-Type", "text/plain")], b"upstream unreachable")
            return True
        if kind == "lost":
            _reset(writer)
            return False
        if kind == "timeout":
            await asyncio.sleep(self.hold)
            _reset(writer)
            return False
        kept = [(name, value) for name, value in answer.headers.multi_items() if name.lower() not in _HOP_BY_HOP]
        await _write(writer, answer.status_code, kept, answer.content)
        return True


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, list[tuple[str, str]], bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if error.partial.strip():
            raise
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    named = {name.lower(): value for name, value in headers}
    if "chunked" in named.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        body = await reader.readexactly(int(named.get("content-length") or 0))
    return method, target, headers, body


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


async def _write(writer: asyncio.StreamWriter, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    lines = [f"HTTP/1.1 {status} {_reason(status)}", *(f"{name}: {value}" for name, value in headers),
             f"Content-Length: {len(body)}", "", ""]
    writer.write("\r\n".join(lines).encode("latin-1") + body)
    await writer.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close the connection with a TCP reset, as a crashed gateway or a dropped link would."""
    sock: Any = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
