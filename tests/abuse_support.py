"""What the abuse tests of the reference server share: `crm-contract serve` as a process, raw HTTP on a socket.

The server runs the way the users of the mock run it, as its own process (`crm-contract serve`), so that it
can be killed with SIGKILL, its memory read from /proc, and its log searched for tokens and tracebacks.
Raw sockets send what an HTTP client library refuses to: half a header, a body trickled a byte at a time,
a Content-Length promising 100 MB.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cli_support import COMMAND, ROOT

from crm_contract.hosting.embedded import free_port

WRITE_TOKEN = "abuse-write-token-3f9c2a7d"
READ_TOKEN = "abuse-read-token-81b4e0c5"
TIMEOUT = httpx.Timeout(30.0)


@dataclass
class ServeProcess:
    """`crm-contract serve` on a free loopback port, its output in `log`; a context manager."""

    log: Path
    db: Path | None = None
    extra: list[str] = field(default_factory=list)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2"

    def start(self) -> ServeProcess:
        self.port = self.port or free_port()
        command = [*COMMAND, "serve", "--port", str(self.port), "--read-token", READ_TOKEN, *self.extra]
        if self.db is not None:
            command += ["--db", str(self.db)]
        # The write token comes from the environment, as the README advises: `ps` never shows it.
        env = {**os.environ, "CRM_CONTRACT_TOKEN": WRITE_TOKEN}
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.base_url}/crm/objects", headers=auth(), timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"serve did not answer within 30 s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no clean-up, no checkpoint, what a container runtime's kill does."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def rss_bytes(self) -> int:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS in /proc")

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def auth(token: str = WRITE_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def client(base_url: str, token: str = WRITE_TOKEN) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers=auth(token), timeout=TIMEOUT)


def new_object(http: httpx.Client, slug: str, attributes: list[dict[str, Any]]) -> None:
    created = http.post("/crm/objects", json={"slug": slug, "singularName": slug, "pluralName": f"{slug}s"})
    assert created.status_code == 201, f"setup: create object {slug}: {created.text}"
    for attribute in attributes:
        made = http.post(f"/crm/objects/{slug}/attributes", json={"isRequired": False, **attribute})
        assert made.status_code == 201, f"setup: create attribute {attribute}: {made.text}"


def all_records(http: httpx.Client, slug: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        listed = http.get(f"/crm/{slug}", params={"count": 100, "page": page})
        assert listed.status_code == 200, f"list {slug}: {listed.text}"
        found += listed.json()["collection"]
        if listed.json()["pagination"]["nextPage"] is None:
            return found
        page += 1


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def envelope(self) -> dict[str, Any]:
        """The JSON error envelope this answer must be."""
        assert self.headers.get("content-type", "").startswith("application/json"), (self.status, self.headers)
        data = json.loads(self.body)
        assert data.get("success") is False and data.get("status") == self.status, data
        assert isinstance(data.get("message"), str) and data["message"], data
        return dict(data)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def read_answer(sock: socket.socket, timeout: float = 30.0) -> RawAnswer:
    """One HTTP/1.1 answer from `sock` (Content-Length framed), or AssertionError if none comes in time."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection without an answer (got {data[:200]!r})"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return RawAnswer(status, headers, rest[:length])


def raw_request(port: int, head: str, body: bytes = b"", timeout: float = 30.0) -> RawAnswer:
    """Send `head` (request line and headers, without the blank line) and `body`; read the answer."""
    with connect(port) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        return read_answer(sock, timeout)


def closed_within(sock: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before closing `sock` within `seconds`; None if it is still open then."""
    sock.settimeout(0.5)
    received = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    return None
