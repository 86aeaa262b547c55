"""The ``crm-contract`` command: ``serve`` the reference server as a mock, ``run`` the contract suite,
``sweep`` what killed runs left on a target.

Exit codes of ``run``: 0 every contract clause holds; 1 a contract clause was violated; 2 usage or
configuration error: an unreachable URL, a rejected token, an unknown object (one clear line on stderr,
never a traceback); 3 inconclusive: the target kept answering 429, 5xx or nothing, so no verdict was
possible (also an interrupted run, or pytest failing internally).
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import click
import httpx

from crm_contract import PLUGIN, SUITE, __version__, replay, zoo
from crm_contract.client import ContractClient, TargetInconclusive
from crm_contract.compare import compare
from crm_contract.errors import ConfigError, Inconclusive
from crm_contract.outcomes import CLOCK_START, INCONCLUSIVE, OK, USAGE, VERDICT_FILE, check_target
from crm_contract.pace import parse_rate
from crm_contract.probe import TargetUnusable
from crm_contract.redaction import public_url
from crm_contract.reports.diff import diff
from crm_contract.serving import serve
from crm_contract.session import CONTRACT_PROFILES, READ_SCOPES, WRITE_SCOPES, cache_root, embedded_tokens

__all__ = ["main"]

HYPOTHESIS_PROFILES = ("dev", "ci", "thorough")
RUN_ID_ENV = "CRM_CONTRACT_RUN_ID"  # read by crm_contract.strategies.keys: the prefix of the run's data
GRACE = 120  # seconds an interrupted run gets to clean up


def one_line(text: str) -> str:
    return " ".join(text.split())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="crm-contract")
def cli() -> None:
    """Property-based contract tests for the Zeeg CRM record assert (upsert) endpoint.

    `run` checks a target (by default the embedded reference server); `serve` runs the reference
    server in the foreground, as a stateful mock of the API; `sweep` removes what killed runs left.
    """


# run -----------------------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--base-url",
    metavar="URL",
    envvar="PYTEST_BASE_URL",
    help="The API to check, ending in /v2 [env PYTEST_BASE_URL] (default: the embedded reference server on a "
    "free loopback port).",
)
@click.option("--token", envvar="ZEEG_API_TOKEN",
              help="Token with crm:write [env ZEEG_API_TOKEN; prefer the variable: a command line shows in ps].")
@click.option("--read-token", envvar="ZEEG_API_READ_TOKEN",
              help="Token with crm:read only [env ZEEG_API_READ_TOKEN; prefer the variable].")
@click.option("--object", "object_slug", metavar="SLUG", help="An existing object to assert into.")
@click.option("--matching-attribute", metavar="KEY", help="The matching attribute of --object.")
@click.option(
    "--profile",
    type=click.Choice(CONTRACT_PROFILES),
    help="documented: Zeeg's documented rules only, the default for a --base-url target; strict: the reference "
    "choices too, the default for the embedded reference server (see docs/contract.md, [D] and [R]).",
)
@click.option(
    "--hypothesis-profile",
    type=click.Choice(HYPOTHESIS_PROFILES),
    help="Examples per test: dev (10), ci (50, derandomized), thorough (200) [default: ci in CI, else dev].",
)
@click.option("--seed", type=int, help="Hypothesis seed, to repeat a run (the ci profile is derandomized).")
@click.option("-x", "--exitfirst", is_flag=True, help="Stop at the first failing test.")
@click.option("--rate-limit", metavar="N/s", help="Never send more than N requests a second (N, N/s, N/m, N/h); a 429 "
              "slows the run down by itself, and its Retry-After holds every request.")
@click.option("--max-requests", type=click.IntRange(min=1), metavar="N",
              help="Send at most N requests from tests; the tests not reached are reported as not run.")
@click.option("--max-slowdown", type=click.FloatRange(min=0), metavar="X",
              help="When waiting on a throttled target would make the run more than X times slower, run fewer "
              "examples per test, and say so [default: 2; 0: never].")
@click.option("--request-timeout", type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Seconds to wait for an answer [default: 15].")
@click.option("--report-dir", type=click.Path(file_okay=False),
              help="Write report.json, junit.xml, report.html and a replay file per failure there.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- PYTEST_ARGS]...")
def run(
    base_url: str | None,
    token: str | None,
    read_token: str | None,
    object_slug: str | None,
    matching_attribute: str | None,
    profile: str | None,
    hypothesis_profile: str | None,
    seed: int | None,
    exitfirst: bool,
    rate_limit: str | None,
    max_requests: int | None,
    max_slowdown: float | None,
    request_timeout: float | None,
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
    # A target of the user's is judged by what Zeeg documents unless they ask for more; our own server
    # (and its fault catalogue) by every rule, reference choices included.
    profile = profile or ("documented" if base_url else "strict")
    args = ["--contract-profile", profile, "--strict-markers"]
    if object_slug and matching_attribute:
        args += ["--object", object_slug, "--matching-attribute", matching_attribute]
    if hypothesis_profile:
        args += ["--hypothesis-profile", hypothesis_profile]
    if seed is not None:
        args += ["--hypothesis-seed", str(seed)]
    if exitfirst:
        args.append("--exitfirst")
    if rate_limit:
        try:
            parse_rate(rate_limit)
        except ValueError as error:
            raise ConfigError(f"--rate-limit {error}") from None
        args += ["--rate-limit", rate_limit]
    if max_requests is not None:
        args += ["--max-requests", str(max_requests)]
    if max_slowdown is not None:
        args += ["--max-slowdown", str(max_slowdown)]
    if request_timeout is not None:
        args += ["--request-timeout", str(request_timeout)]
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
    preflight(base_url, token, read_token, object_slug, matching_attribute)
    default = " (the default for a --base-url target; --profile strict adds the reference choices)" \
        if profile == "documented" else ""
    click.echo(f"crm-contract: checking {public_url(base_url)} (contract profile {profile}{default})")
    env = {**os.environ, "ZEEG_API_TOKEN": token, CLOCK_START: started}  # tokens in the environment, not argv
    env.pop("ZEEG_API_READ_TOKEN", None)
    if read_token:
        env["ZEEG_API_READ_TOKEN"] = read_token
    run = env.setdefault(RUN_ID_ENV, f"cc{secrets.token_hex(3)}")  # the child's run id: its ledger's name
    with tempfile.TemporaryDirectory(prefix="crm-contract-") as scratch:
        verdict = Path(scratch) / "verdict.json"
        env[VERDICT_FILE] = str(verdict)
        command = [sys.executable, "-m", "pytest", *suite_invocation(Path(scratch)), "-p", PLUGIN,
                   "-o", f"cache_dir={cache_root() / 'pytest'}", "--base-url", base_url, *args]
        status, interrupted = supervise(command, env)
        swept = sweep_after(base_url, token, run)
        if interrupted:
            click.echo(f"crm-contract: interrupted{swept}; no verdict", err=True)
            return INCONCLUSIVE
        if swept:
            click.echo(f"crm-contract: the run left objects behind{swept}", err=True)
        return session_exit_code(verdict, status)


def preflight(base_url: str, token: str, read_token: str | None, object_slug: str | None,
              matching_attribute: str | None) -> None:
    """The target's pre-flight: a set-up error is exit 2, a target that keeps failing exit 3."""
    try:
        check_target(base_url, token, read_token, object_slug, matching_attribute)
    except TargetUnusable as error:
        raise ConfigError(str(error)) from None
    except TargetInconclusive as error:
        raise Inconclusive(str(error)) from None


def target_client(base_url: str, token: str) -> httpx.Client:
    """A plain client for the target with the write token, for the clean-up calls of the command itself."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    return httpx.Client(base_url=base_url, headers=headers, timeout=httpx.Timeout(15.0, connect=5.0))


def supervise(command: list[str], env: dict[str, str]) -> tuple[int, bool]:
    """Run the suite in a child process; on Ctrl-C, let it tear down (clean up) before returning.

    The child runs in a session of its own, so a Ctrl-C at the terminal reaches only this process,
    which passes exactly one SIGINT on: pytest stops the running test and runs every fixture's
    clean-up. A second Ctrl-C, or `GRACE` seconds without an end, kills the child; the run's ledger
    still names what it made, and `sweep_after` removes it.
    """
    child = subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=_die_with_parent)
    try:
        return child.wait(), False
    except KeyboardInterrupt:
        click.echo(f"crm-contract: interrupted; cleaning up what the run made (up to {GRACE} s, Ctrl-C again to "
                   "stop at once)", err=True)
        child.send_signal(signal.SIGINT)
        try:
            child.wait(GRACE)
        except (KeyboardInterrupt, subprocess.TimeoutExpired):
            child.kill()
            child.wait()
        return child.returncode, True


def _die_with_parent() -> None:
    """In the child, before it starts: on Linux, be killed when this process dies (e.g. by SIGKILL).

    A suite left running alone would go on writing to the target; killed, it leaves its ledger, and
    `crm-contract sweep` removes what it made.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def sweep_after(base_url: str, token: str, run: str) -> str:
    """Remove what the run's ledger still names (a killed or crashed child); "" when nothing was left."""
    from crm_contract.sweep import ledger_directory, sweep

    directory = ledger_directory()
    if not (directory / f"{run}.jsonl").is_file():
        return ""  # the run removed everything, and its ledger with it
    try:
        with target_client(base_url, token) as http:
            swept = sweep(ContractClient(http), public_url(base_url), run_id=run, directory=directory, naming=False)
    except (httpx.HTTPError, TargetInconclusive) as error:
        return f"; could not remove them ({type(error).__name__}): run crm-contract sweep --run-id {run}"
    done = f"; removed {len(swept.removed)} left-over item(s)" if swept.removed else ""
    if swept.left:
        done += f"; could not remove {', '.join(swept.left)}: run crm-contract sweep --run-id {run} later"
    return done


def suite_invocation(scratch: Path) -> list[str]:
    """The suite as pytest's arguments, isolated from the pytest configuration of the working directory.

    The working directory may be the user's own project, with its pytest.ini or pyproject section
    (addopts, filterwarnings = error, testpaths whose conftests pytest would load): none of it applies.
    The suite is named by its path and given an empty ini file of its own, so pytest reads no
    configuration and no conftest but the suite's. A fresh interpreter, too: pytest must import (and
    rewrite) the suite before anything else imports it.
    """
    spec = importlib.util.find_spec(SUITE)
    if spec is None or spec.origin is None:
        raise ConfigError(f"the contract suite ({SUITE}) is not installed")
    ini = scratch / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    suite = Path(spec.origin).parent
    return [str(suite), "-c", str(ini), "--rootdir", str(suite.parent)]  # node ids: contract_tests/test_….py


def session_exit_code(verdict: Path, pytest_status: int) -> int:
    """The run's exit code, as the suite's session wrote it; 2 when the session never got to write it."""
    try:
        return int(json.loads(verdict.read_text())["exit"])
    except (OSError, ValueError, KeyError, TypeError):
        click.echo(f"crm-contract: error: the contract suite could not start (pytest exited with {pytest_status} "
                   "before the suite's session ended; its output is above)", err=True)
        return USAGE


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per clause, for scripts.")
def clauses(as_json: bool) -> int:
    """List the contract's clauses: rule id, tag ([D] documented, [R] reference choice) and statement.

    The rules in full are in the project's docs/contract.md; reports use these ids.
    """
    from crm_contract.clauses import CLAUSES

    for clause in CLAUSES:
        if as_json:
            click.echo(json.dumps({"id": clause.id, "tag": clause.tag, "title": clause.title,
                                   "contract": clause.link}))
        else:
            click.echo(f"{clause.id:<10} [{clause.tag:<3}] {clause.title}")
    return OK


def parse_age(value: str) -> float:
    """`90`, `90s`, `15m`, `2h` or `1d` as seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = value.strip().lower()
    scale = units.get(text[-1:], None)
    try:
        return float(text[:-1] if scale else text) * (scale or 1)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an age like 90s, 15m, 2h or 1d") from None


@cli.command()
@click.option("--base-url", metavar="URL", envvar="PYTEST_BASE_URL", required=True,
              help="The API that runs were pointed at, ending in /v2 [env PYTEST_BASE_URL].")
@click.option("--token", envvar="ZEEG_API_TOKEN",
              help="Token with crm:write [env ZEEG_API_TOKEN; prefer the variable: a command line shows in ps].")
@click.option("--older-than", default="1h", show_default=True, metavar="AGE",
              help="Objects found only by their run-made name are removed when created longer ago than this "
              "(a run in progress elsewhere keeps its own).")
@click.option("--run-id", metavar="ID", help="Remove what this run made (e.g. cc1a2b3c), whatever its age.")
def sweep(base_url: str, token: str | None, older_than: str, run_id: str | None) -> int:
    """Remove what killed runs left on a target, and nothing else.

    First from the ledgers that runs on this machine wrote before each create (objects, and records in
    an --object of yours), for runs no longer alive; then objects whose slug has the shape runs give
    them (cc + 6 hex digits, ...) and that are older than --older-than. Exit 0 when nothing is left,
    2 for a usage error or unusable target, 3 when the target would not delete something.
    """
    from crm_contract.sweep import sweep as sweep_target

    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"--base-url must be an http:// or https:// URL, not {base_url!r}")
    if not token:
        raise ConfigError(f"a token is needed for {base_url}: ZEEG_API_TOKEN (or --token)")
    age = parse_age(older_than)
    base_url = base_url.rstrip("/")
    preflight(base_url, token, None, None, None)
    with target_client(base_url, token) as http:
        try:
            swept = sweep_target(ContractClient(http), public_url(base_url), older_than=age, run_id=run_id)
        except TargetInconclusive as error:
            raise Inconclusive(str(error)) from None
    for item in swept.removed:
        click.echo(f"removed {item}")
    for run in swept.live_runs:
        click.echo(f"crm-contract: run {run} is still running here; left alone")
    click.echo(f"crm-contract: sweep of {public_url(base_url)}: removed {len(swept.removed)}, "
               f"could not remove {len(swept.left)}")
    if swept.left:
        raise Inconclusive(f"the target would not delete {', '.join(swept.left)}")
    return OK


cli.add_command(serve)
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
