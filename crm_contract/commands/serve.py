"""`crm-contract serve`: the reference server in the foreground, as a stateful mock of the API."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

__all__ = ["RateLimit", "Size", "serve"]

# The reference server's own write token (crm_contract.reference_server.access), named here so that `--help`
# does not load the server; tests/test_cli.py checks that the two agree.
DEFAULT_WRITE_TOKEN = "crm-contract-local-write-token"


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


class Size(click.ParamType):
    """A number of bytes: ``1048576``, ``512KB``, ``10MB``, ``1MiB`` (KB and MB are 1,000 and 1,000,000)."""

    name = "SIZE"
    UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2,
             "gib": 1024**3}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower().replace(" ", "").replace("_", "")
        number = text.rstrip("kmgib")
        unit = text[len(number):]
        try:
            size = float(number) * self.UNITS[unit]
        except (ValueError, KeyError):
            size = math.nan
        if not (math.isfinite(size) and size >= 1):
            self.fail(f"{value!r} is not a size: use bytes, or a number with KB, MB, KiB or MiB", param, ctx)
        return int(size)


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
    help="Token with crm:write (and crm:read).",
)
@click.option(
    "--read-token",
    envvar="CRM_CONTRACT_READ_TOKEN",
    help="Add a token with crm:read only.",
)
@click.option(
    "--rate-limit", type=RateLimit(), metavar="N/s", help="Answer 429 above N requests a second (N/s or N)."
)
@click.option("--fault", metavar="NAME", help="Serve a named deviation from the fault catalogue.")
@click.option("--choices", type=click.Choice(["reference", "alternative"]), default="reference", show_default=True,
              help="Where the contract leaves room ([R] rules): the reference choices, or another honest set "
              "(docs/alternative-choices.md) that keeps every documented rule.")
@click.option("--max-body", type=Size(), default="1MiB", show_default=True, metavar="SIZE",
              help="The largest request body accepted; a larger one gets 413 before it is read.")
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
    max_body: int,
    access_log: bool,
) -> int:
    """Run the reference server in the foreground (Ctrl-C stops it)."""
    import sqlite3

    import uvicorn

    from crm_contract.errors import OK, UsageError
    from crm_contract.hosting.guarded_http import server_config
    from crm_contract.hosting.serving import announce, bind, check_db_path, url_host
    from crm_contract.kit.target import READ_SCOPES, WRITE_SCOPES
    from crm_contract.reference_server import create_app
    from crm_contract.reference_server.wire import BodyLimits

    if not token.strip():
        raise UsageError("--token must not be empty")
    tokens = {token: WRITE_SCOPES}
    if read_token is not None:
        if not read_token.strip() or read_token == token:
            raise UsageError("--read-token must be non-empty and differ from --token")
        tokens[read_token] = READ_SCOPES
    if db_path:
        check_db_path(Path(db_path))
    try:
        app = create_app(db_path=db_path or ":memory:", tokens=tokens, fault=fault, rate_limit=rate_limit,
                         choices=choices, body_limits=BodyLimits(max_bytes=max_body))
    except sqlite3.Error as error:
        raise UsageError(f"cannot use {db_path} as the database: {error}") from None
    except ValueError as error:  # an unknown fault name
        raise UsageError(str(error)) from None
    sock = bind(host, port)
    base_url = f"http://{url_host(host)}:{sock.getsockname()[1]}/v2"
    announce(base_url, token, read_token, db_path, rate_limit, fault, choices, host=host, max_body=max_body)
    config = server_config(app, log_level="info", access_log=access_log)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return OK
