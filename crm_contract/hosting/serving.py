"""The reference server in the foreground, as a stateful mock of the API (`crm-contract serve`): binding its
socket, checking its database path, and the lines it greets with."""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys
from pathlib import Path

from crm_contract import __version__
from crm_contract.errors import UsageError
from crm_contract.reference_server import DEFAULT_WRITE_TOKEN

__all__ = ["announce", "bind", "check_db_path", "url_host"]


def check_db_path(path: Path) -> None:
    """Refuse a database path that SQLite could not open, with a reason a person can act on."""
    parent = path.resolve().parent
    if not parent.is_dir():
        raise UsageError(f"cannot use {path} as the database: the directory {parent} does not exist")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise UsageError(f"cannot use {path} as the database: it is not readable and writable")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"cannot use {path} as the database: the directory {parent} is not writable")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (so that port 0 picks a free one before the URL is printed)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise UsageError(f"cannot listen on {host}: {error.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as error:
        sock.close()
        reason = (
            "the port is already in use"
            if error.errno == errno.EADDRINUSE
            else (error.strerror or str(error))
        )
        raise UsageError(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _reach(host: str) -> str:
    """Who can reach a server bound to `host`, in words."""
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return f"{host} only (loopback: this machine; --host 0.0.0.0 opens it to the network)"
    return f"{host} (reachable from the network: a test mock, not a secure service)"


def announce(
    base_url: str,
    token: str,
    read_token: str | None,
    db_path: str | None,
    rate_limit: float | None,
    fault: str | None,
    choices: str = "reference",
    *,
    host: str = "127.0.0.1",
    max_body: int | None = None,
) -> None:
    # Only the public default token is printed; one the user chose stays out of logs.
    shown = token if token == DEFAULT_WRITE_TOKEN else "*** (as given)"
    lines = [
        f"crm-contract {__version__}: Zeeg CRM reference server",
        f"  base URL     {base_url}",
        f"  write token  {shown}  (crm:read, crm:write)",
    ]
    if read_token:
        lines.append("  read token   *** (as given)  (crm:read)")
    lines.append(f"  database     {db_path or 'in memory (lost on exit)'}")
    lines.append(f"  listening    {_reach(host)}")
    if max_body is not None:
        lines.append(f"  body limit   {max_body:,} bytes (--max-body)")
    if rate_limit:
        lines.append(f"  rate limit   {rate_limit:g} requests/s")
    if fault:
        lines.append(f"  fault        {fault}")
    if choices != "reference":
        lines.append(f"  choices      {choices} (another honest choice on every [R] rule)")
    bearer = token if token == DEFAULT_WRITE_TOKEN else "$CRM_CONTRACT_TOKEN"
    lines.append(f"  try          curl -H \"Authorization: Bearer {bearer}\" {base_url}/crm/objects")
    print("\n".join(lines))
    sys.stdout.flush()
