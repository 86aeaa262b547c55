"""The kill matrix: the suite against the correct reference server and against each named fault.

Each target runs as the reference server in this process (a loopback port of its own) and the suite
runs against it in a subprocess, exactly as against any other base URL: the suite sees only HTTP and
never learns which fault is active. A fault is killed when the suite fails; the matrix says which
clause caught it, when the first violation was found (the run's own clock, start-up included), when
the run ended with the shrunk failure, and how many requests that reproduction has.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import click

from . import PLUGIN, SUITE
from .embedded import EmbeddedServer
from .outcomes import CLOCK_START

__all__ = ["Outcome", "faults", "format_matrix", "run_one", "run_zoo", "zoo"]

CORRECT = "(correct server)"
_RULE = re.compile(r"\[(A\d+|section \d+)[^\]]*\]")
_FOUND = re.compile(r"^crm-contract: first contract violation found after ([\d.]+) s", re.MULTILINE)


@dataclass(frozen=True)
class Outcome:
    """One row of the matrix."""

    target: str
    rule: str
    verdict: str  # "passed", "killed", "survived", "failed" (the correct server failed) or "error"
    caught_by: str = ""
    caught_rule: str = ""
    seconds: float = 0.0  # the whole run: found, shrunk and reported
    requests: int = 0
    detail: str = ""
    found: float | None = None  # when the first violation was found

    @property
    def ok(self) -> bool:
        return self.verdict in ("passed", "killed")


def _first_failure(junit: Path) -> tuple[str, str]:
    """The name and message of the first failing test case in a JUnit report."""
    try:
        root = ElementTree.parse(junit).getroot()
    except (ElementTree.ParseError, OSError):
        return "", ""
    for case in root.iter("testcase"):
        for problem in (*case.findall("failure"), *case.findall("error")):
            name = case.get("name", "")
            return name, (problem.get("message") or "") + "\n" + (problem.text or "")
    return "", ""


def run_one(fault: str | None, rule: str, *, hypothesis_profile: str, seed: int | None,
            extra: Sequence[str] = (), profile: str = "strict") -> Outcome:
    """The suite (stopping at the first failure) against the reference server with `fault`."""
    write, read = f"zoo-{secrets.token_hex(8)}", f"zoo-read-{secrets.token_hex(8)}"
    target = fault or CORRECT
    with tempfile.TemporaryDirectory(prefix="crm-zoo-") as scratch, \
            EmbeddedServer(fault=fault, tokens={write: ("crm:read", "crm:write"), read: ("crm:read",)}) as server:
        junit = Path(scratch) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "--pyargs", SUITE, "-p", PLUGIN,
                   "-p", "no:cacheprovider", "-x", "-q", "--base-url", server.base_url,
                   "--hypothesis-profile", hypothesis_profile, f"--junitxml={junit}",
                   "--contract-profile", profile, *extra]
        if seed is not None:
            command.append(f"--hypothesis-seed={seed}")
        started = time.monotonic()
        # Tokens in the environment, never in a child's argv (visible in ps).
        environment = {**os.environ, CLOCK_START: repr(time.time()), "ZEEG_API_TOKEN": write,
                       "ZEEG_API_READ_TOKEN": read}
        finished = subprocess.run(command, capture_output=True, text=True, cwd=scratch, check=False,
                                  env=environment)
        seconds = time.monotonic() - started
        name, message = _first_failure(junit)
    if finished.returncode not in (0, 1):
        tail = (finished.stdout + finished.stderr).strip().splitlines()[-1:] or ["no output"]
        return Outcome(target, rule, "error", seconds=seconds, detail=f"exit {finished.returncode}: {tail[0]}")
    if finished.returncode == 0:
        return Outcome(target, rule, "passed" if fault is None else "survived", seconds=seconds)
    clause = _RULE.search(message)
    requests = sum(1 for line in message.splitlines() if line.lstrip().startswith("> "))
    verdict = "failed" if fault is None else "killed"
    found = _FOUND.search(finished.stdout)
    return Outcome(target, rule, verdict, name, clause.group(1) if clause else "?", seconds, requests,
                   message.strip().splitlines()[0][:200] if message.strip() else "",
                   float(found.group(1)) if found else None)


def run_zoo(faults: Sequence[tuple[str, str]], *, hypothesis_profile: str = "dev", seed: int | None = None,
            jobs: int = 2, on_outcome: Callable[[Outcome], None] | None = None,
            profile: str = "strict") -> list[Outcome]:
    """The correct server first, then every `(fault, rule)`, `jobs` at a time."""
    targets: list[tuple[str | None, str]] = [(None, "-"), *faults]

    def one(item: tuple[str | None, str]) -> Outcome:
        outcome = run_one(item[0], item[1], hypothesis_profile=hypothesis_profile, seed=seed, profile=profile)
        if on_outcome is not None:
            on_outcome(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, targets))


def format_matrix(outcomes: Sequence[Outcome]) -> str:
    """The kill matrix as a text table, with the kill rate and the median time to the first failure."""
    header = (f"{'target':34} {'rule':10} {'verdict':9} {'caught by':62} {'clause':10} {'found':>7} {'reported':>8} "
              f"{'requests':>8}")
    lines = [header, "-" * len(header)]
    for row in outcomes:
        caught = row.caught_by if len(row.caught_by) <= 62 else row.caught_by[:59] + "..."
        found = f"{row.found:6.1f}s" if row.found is not None else f"{'-':>7}"
        lines.append(f"{row.target:34} {row.rule:10} {row.verdict:9} {caught:62} {row.caught_rule:10} {found} "
                     f"{row.seconds:7.1f}s {row.requests or '':>8}")
        if row.verdict in ("error", "failed") and row.detail:
            lines.append(f"    {row.detail}")
    faults = [row for row in outcomes if row.target != CORRECT]
    killed = [row for row in faults if row.verdict == "killed"]
    summary = f"killed {len(killed)} of {len(faults)} faults"
    if killed:
        # A kill without a "found" line failed outside a check (set-up, say): its end is its first failure.
        found_median = median([row.found if row.found is not None else row.seconds for row in killed])
        summary += (f"; median time to the first failure {found_median:.1f} s, to the shrunk report "
                    f"{median([row.seconds for row in killed]):.1f} s (wall time from the start of the run)")
    lines.append(summary)
    return "\n".join(lines)


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


# The commands ------------------------------------------------------------------------------------------

@click.command()
def faults() -> None:
    """List the reference server's fault catalogue: name, the rule each breaks, what it does."""
    from crm_contract.reference_server import FAULTS

    for fault in sorted(FAULTS.values(), key=lambda f: (_rule_order(f.rule), f.name)):
        tag = "D" if fault.documented else "R"  # the part it breaks: documented, or a reference choice only
        click.echo(f"{fault.name:34} {fault.rule:10} {tag}  {fault.description}")


def _rule_order(rule: str) -> tuple[int, int]:
    number = int(re.sub(r"\D", "", rule) or 0)
    return (0, number) if rule.startswith("A") else (1, number)


@click.command()
@click.option("--fault", "names", multiple=True, metavar="NAME", help="Only these faults (repeat it); default all.")
@click.option("--hypothesis-profile", type=click.Choice(["dev", "ci", "thorough"]), default="dev", show_default=True,
              help="The Hypothesis profile of every run.")
@click.option("--seed", type=int, help="Hypothesis seed, the same for every run.")
@click.option("--jobs", type=click.IntRange(1, 16), default=2, show_default=True, help="Targets checked at once.")
@click.option("--profile", type=click.Choice(["strict", "documented"]), default="strict", show_default=True,
              help="The contract profile; under documented only the faults that break a documented [D] part run.")
def zoo(names: tuple[str, ...], hypothesis_profile: str, seed: int | None, jobs: int, profile: str) -> int:
    """Run the suite against the correct server and each fault; print the kill matrix.

    Exits 1 if a fault survives or the correct server fails, 2 for an unknown fault name.
    """
    from crm_contract.reference_server import FAULTS

    unknown = [name for name in names if name not in FAULTS]
    if unknown:
        raise click.UsageError(f"unknown fault(s): {', '.join(unknown)}; `crm-contract faults` lists them")
    chosen = [FAULTS[name] for name in (names or sorted(FAULTS))]
    if profile == "documented":
        chosen = [fault for fault in chosen if fault.documented]
    quiet = not sys.stdout.isatty()
    outcomes = run_zoo([(fault.name, fault.rule) for fault in chosen], hypothesis_profile=hypothesis_profile,
                       seed=seed, jobs=jobs, profile=profile,
                       on_outcome=None if quiet else lambda row: click.echo(f"  {row.target}: {row.verdict} "
                                                                            f"({row.seconds:.1f} s)", err=True))
    click.echo(format_matrix(outcomes))
    return 0 if all(outcome.ok for outcome in outcomes) else 1
