"""`crm-contract run`: the contract suite against a target (by default the embedded reference server)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from crm_contract.kit.target import CONTRACT_PROFILES

__all__ = ["HYPOTHESIS_PROFILES", "run"]

HYPOTHESIS_PROFILES = ("dev", "ci", "thorough")


@click.command()
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
    from crm_contract.kit.target import Target, check_object, check_tokens
    from crm_contract.runs.runner import CLOCK_START, RunOptions, run_suite

    started = float(os.environ.get(CLOCK_START) or time.time())  # the suite's clock starts with this command
    check_object(object_slug, matching_attribute)
    check_tokens(token, read_token)
    options = RunOptions(hypothesis_profile=hypothesis_profile, seed=seed, exitfirst=exitfirst, rate_limit=rate_limit,
                         max_requests=max_requests, max_slowdown=max_slowdown,
                         report_dir=Path(report_dir) if report_dir else None, pytest_args=pytest_args, started=started)
    options.check()
    # A target of the user's is judged by what Zeeg documents unless they ask for more; our own server
    # (and its fault catalogue) by every rule, reference choices included.
    if base_url:
        target = Target.from_options(base_url, token, read_token, contract_profile=profile, object_slug=object_slug,
                                     matching_attribute=matching_attribute, timeout=request_timeout)
    else:
        target = Target.embedded_reference(token, read_token, contract_profile=profile, timeout=request_timeout,
                                           object_slug=object_slug, matching_attribute=matching_attribute)
    result = run_suite(target, options)
    return point_at_report(options.report_dir, result.exit_code)


def point_at_report(report_dir: Path | None, code: int) -> int:
    """After a run with --report-dir: where the page is, and how to replay a failure."""
    if report_dir and (report_dir / "report.html").is_file():
        click.echo(f"crm-contract: report in {report_dir / 'report.html'}")
        failures = sorted((report_dir / "failures").glob("*.json"))
        if failures:
            click.echo(f"crm-contract: {len(failures)} replay file(s); try: crm-contract replay {failures[0]}")
    return code
