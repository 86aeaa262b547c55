"""Run the reference server in-process on a loopback port, for the suite's default target and tests."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

import uvicorn

from crm_contract.errors import UsageError
from crm_contract.hosting.guarded_http import server_config
from crm_contract.kit.target import READ_SCOPES, WRITE_SCOPES, Target
from crm_contract.reference_server import DEFAULT_WRITE_TOKEN, create_app
from crm_contract.reference_server.wire import BodyLimits

__all__ = ["TLS", "EmbeddedServer", "free_port", "started"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class TLS:
    """A server certificate and key (PEM files), and the CA that client certificates must chain to, if any."""

    certfile: str
    keyfile: str
    client_ca: str | None = None


class EmbeddedServer:
    """The reference server under uvicorn in a daemon thread; use it as a context manager.

    `base_url` ends in `/v2`, like the real API's; `token` has `crm:read` and `crm:write`.
    """

    def __init__(
        self,
        db_path: str = ":memory:",
        tokens: Mapping[str, Iterable[str]] | None = None,
        fault: str | None = None,
        rate_limit: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        choices: str | None = None,
        tls: TLS | None = None,
        wrap: Callable[[Any], Any] | None = None,
        body_limits: BodyLimits | None = None,
    ) -> None:
        """`tls`: serve HTTPS with this certificate (and ask clients for one signed by `tls.client_ca`);
        `wrap`: an ASGI middleware around the app (a gateway that checks a header, say); `body_limits`: the
        largest request body and the longest wait for one (reference_server.wire.BodyLimits)."""
        self.host = host
        self.port = port or free_port(host)
        self.tokens = dict(tokens) if tokens is not None else {DEFAULT_WRITE_TOKEN: ("crm:read", "crm:write")}
        self.token = next(
            (tok for tok, scopes in self.tokens.items() if "crm:write" in scopes), DEFAULT_WRITE_TOKEN
        )
        app = create_app(db_path=db_path, tokens=self.tokens, fault=fault, rate_limit=rate_limit, choices=choices,
                         body_limits=body_limits)
        self.scheme = "https" if tls else "http"
        secure: dict[str, Any] = {}
        if tls:
            secure = {"ssl_certfile": tls.certfile, "ssl_keyfile": tls.keyfile}
            if tls.client_ca:
                secure.update(ssl_ca_certs=tls.client_ca, ssl_cert_reqs=ssl.CERT_REQUIRED)
        config = server_config(wrap(app) if wrap else app, host=host, port=self.port, log_level="warning",
                               access_log=False, **secure)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="crm-reference-server", daemon=True)

    @property
    def root_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v2"

    def start(self, timeout: float = 15.0) -> EmbeddedServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the reference server could not start on {self.host}:{self.port}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the reference server did not start within {timeout:.0f} s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextmanager
def started(target: Target) -> Iterator[Target]:
    """`target`, with the embedded reference server running for it when it is one not started yet.

    An embedded target is made by `Target.embedded_reference` with no base URL; here the server starts
    on a free loopback port with the target's tokens, and the target gets its URL. Any other target is
    yielded as it is.
    """
    if not target.embedded or target.base_url:
        yield target
        return
    tokens: dict[str, Iterable[str]] = {target.token: WRITE_SCOPES}
    if target.read_token:
        tokens[target.read_token] = READ_SCOPES
    try:
        server = EmbeddedServer(tokens=tokens).start()
    except (RuntimeError, OSError) as error:
        raise UsageError(f"the embedded reference server could not start: {error}") from None
    try:
        yield replace(target, base_url=server.base_url)
    finally:
        server.stop()
