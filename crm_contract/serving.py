"""`crm-contract serve`: the reference server in the foreground, as a stateful mock of the API."""

from __future__ import annotations

import errno
import math
import os
import socket
import sqlite3
import sys
from pathlib import Path
from typing import Any

import click

from crm_contract import __version__
from crm_contract.errors import ConfigError
from crm_contract.outcomes import OK
from crm_contract.reference_server import DEFAULT_WRITE_TOKEN
from crm_contract.session import READ_SCOPES, WRITE_SCOPES

__all__ = ["RateLimit", "serve"]


class RateLimit(click.ParamType):
    """``N/s`` or ``N``: a positive number of requests per second."""

    name = "N/s"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        text = str(value).strip()
        try:
            rate = float(text.removesuffix("/s"))
        except ValueError:
            rate = math.nan
        if not (math.isfinite(rate) and rate > 0):
            self.fail(
                f"{value!r} is not a rate: use N/s or N, a positive number of requests a second", param, ctx
            )
        return rate


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="0: any free port."
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    help="SQLite file that keeps the data across restarts (default: in memory, lost on exit).",
)
@click.option(
    "--token",
    envvar="CRM_CONTRACT_TOKEN",
    default=DEFAULT_WRITE_TOKEN,
    show_default=True,
    help="Token with crm:write (and crm:read) [env CRM_CONTRACT_TOKEN].",
)
@click.option(
    "--read-token",
    envvar="CRM_CONTRACT_READ_TOKEN",
    help="Add a token with crm:read only [env CRM_CONTRACT_READ_TOKEN].",
)
@click.option(
    "--rate-limit", type=RateLimit(), metavar="N/s", help="Answer 429 above N requests a second (N/s or N)."
)
@click.option("--fault", metavar="NAME", help="Serve a named deviation from the fault catalogue.")
@click.option("--choices", type=click.Choice(["reference", "alternative"]), default="reference", show_default=True,
              help="Where the contract leaves room ([R] rules): the reference choices, or another honest set "
              "(docs/alternative-choices.md) that keeps every documented rule.")
@click.option("--access-log/--no-access-log", default=False, show_default=True,
              help="Log one line per request (costs throughput).")
def serve(
    host: str,
    port: int,
    db_path: str | None,
    token: str,
    read_token: str | None,
    rate_limit: float | None,
    fault: str | None,
    choices: str,
    access_log: bool,
) -> int:
    """Run the reference server in the foreground (Ctrl-C stops it)."""
    import uvicorn

    from crm_contract.reference_server import create_app

    if not token.strip():
        raise ConfigError("--token must not be empty")
    tokens = {token: WRITE_SCOPES}
    if read_token is not None:
        if not read_token.strip() or read_token == token:
            raise ConfigError("--read-token must be non-empty and differ from --token")
        tokens[read_token] = READ_SCOPES
    if db_path:
        check_db_path(Path(db_path))
    try:
        app = create_app(db_path=db_path or ":memory:", tokens=tokens, fault=fault, rate_limit=rate_limit,
                         choices=choices)
    except sqlite3.Error as error:
        raise ConfigError(f"cannot use {db_path} as the database: {error}") from None
    except ValueError as error:  # an unknown fault name
        raise ConfigError(str(error)) from None
    sock = bind(host, port)
    base_url = f"http://{url_host(host)}:{sock.getsockname()[1]}/v2"
    announce(base_url, token, read_token, db_path, rate_limit, fault, choices)
    config = uvicorn.Config(app, log_level="info", access_log=access_log, lifespan="off")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return OK


def check_db_path(path: Path) -> None:
    """Refuse a database path that SQLite could not open, with a reason a person can act on."""
    parent = path.resolve().parent
    if not parent.is_dir():
        raise ConfigError(f"cannot use {path} as the database: the directory {parent} does not exist")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise ConfigError(f"cannot use {path} as the database: it is not readable and writable")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"cannot use {path} as the database: the directory {parent} is not writable")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (so that port 0 picks a free one before the URL is printed)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise ConfigError(f"cannot listen on {host}: {error.strerror}") from None
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
        raise ConfigError(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def announce(
    base_url: str,
    token: str,
    read_token: str | None,
    db_path: str | None,
    rate_limit: float | None,
    fault: str | None,
    choices: str = "reference",
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
    if rate_limit:
        lines.append(f"  rate limit   {rate_limit:g} requests/s")
    if fault:
        lines.append(f"  fault        {fault}")
    if choices != "reference":
        lines.append(f"  choices      {choices} (another honest choice on every [R] rule)")
    bearer = token if token == DEFAULT_WRITE_TOKEN else "$CRM_CONTRACT_TOKEN"
    lines.append(f"  try          curl -H \"Authorization: Bearer {bearer}\" {base_url}/crm/objects")
    click.echo("\n".join(lines))
    sys.stdout.flush()
