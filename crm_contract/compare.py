"""`crm-contract compare`: the same seeded suite against two or more targets, clause by clause.

The use it is made for is mock fidelity: "does my mock of the Zeeg API keep the contract where the
reference server does?" (`--base-url reference --base-url http://localhost:4010/v2`), or staging
against the reference. Each target is checked by `crm-contract run --report-dir DIR/<n>-<host>` in a
subprocess, one after the other, with one seed for all, so that every target sees the same examples
and nothing of the suite is imported here. The reports are then joined into `DIR/compare.json`,
`DIR/compare.html` and a text matrix.

Exit codes: 0 the targets agree on every clause; 1 they differ on a clause; 2 usage or configuration
error (a bad URL, fewer than two base URLs, a token count that does not pair up, an unusable target);
3 inconclusive: a run ended without a verdict before any test, or the targets differ only where one of
them was left without a verdict (a rate-limited target is not evidence of a different behaviour).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from crm_contract.clauses import CLAUSES
from crm_contract.outcomes import CLOCK_START, FAILED, INCONCLUSIVE, OK, USAGE
from crm_contract.redaction import public_url
from crm_contract.reports.diff import ABSENT, ReportError, clause_order, load_report

__all__ = [
    "COMPARE_FORMAT",
    "REFERENCE",
    "CompareError",
    "Target",
    "build_comparison",
    "compare",
    "exit_code",
    "format_matrix",
    "make_targets",
    "pair_tokens",
    "replay_files",
    "write_html",
]

COMPARE_FORMAT = "crm-contract-compare/1"
REFERENCE = "reference"  # the --base-url that stands for the embedded reference server
TOKEN_ENV, READ_TOKEN_ENV = "ZEEG_API_TOKEN", "ZEEG_API_READ_TOKEN"
_ERROR_LINE = re.compile(r"^crm-contract: (error|inconclusive): (.*)$", re.MULTILINE)


class CompareError(click.ClickException):
    """Bad input or an unusable target: one line, exit code 2."""

    exit_code = USAGE


def inconclusive(message: str) -> click.ClickException:
    """The `run` command's own inconclusive error (exit 3, labelled so), imported late: cli imports us."""
    from crm_contract.errors import Inconclusive

    return Inconclusive(message)


@dataclass(frozen=True)
class Target:
    """One column of the comparison: where it is, and the tokens its run gets through the environment."""

    name: str  # `<n>-<host>`, also the name of its report directory
    base_url: str  # REFERENCE or an http(s) URL
    token: str | None = field(default=None, repr=False)
    read_token: str | None = field(default=None, repr=False)

    @property
    def shown_url(self) -> str:
        """The base URL without user info, query or fragment, as reports give it: no credential leaves."""
        return REFERENCE if self.base_url == REFERENCE else public_url(self.base_url)


# Targets from the options ----------------------------------------------------------------------------------


def check_url(url: str) -> None:
    if url == REFERENCE:
        return
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise CompareError(f"--base-url must be an http:// or https:// URL or {REFERENCE!r}, not {url!r}")


def pair_tokens(values: Sequence[str], urls: Sequence[str], option: str) -> list[str | None]:
    """The token of each base URL: one value for all, or one per base URL in order.

    "One per base URL" may count every base URL or only those that need a token (all but `reference`),
    so that `--base-url reference --base-url URL --token T` reads naturally; a `reference` target never
    gets a token (its embedded server makes its own), so a value in its position is ignored.
    """
    needing = [url for url in urls if url != REFERENCE]
    if not values:
        return [None] * len(urls)
    if len(values) == 1:
        given = [values[0]] * len(urls)
    elif len(values) == len(urls):
        given = list(values)
    elif len(values) == len(needing):
        remaining = iter(values)
        given = [next(remaining) if url != REFERENCE else "" for url in urls]
    else:
        raise CompareError(
            f"{len(values)} {option} values for {len(urls)} base URLs ({len(needing)} need a token): give one "
            f"for all, or one per base URL in order ({REFERENCE!r} needs none)"
        )
    return [None if url == REFERENCE else value for url, value in zip(urls, given, strict=True)]


def make_targets(base_urls: Sequence[str], tokens: Sequence[str], read_tokens: Sequence[str],
                 environ: Mapping[str, str]) -> list[Target]:
    """The targets in the order given, with their tokens; every usage error is found before any run."""
    if len(base_urls) < 2:
        raise CompareError(f"compare needs at least two --base-url (use {REFERENCE!r} for the embedded reference "
                           "server)")
    for url in base_urls:
        check_url(url)
    fallback = [environ[TOKEN_ENV]] if environ.get(TOKEN_ENV) else []
    read_fallback = [environ[READ_TOKEN_ENV]] if environ.get(READ_TOKEN_ENV) else []
    paired = pair_tokens(list(tokens) or fallback, base_urls, "--token")
    paired_read = pair_tokens(list(read_tokens) or read_fallback, base_urls, "--read-token")
    targets = []
    for n, (url, token, read_token) in enumerate(zip(base_urls, paired, paired_read, strict=True), start=1):
        if url != REFERENCE and not (token or "").strip():
            raise CompareError(f"a token is needed for {url}: --token or {TOKEN_ENV}")
        if read_token is not None and read_token == token:
            raise CompareError(f"the read-only token of {url} must differ from its --token")
        host = REFERENCE if url == REFERENCE else re.sub(r"[^A-Za-z0-9.-]", "_", urlsplit(url).hostname or "")
        targets.append(Target(f"{n}-{host}", url, token, read_token))
    return targets


# Running ---------------------------------------------------------------------------------------------------


def preflight(targets: Sequence[Target]) -> None:
    """Probe every URL target before the first run, so a mock that is down fails now, not after an hour."""
    from crm_contract.client import TargetInconclusive
    from crm_contract.outcomes import check_target
    from crm_contract.probe import TargetUnusable

    for target in targets:
        if target.base_url == REFERENCE or target.token is None:
            continue
        try:
            check_target(target.base_url.rstrip("/"), target.token, target.read_token, None, None)
        except TargetUnusable as error:
            raise CompareError(f"{target.name}: {error}") from None
        except TargetInconclusive as error:
            raise inconclusive(f"{target.name}: {error}") from None


def run_target(target: Target, directory: Path, seed: int, profile: str, hypothesis_profile: str | None,
               pytest_args: Sequence[str]) -> dict[str, Any]:
    """`crm-contract run` against one target into `directory`; its parsed report.json."""
    report = directory / "report.json"
    report.unlink(missing_ok=True)  # a report left by an earlier compare must not pass for this run's
    command = [sys.executable, "-m", "crm_contract.cli", "run", "--report-dir", str(directory), "--seed", str(seed),
               "--profile", profile]
    if hypothesis_profile:
        command += ["--hypothesis-profile", hypothesis_profile]
    if target.base_url != REFERENCE:
        command += ["--base-url", target.base_url]
    command += ["--", *pytest_args]
    # Tokens travel in the environment, never in argv (where `ps` shows them); inherited ones are dropped
    # so that each run gets exactly its own, and the embedded server none.
    env = {key: value for key, value in os.environ.items()
           if key not in (TOKEN_ENV, READ_TOKEN_ENV, "PYTEST_BASE_URL", CLOCK_START)}
    if target.token:
        env[TOKEN_ENV] = target.token
    if target.read_token:
        env[READ_TOKEN_ENV] = target.read_token
    sys.stdout.flush()
    finished = subprocess.run(command, env=env, stderr=subprocess.PIPE, text=True, check=False)
    found = None if report.is_file() else _ERROR_LINE.search(finished.stderr)
    # The run's own one-line error is said again below, naming the target; anything else is passed on.
    rest = (_ERROR_LINE.sub("", finished.stderr, count=1) if found else finished.stderr).strip()
    if rest:
        click.echo(rest, err=True)
    if report.is_file():
        try:
            return load_report(report)
        except ReportError as error:
            raise inconclusive(f"{target.name}: {error.message}") from None
    reason = found.group(2) if found else f"the run ended (exit {finished.returncode}) without writing {report}"
    if finished.returncode == USAGE:
        raise CompareError(f"{target.name}: {reason}")
    raise inconclusive(f"{target.name}: {reason}")


# Joining the reports ---------------------------------------------------------------------------------------


def build_comparison(targets: Sequence[Target], reports: Sequence[Mapping[str, Any]],
                     seed: int | None) -> dict[str, Any]:
    """`compare.json`: the targets, the seed, and per clause each target's verdict and whether they differ."""
    titles = {clause.id: (clause.title, clause.tag) for clause in CLAUSES}
    clauses = []
    for clause in clause_order(*reports):
        entries: list[Mapping[str, Any]] = [
            next((c for c in report.get("clauses", []) if c["id"] == clause), {}) for report in reports
        ]
        verdicts = {target.name: entry.get("verdict", ABSENT) for target, entry in zip(targets, entries, strict=True)}
        title, tag = titles.get(clause) or (next((e.get("title") for e in entries if e.get("title")), ""),
                                            next((e.get("tag") for e in entries if e.get("tag")), ""))
        differs = len(set(verdicts.values())) > 1
        clauses.append({"id": clause, "title": title, "tag": tag, "verdicts": verdicts, "differs": differs,
                        # a difference only a verdict-less run makes says nothing about behaviour
                        "conclusive": not (differs and "inconclusive" in verdicts.values())})
    first = reports[0] if reports else {}
    return {
        "format": COMPARE_FORMAT,
        "seed": seed,
        "contract_profile": first.get("contract_profile"),
        "hypothesis_profile": first.get("hypothesis_profile"),
        "targets": [{"name": target.name, "base_url": target.shown_url, "target": report.get("target"),
                     "report": f"{target.name}/report.json", "verdict": report.get("verdict"),
                     "run_id": report.get("run_id"), "totals": report.get("totals"),
                     "fidelity": (report.get("fidelity") or {}).get("summary")}
                    for target, report in zip(targets, reports, strict=True)],
        "clauses": clauses,
        "differ": [clause["id"] for clause in clauses if clause["differs"]],
        "agree": not any(clause["differs"] for clause in clauses),
    }


def exit_code(comparison: Mapping[str, Any]) -> int:
    differing = [clause for clause in comparison["clauses"] if clause["differs"]]
    if not differing:
        return OK
    return FAILED if any(clause["conclusive"] for clause in differing) else INCONCLUSIVE


def format_matrix(comparison: Mapping[str, Any]) -> str:
    """Clauses down, targets across, `differs` at the end of a row whose verdicts are not all the same."""
    names = [target["name"] for target in comparison["targets"]]
    widths = [max(len(name), len("inconclusive")) for name in names]
    first = max([len("clause"), *(len(clause["id"]) for clause in comparison["clauses"])])
    header = f"{'clause':{first}}  " + "  ".join(f"{name:{width}}" for name, width in zip(names, widths, strict=True))
    lines = []
    for target in comparison["targets"]:  # what kind of target each is, before any table
        if target.get("fidelity"):
            lines += [*textwrap.wrap(f"{target['name']}: {target['fidelity']}", width=100), ""]
    lines += [header.rstrip(), "-" * len(header)]
    for clause in comparison["clauses"]:
        cells = "  ".join(f"{clause['verdicts'][name]:{width}}" for name, width in zip(names, widths, strict=True))
        marker = "" if not clause["differs"] else "differs" if clause["conclusive"] else "differs (inconclusive)"
        lines.append(f"{clause['id']:{first}}  {cells}  {marker}".rstrip())
    lines.append("")
    for target in comparison["targets"]:
        where = "the embedded reference server" if target["base_url"] == REFERENCE else target["base_url"]
        lines.append(f"{target['name']}: {where}, run verdict {target['verdict']} ({target['report']})")
    differ = comparison["differ"]
    seed = comparison["seed"]
    if not differ:
        lines.append(f"the targets agree on all {len(comparison['clauses'])} clauses (seed {seed})")
    else:
        lines.append(f"the targets differ on {len(differ)} of {len(comparison['clauses'])} clauses: "
                     f"{', '.join(differ)} (seed {seed})")
    return "\n".join(lines)


def replay_files(directories: Sequence[Path], reports: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Every replay file the reports name, keyed for `render_html`; one that cannot be read is left out."""
    from crm_contract.reports.html import failure_key

    found: dict[str, Mapping[str, Any]] = {}
    for index, (directory, report) in enumerate(zip(directories, reports, strict=True)):
        paths = {path for clause in report.get("clauses", []) for path in clause.get("failures") or []}
        paths |= {test["failure"]["replay"] for test in report.get("tests", [])
                  if isinstance(test.get("failure"), dict) and test["failure"].get("replay")}
        for path in sorted(paths):
            try:
                data = json.loads((directory / path).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                found[failure_key(index, path, reports=len(reports))] = data
    return found


# The command -----------------------------------------------------------------------------------------------


@click.command()
@click.option("--base-url", "base_urls", multiple=True, metavar="URL",
              help=f"A target, ending in /v2; {REFERENCE!r} is the embedded reference server. Two or more.")
@click.option("--token", "tokens", multiple=True,
              help=f"Token with crm:write: one for all targets, or one per base URL in order [env {TOKEN_ENV}].")
@click.option("--read-token", "read_tokens", multiple=True,
              help=f"Token with crm:read only, paired like --token [env {READ_TOKEN_ENV}].")
@click.option("--report-dir", type=click.Path(file_okay=False), default="crm-compare", show_default=True,
              help="Where compare.json, compare.html and one report directory per target go.")
@click.option("--seed", type=int, help="Hypothesis seed for every run [default: a random one, printed].")
@click.option("--profile", type=click.Choice(("strict", "documented")), default="strict", show_default=True,
              help="strict: documented rules and reference choices; documented: documented rules only.")
@click.option("--hypothesis-profile", type=click.Choice(("dev", "ci", "thorough")),
              help="Examples per test: dev (10), ci (50, derandomized), thorough (200) [default: ci in CI, else dev].")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- PYTEST_ARGS]...")
def compare(base_urls: tuple[str, ...], tokens: tuple[str, ...], read_tokens: tuple[str, ...], report_dir: str,
            seed: int | None, profile: str, hypothesis_profile: str | None, pytest_args: tuple[str, ...]) -> int:
    """Run the same seeded suite against each target and compare the verdicts clause by clause.

    Exit 0 the targets agree on every clause, 1 they differ, 2 usage or configuration error,
    3 inconclusive (a run ended before any test, or they differ only where a target gave no verdict).
    """
    targets = make_targets(base_urls, tokens, read_tokens, os.environ)
    root = Path(report_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CompareError(f"cannot create the report directory {report_dir}: {error.strerror}") from None
    preflight(targets)
    if seed is None:
        seed = secrets.randbelow(2**32)
    click.echo(f"crm-contract compare: seed {seed} for every target (--seed {seed} repeats this comparison)")
    reports = []
    for n, target in enumerate(targets, start=1):
        where = "the embedded reference server" if target.base_url == REFERENCE else target.shown_url
        click.echo(f"crm-contract compare: [{n}/{len(targets)}] {where} -> {root / target.name}")
        reports.append(run_target(target, root / target.name, seed, profile, hypothesis_profile, pytest_args))
    comparison = build_comparison(targets, reports, seed)
    (root / "compare.json").write_text(json.dumps(comparison, indent=2) + "\n", encoding="utf-8")
    write_html(root, targets, reports)
    click.echo(format_matrix(comparison))
    click.echo(f"crm-contract compare: {root / 'compare.json'}, {root / 'compare.html'}")
    return exit_code(comparison)


def write_html(root: Path, targets: Sequence[Target], reports: Sequence[Mapping[str, Any]]) -> None:
    from crm_contract.reports.html import render_html

    failures = replay_files([root / target.name for target in targets], reports)
    title = "crm-contract compare: " + " vs ".join(target.shown_url for target in targets)
    (root / "compare.html").write_text(render_html(reports, failures=failures, title=title), encoding="utf-8")
