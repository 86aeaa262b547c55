"""What a target behind a corporate set-up looks like, on loopback: a forward proxy, a private CA, a gateway header.

`ForwardProxy` is an HTTP proxy (absolute-form requests for http://, CONNECT tunnels for https://) that
counts what it forwarded; `private_ca` makes a throw-away CA with a server certificate for 127.0.0.1
and a client certificate; `requiring_header` is a gateway in front of an app that refuses requests
without a header.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme

from crm_contract.hosting.embedded import TLS

Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


@dataclass(frozen=True)
class PrivateCA:
    """PEM files of a throw-away CA, a server certificate it signed for 127.0.0.1, and a client certificate."""

    ca: str
    server: TLS
    client_cert: str
    client_key: str


def private_ca(folder: Path, *, client_certificates: bool = False) -> PrivateCA:
    authority = trustme.CA()
    server = authority.issue_cert("127.0.0.1", "localhost")
    client = authority.issue_cert("crm-contract-client@example.com")
    files = {"ca.pem": authority.cert_pem.bytes(), "server.pem": server.cert_chain_pems[0].bytes(),
             "server.key": server.private_key_pem.bytes(), "client.pem": client.cert_chain_pems[0].bytes(),
             "client.key": client.private_key_pem.bytes()}
    for name, content in files.items():
        (folder / name).write_bytes(content)
    tls = TLS(str(folder / "server.pem"), str(folder / "server.key"),
              str(folder / "ca.pem") if client_certificates else None)
    return PrivateCA(str(folder / "ca.pem"), tls, str(folder / "client.pem"), str(folder / "client.key"))


def requiring_header(name: str, value: str) -> Callable[[ASGI], ASGI]:
    """A gateway that answers 401 to any request without `name: value` (a tenant header, say)."""
    wanted = (name.lower().encode(), value.encode())

    def wrap(app: ASGI) -> ASGI:
        async def gateway(scope: Scope, receive: Callable[[], Awaitable[Any]],
                          send: Callable[[Any], Awaitable[None]]) -> None:
            if scope["type"] == "http" and wanted not in scope.get("headers", []):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json")]})
                await send({"type": "http.response.body", "body": b'{"error": "the gateway wants its header"}'})
                return
            await app(scope, receive, send)
        return gateway
    return wrap


class ForwardProxy:
    """A loopback HTTP forward proxy in a thread of its own; `requests` counts what it forwarded, by method."""

    def __init__(self) -> None:
        self.requests: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="forward-proxy", daemon=True)
        self.port = 0

    def __enter__(self) -> ForwardProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, target, version = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
                self.requests[method] = self.requests.get(method, 0) + 1
                if method == "CONNECT":
                    host, port = target.rsplit(":", 1)
                    upstream = await asyncio.open_connection(host, int(port))
                    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    await writer.drain()
                    await asyncio.gather(_pipe(reader, upstream[1]), _pipe(upstream[0], writer))
                    return
                await self._forward(method, target, version, head, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def _forward(self, method: str, target: str, version: str, head: bytes, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
        """One absolute-form request (``GET http://host:port/path``), sent on as origin-form; its answer back."""
        rest = target.split("://", 1)[1]
        authority, _, path = rest.partition("/")
        host, _, port = authority.partition(":")
        lines = head.decode("latin-1").split("\r\n")[1:]
        length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0)
        body = await reader.readexactly(length) if length else b""
        kept = [line for line in lines if line and not line.lower().startswith(("proxy-", "connection:"))]
        request = "\r\n".join([f"{method} /{path} {version}", *kept, "Connection: close", "", ""]).encode("latin-1")
        up_reader, up_writer = await asyncio.open_connection(host, int(port or 80))
        up_writer.write(request + body)
        await up_writer.drain()
        writer.write(await up_reader.read())  # the upstream closes after its answer (Connection: close)
        await writer.drain()
        up_writer.close()
        raise ConnectionError("one request per connection")


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()
    except ConnectionError:
        pass
    finally:
        sink.close()
