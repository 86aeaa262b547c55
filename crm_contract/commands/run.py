"""`crm-contract run`: the contract suite against a target (by default the embedded reference server)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import click

from crm_contract.commands.configured import env
from crm_contract.commands.target_options import (
    connection_options,
    profile_option,
    target_from_options,
    target_options,
)
from crm_contract.runs.runner import HYPOTHESIS_PROFILES

__all__ = ["run"]


@click.command()
@target_options
@click.option("--object", "object_slug", metavar="SLUG", envvar=env("object"), show_envvar=True,
              help="An existing object to assert into; with --matching-attribute.")
@click.option("--matching-attribute", metavar="KEY", envvar=env("matching-attribute"), show_envvar=True,
              help="The matching attribute of --object; with --object.")
@profile_option
@click.option(
    "--hypothesis-profile",
    type=click.Choice(HYPOTHESIS_PROFILES),
    envvar=env("hypothesis-profile"), show_envvar=True,
    help="Examples per test: dev (10), ci (50, derandomized), thorough (200) [default: ci in CI, else dev].",
)
@click.option("--seed", type=int, envvar=env("seed"), show_envvar=True,
              help="Hypothesis seed, to repeat a run (the ci profile is derandomized).")
@click.option("-x", "--exitfirst", is_flag=True, envvar=env("exitfirst"), show_envvar=True,
              help="Stop at the first failing test.")
@click.option("--rate-limit", metavar="N/s", envvar=env("rate-limit"), show_envvar=True,
              help="Never send more than N requests a second (N, N/s, N/m, N/h); a 429 slows the run down by "
              "itself, and its Retry-After holds every request.")
@click.option("--max-requests", type=click.IntRange(min=1), metavar="N", envvar=env("max-requests"), show_envvar=True,
              help="Send at most N requests from tests; the tests not reached are reported as not run.")
@click.option("--max-slowdown", type=click.FloatRange(min=0), metavar="X", envvar=env("max-slowdown"),
              show_envvar=True,
              help="When waiting on a throttled target would make the run more than X times slower, run fewer "
              "examples per test, and say so [default: 2; 0: never].")
@connection_options
@click.option("--workers", metavar="N|auto", envvar=env("workers"), show_envvar=True,
              help="Run the tests on N processes (pytest-xdist), one run with one report; auto: 8 for a --base-url "
              "target (its time is round trips), the CPU count for the embedded server [default: 1].")
@click.option("--example-db", metavar="DIR|redis://…|github:OWNER/REPO[/ARTIFACT]", envvar=env("example-db"),
              show_envvar=True,
              help="Where Hypothesis keeps the counterexamples it found, so that the next run (in CI, or on a "
              "laptop) tries them first [default: the user cache directory; none under the ci profile].")
@click.option("--max-examples", type=click.IntRange(min=1), metavar="N", envvar=env("max-examples"), show_envvar=True,
              help="Examples per property test, over what the Hypothesis profile says.")
@click.option("--max-time", metavar="DURATION", envvar=env("max-time"), show_envvar=True,
              help="Start no test after this long (90s, 15m, 1h); the tests not started are reported not run.")
@click.option("--max-failures", type=click.IntRange(min=1), metavar="N", envvar=env("max-failures"), show_envvar=True,
              help="Stop after N tests failed with a verdict (inconclusive ones do not count).")
@click.option("--clauses", metavar="IDS", envvar=env("clauses"), show_envvar=True,
              help="Run only the tests of these clauses, e.g. A1,A3-A5,section-4; the others are reported not run.")
@click.option("--skip-clauses", metavar="IDS", envvar=env("skip-clauses"), show_envvar=True,
              help="Leave out the tests of these clauses, and report the clauses not run.")
@click.option("--progress", type=click.Choice(("auto", "yes", "no")), envvar=env("progress"), show_envvar=True,
              help="The live status line: auto (on a terminal, not in CI), yes or no [default: auto].")
@click.option("-q", "--quiet", is_flag=True, envvar=env("quiet"), show_envvar=True,
              help="Say less: pytest's -q, and only the clauses that did not pass in the summary.")
@click.option("--force-color/--no-color", "color", default=None, envvar=env("color"), show_envvar=True,
              help="Colour the output always, or never [default: on a terminal, unless NO_COLOR is set].")
@click.option("--output", type=click.Choice(("text", "json")), default="text", envvar=env("output"),
              show_envvar=True, help="json: the run's summary as one JSON object on stdout, everything else on stderr.")
@click.option("--ndjson", type=click.Path(dir_okay=False), envvar=env("ndjson"), show_envvar=True,
              help="Stream events there as the run goes: a JSON line per test, then per clause and the verdict.")
@click.option("--har", type=click.Path(dir_okay=False), envvar=env("har"), show_envvar=True,
              help="Write every exchange with the target there as HAR 1.2 (tokens and secret headers redacted).")
@click.option("--report-dir", type=click.Path(file_okay=False), envvar=env("report-dir"), show_envvar=True,
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
    headers: tuple[str, ...],
    secret_headers: tuple[str, ...],
    proxy: str | None,
    tls_verify: str | None,
    client_cert: str | None,
    client_key: str | None,
    workers: str | None,
    example_db: str | None,
    max_examples: int | None,
    max_time: str | None,
    max_failures: int | None,
    clauses: str | None,
    skip_clauses: str | None,
    progress: str | None,
    quiet: bool,
    color: bool | None,
    output: str,
    ndjson: str | None,
    har: str | None,
    report_dir: str | None,
    pytest_args: tuple[str, ...],
) -> int:
    """Run the contract suite against a target.

    Options come from the command line, then the environment, then the config file, then the defaults.
    Options for pytest go after --, e.g. crm-contract run -- -k A3. Exit 0 every clause holds, 1 a clause
    was violated, 2 usage or configuration error, 3 inconclusive (the target kept answering 429, 5xx or
    nothing).
    """
    from crm_contract.errors import UsageError
    from crm_contract.kit.target import check_object, check_tokens
    from crm_contract.runs.runner import CLOCK_START, RunOptions, run_suite

    started = float(os.environ.get(CLOCK_START) or time.time())  # the suite's clock starts with this command
    check_object(object_slug, matching_attribute)
    check_tokens(token, read_token)
    from crm_contract.kit.pace import parse_duration

    try:
        seconds = parse_duration(max_time) if max_time else None
    except ValueError as error:
        raise UsageError(f"--max-time: {error}") from None
    options = RunOptions(hypothesis_profile=hypothesis_profile, seed=seed, exitfirst=exitfirst, rate_limit=rate_limit,
                         max_requests=max_requests, max_slowdown=max_slowdown, max_examples=max_examples,
                         max_time=seconds, max_failures=max_failures, clauses=clauses, skip_clauses=skip_clauses,
                         progress=progress, quiet=quiet, color=None if color is None else "yes" if color else "no",
                         ndjson=Path(ndjson) if ndjson else None, har=Path(har) if har else None,
                         report_dir=Path(report_dir) if report_dir else None, pytest_args=pytest_args,
                         workers=workers, example_db=example_db, started=started)
    options.check()
    # A target of the user's is judged by what Zeeg documents unless they ask for more; our own server
    # (and its fault catalogue) by every rule, reference choices included.
    target = target_from_options(base_url, token, read_token, profile=profile, request_timeout=request_timeout,
                                 headers=headers, secret_headers=secret_headers, proxy=proxy, tls_verify=tls_verify,
                                 client_cert=client_cert, client_key=client_key, object_slug=object_slug,
                                 matching_attribute=matching_attribute)
    if output == "json":
        return json_summary(target, options)
    result = run_suite(target, options)
    return point_at_report(options.report_dir, result.exit_code)


def json_summary(target: Any, options: Any) -> int:
    """--output json: the run's output on stderr, and one JSON object on stdout: the verdict of every clause."""
    import json
    import sys
    import tempfile
    from dataclasses import replace

    from crm_contract.runs.runner import run_suite

    with tempfile.TemporaryDirectory(prefix="crm-contract-json-") as scratch:
        where = options.report_dir or Path(scratch)
        result = run_suite(target, replace(options, report_dir=where, capture=True))
        print(result.output, file=sys.stderr)
        try:
            report = json.loads((where / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            report = {}
    summary = {"exit_code": result.exit_code, "meaning": MEANINGS.get(result.exit_code),
               "verdict": report.get("verdict"), "target": report.get("target"),
               "contract_profile": report.get("contract_profile"), "seed": report.get("seed"),
               "totals": report.get("totals"),
               "clauses": [{key: clause.get(key) for key in ("id", "verdict", "tests", "requests", "reason")}
                           for clause in report.get("clauses", [])],
               "report": str(options.report_dir / "report.json") if options.report_dir else None}
    click.echo(json.dumps(summary))
    return result.exit_code


# What each exit code of a run says, as its last line.
MEANINGS = {0: "every clause that ran holds", 1: "a contract clause was violated (the verdicts above)",
            2: "no verdict: a usage or set-up error, or an error of crm-contract itself",
            3: "no verdict: the target kept answering 429, 5xx or nothing, or the run was interrupted"}


def point_at_report(report_dir: Path | None, code: int) -> int:
    """After a run: where the page is, how to replay a failure, and what the exit code says."""
    _point_at_files(report_dir)
    click.echo(f"crm-contract: exit {code}: {MEANINGS.get(code, 'unknown')}")
    return code


def _point_at_files(report_dir: Path | None) -> None:
    if report_dir and (report_dir / "report.html").is_file():
        click.echo(f"crm-contract: report in {report_dir / 'report.html'}")
        failures = sorted((report_dir / "failures").glob("*.json"))
        if failures:
            click.echo(f"crm-contract: {len(failures)} replay file(s); try: crm-contract replay {failures[0]}")
