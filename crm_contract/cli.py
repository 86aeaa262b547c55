"""The ``crm-contract`` command: ``serve`` the reference server as a mock, ``run`` the contract suite.

Exit codes of ``run``: 0 every contract clause holds; 1 a contract clause was violated; 2 usage or
configuration error: an unreachable URL, a rejected token, an unknown object (one clear line on stderr,
never a traceback); 3 inconclusive: the target kept answering 429, 5xx or nothing, so no verdict was
possible (also an interrupted run, or pytest failing internally).
"""

from __future__ import annotations

import errno
import math
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from crm_contract import __version__, replay, zoo
from crm_contract.client import TargetInconclusive
from crm_contract.compare import compare
from crm_contract.outcomes import CLOCK_START, FAILED, INCONCLUSIVE, OK, USAGE, check_target
from crm_contract.probe import TargetUnusable
from crm_contract.pytest_plugin import CONTRACT_PROFILES, READ_SCOPES, WRITE_SCOPES, embedded_tokens
from crm_contract.redaction import public_url
from crm_contract.reports.diff import diff
from reference_server import DEFAULT_WRITE_TOKEN

__all__ = ["main"]

# pytest's exit codes: 0 ok, 1 tests failed, 2 interrupted, 3 internal error (or, from the plugin,
# every failure inconclusive), 4 usage error (or, from the plugin, an unusable target), 5 no tests.
PYTEST_EXIT = {0: OK, 1: FAILED, 2: INCONCLUSIVE, 3: INCONCLUSIVE, 4: USAGE, 5: INCONCLUSIVE}
HYPOTHESIS_PROFILES = ("dev", "ci", "thorough")


class ConfigError(click.ClickException):
    """Bad input or an unusable target: reported in one line, exit code 2."""

    exit_code = USAGE


class Inconclusive(click.ClickException):
    """The target kept answering 429, 5xx or nothing before any test ran: one line, exit code 3."""

    exit_code = INCONCLUSIVE


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


def one_line(text: str) -> str:
    return " ".join(text.split())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="crm-contract")
def cli() -> None:
    """Property-based contract tests for the Zeeg CRM record assert (upsert) endpoint.

    `run` checks a target (by default the embedded reference server); `serve` runs the reference
    server in the foreground, as a stateful mock of the API.
    """


# serve ---------------------------------------------------------------------------------------------


@cli.command()
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
    access_log: bool,
) -> int:
    """Run the reference server in the foreground (Ctrl-C stops it)."""
    import uvicorn

    from reference_server import create_app

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
        app = create_app(db_path=db_path or ":memory:", tokens=tokens, fault=fault, rate_limit=rate_limit)
    except sqlite3.Error as error:
        raise ConfigError(f"cannot use {db_path} as the database: {error}") from None
    except ValueError as error:  # an unknown fault name
        raise ConfigError(str(error)) from None
    sock = bind(host, port)
    base_url = f"http://{url_host(host)}:{sock.getsockname()[1]}/v2"
    announce(base_url, token, read_token, db_path, rate_limit, fault)
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
    bearer = token if token == DEFAULT_WRITE_TOKEN else "$CRM_CONTRACT_TOKEN"
    lines.append(f"  try          curl -H \"Authorization: Bearer {bearer}\" {base_url}/crm/objects")
    click.echo("\n".join(lines))
    sys.stdout.flush()


# run -----------------------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--base-url",
    metavar="URL",
    envvar="PYTEST_BASE_URL",
    help="The API to check, ending in /v2 [env PYTEST_BASE_URL] (default: the embedded reference server on a "
    "free loopback port).",
)
@click.option("--token", envvar="ZEEG_API_TOKEN", help="Token with crm:write [env ZEEG_API_TOKEN].")
@click.option(
    "--read-token", envvar="ZEEG_API_READ_TOKEN", help="Token with crm:read only [env ZEEG_API_READ_TOKEN]."
)
@click.option("--object", "object_slug", metavar="SLUG", help="An existing object to assert into.")
@click.option("--matching-attribute", metavar="KEY", help="The matching attribute of --object.")
@click.option(
    "--profile",
    type=click.Choice(CONTRACT_PROFILES),
    default="strict",
    show_default=True,
    help="strict: documented rules and reference choices; documented: documented rules only.",
)
@click.option(
    "--hypothesis-profile",
    type=click.Choice(HYPOTHESIS_PROFILES),
    help="Examples per test: dev (10), ci (50, derandomized), thorough (200) [default: ci in CI, else dev].",
)
@click.option("--seed", type=int, help="Hypothesis seed, to repeat a run (the ci profile is derandomized).")
@click.option("-x", "--exitfirst", is_flag=True, help="Stop at the first failing test.")
@click.option("--report-dir", type=click.Path(file_okay=False),
              help="Write report.json, junit.xml, report.html and a replay file per failure there.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- PYTEST_ARGS]...")
def run(
    base_url: str | None,
    token: str | None,
    read_token: str | None,
    object_slug: str | None,
    matching_attribute: str | None,
    profile: str,
    hypothesis_profile: str | None,
    seed: int | None,
    exitfirst: bool,
    report_dir: str | None,
    pytest_args: tuple[str, ...],
) -> int:
    """Run the contract suite against a target.

    Exit 0 every clause holds, 1 a clause was violated, 2 usage or configuration error, 3 inconclusive
    (the target kept answering 429, 5xx or nothing).
    """
    started = os.environ.get(CLOCK_START) or repr(time.time())  # the suite's clock starts with this command
    if bool(object_slug) != bool(matching_attribute):
        raise ConfigError("--object and --matching-attribute go together: give both or neither")
    if read_token is not None and read_token == token:
        raise ConfigError(
            "--read-token must differ from --token: it is used to check that writes need crm:write"
        )
    args = ["--contract-profile", profile, "--strict-markers"]
    if object_slug and matching_attribute:
        args += ["--object", object_slug, "--matching-attribute", matching_attribute]
    if hypothesis_profile:
        args += ["--hypothesis-profile", hypothesis_profile]
    if seed is not None:
        args += ["--hypothesis-seed", str(seed)]
    if exitfirst:
        args.append("--exitfirst")
    if report_dir:
        try:
            Path(report_dir).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(f"cannot create the report directory {report_dir}: {error.strerror}") from None
        args += ["--report-dir", str(Path(report_dir).resolve())]
    args += pytest_args
    if base_url:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"--base-url must be an http:// or https:// URL, not {base_url!r}")
        if not token:
            raise ConfigError(f"a token is needed for {base_url}: --token or ZEEG_API_TOKEN")
        code = run_suite(
            base_url.rstrip("/"), token, read_token, profile, object_slug, matching_attribute, args, started
        )
        return point_at_report(report_dir, code)
    from crm_contract.embedded import EmbeddedServer

    try:
        write_token, read_only_token = embedded_tokens(token, read_token)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    try:
        server = EmbeddedServer(tokens={write_token: WRITE_SCOPES, read_only_token: READ_SCOPES}).start()
    except (RuntimeError, OSError) as error:
        raise ConfigError(f"the embedded reference server could not start: {error}") from None
    try:
        code = run_suite(
            server.base_url, write_token, read_only_token, profile, object_slug, matching_attribute, args, started
        )
        return point_at_report(report_dir, code)
    finally:
        server.stop()


def point_at_report(report_dir: str | None, code: int) -> int:
    """After a run with --report-dir: where the page is, and how to replay a failure."""
    if report_dir and (Path(report_dir) / "report.html").is_file():
        click.echo(f"crm-contract: report in {Path(report_dir) / 'report.html'}")
        failures = sorted((Path(report_dir) / "failures").glob("*.json"))
        if failures:
            click.echo(f"crm-contract: {len(failures)} replay file(s); try: crm-contract replay {failures[0]}")
    return code


def run_suite(
    base_url: str,
    token: str,
    read_token: str | None,
    profile: str,
    object_slug: str | None,
    matching_attribute: str | None,
    args: list[str],
    started: str,
) -> int:
    try:
        check_target(base_url, token, read_token, object_slug, matching_attribute)
    except TargetUnusable as error:
        raise ConfigError(str(error)) from None
    except TargetInconclusive as error:
        raise Inconclusive(str(error)) from None
    click.echo(f"crm-contract: checking {public_url(base_url)} (contract profile {profile})")
    # A fresh interpreter: pytest must import (and rewrite) the suite before anything else imports it.
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--pyargs",
        "contract_tests",
        "-p",
        "crm_contract.pytest_plugin",
        "--base-url",
        base_url,
        *args,
    ]
    env = {**os.environ, "ZEEG_API_TOKEN": token, CLOCK_START: started}  # tokens in the environment, not argv
    env.pop("ZEEG_API_READ_TOKEN", None)
    if read_token:
        env["ZEEG_API_READ_TOKEN"] = read_token
    try:
        code = subprocess.run(command, env=env, check=False).returncode
    except KeyboardInterrupt:
        click.echo("crm-contract: interrupted", err=True)
        return INCONCLUSIVE
    return PYTEST_EXIT.get(code, INCONCLUSIVE)


cli.add_command(zoo.faults)
cli.add_command(zoo.zoo)
cli.add_command(replay.replay)
cli.add_command(diff)
cli.add_command(compare)


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: every error a person can act on ends in one line and a distinct exit code."""
    try:
        result = cli.main(args=argv, prog_name="crm-contract", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:
        click.echo(error.format_message(), err=True)
        return USAGE
    except click.ClickException as error:
        label = "inconclusive" if isinstance(error, Inconclusive) else "error"
        message = one_line(error.format_message())
        if isinstance(error, click.NoSuchOption) and error.ctx is not None and error.ctx.command is run:
            message += " (options for pytest go after --: crm-contract run -- -k NAME)"
        click.echo(f"crm-contract: {label}: {message}", err=True)
        return error.exit_code
    except click.Abort:
        click.echo("crm-contract: interrupted", err=True)
        return INCONCLUSIVE
    return result if isinstance(result, int) else OK


if __name__ == "__main__":
    sys.exit(main())
