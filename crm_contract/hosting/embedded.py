"""Run the reference server in-process on a loopback port, for the suite's default target and tests."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
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
def served_process(tokens: Mapping[str, Iterable[str]], timeout: float = 30.0) -> Iterator[str]:
    """`crm-contract serve` as a child process on a free loopback port; its base URL.

    For work whose client side is busy too (a rehearsal with many requests in flight): server and client
    then run on two cores instead of sharing one interpreter. The tokens go through the environment.
    """
    write = next(token for token, scopes in tokens.items() if "crm:write" in scopes)
    read = next((token for token, scopes in tokens.items() if "crm:write" not in scopes), None)
    env = {**os.environ, "CRM_CONTRACT_TOKEN": write}
    if read:
        env["CRM_CONTRACT_READ_TOKEN"] = read
    command = [sys.executable, "-m", "crm_contract", "serve", "--port", "0"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base_url = _announced(process, timeout)
        yield base_url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _announced(process: subprocess.Popen[str], timeout: float) -> str:
    """The base URL that `serve` prints first, read within `timeout` seconds."""
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip().startswith("base URL"):
                found.append(line.split()[-1])
                break
        # the rest of the greeting is not needed; a full pipe must not block the server
        for _ in process.stdout:
            pass

    reader = threading.Thread(target=read, name="crm-serve-greeting", daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while not found:
        if process.poll() is not None:
            raise UsageError(f"the reference server could not start (exit {process.returncode})")
        if time.monotonic() > deadline:
            raise UsageError(f"the reference server did not start within {timeout:.0f} s")
        time.sleep(0.02)
    return found[0]


@contextmanager
def started(target: Target, *, own_process: bool = False) -> Iterator[Target]:
    """`target`, with the embedded reference server running for it when it is one not started yet.

    An embedded target is made by `Target.embedded_reference` with no base URL; here the server starts
    on a free loopback port with the target's tokens, and the target gets its URL. Any other target is
    yielded as it is. `own_process`: the server runs as a child process (`served_process`).
    """
    if not target.embedded or target.base_url:
        yield target
        return
    tokens: dict[str, Iterable[str]] = {target.token: WRITE_SCOPES}
    if target.read_token:
        tokens[target.read_token] = READ_SCOPES
    if own_process:
        with served_process(tokens) as base_url:
            yield replace(target, base_url=base_url)
        return
    try:
        server = EmbeddedServer(tokens=tokens).start()
    except (RuntimeError, OSError) as error:
        raise UsageError(f"the embedded reference server could not start: {error}") from None
    try:
        yield replace(target, base_url=server.base_url)
    finally:
        server.stop()
