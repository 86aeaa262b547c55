"""The kill matrix: the suite against the correct reference server and against each named fault.

Each target runs as the reference server in this process (a loopback port of its own) and the suite runs
against it through `crm_contract.runs.runner.run_suite`, exactly as against any other base URL: the
suite sees only HTTP and never learns which fault is active. A fault is killed when the suite fails; the
matrix says which clause caught it, when the first violation was found (the run's own clock, start-up
included), when the run ended with the shrunk failure, and how many requests that reproduction has (from
the run's report.json).
"""

from __future__ import annotations

import json
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from crm_contract.errors import CrmContractError
from crm_contract.hosting.embedded import EmbeddedServer
from crm_contract.kit.target import READ_SCOPES, WRITE_SCOPES, Target
from crm_contract.runs.runner import RunOptions, run_suite

__all__ = ["Outcome", "format_matrix", "rule_order", "run_one", "run_zoo"]

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


def _first_failure(report_dir: Path) -> tuple[str, str]:
    """The name of the first failing test of a run's report.json, and its failure: rule, summary, message."""
    try:
        report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "", ""
    for test in report.get("tests", []):
        failure = test.get("failure")
        if test.get("outcome") == "fail" and isinstance(failure, dict):
            name = str(test["id"]).partition("::")[2] or str(test["id"])
            return name, f"[{failure.get('rule')}] {failure.get('summary')}\n{failure.get('message') or ''}"
    return "", ""


def run_one(fault: str | None, rule: str, *, hypothesis_profile: str, seed: int | None,
            extra: Sequence[str] = (), profile: str = "strict", workers: int = 1) -> Outcome:
    """The suite (stopping at the first failure) against the reference server with `fault`."""
    write, read = f"zoo-{secrets.token_hex(8)}", f"zoo-read-{secrets.token_hex(8)}"
    name = fault or CORRECT
    with tempfile.TemporaryDirectory(prefix="crm-zoo-") as scratch, \
            EmbeddedServer(fault=fault, tokens={write: WRITE_SCOPES, read: READ_SCOPES}) as server:
        options = RunOptions(hypothesis_profile=hypothesis_profile, seed=seed, exitfirst=True, capture=True,
                             workers=workers,
                             report_dir=Path(scratch), pytest_args=("-p", "no:cacheprovider", "-q", *extra))
        started = time.monotonic()
        try:
            finished = run_suite(Target(server.base_url, write, read, contract_profile=profile), options)
        except CrmContractError as error:
            return Outcome(name, rule, "error", seconds=time.monotonic() - started,
                           detail=f"{error.label}: {error.message}")
        seconds = time.monotonic() - started
        test, message = _first_failure(Path(scratch))
    if finished.exit_code not in (0, 1):
        tail = finished.output.strip().splitlines()[-1:] or ["no output"]
        return Outcome(name, rule, "error", seconds=seconds, detail=f"exit {finished.exit_code}: {tail[0]}")
    if finished.exit_code == 0:
        return Outcome(name, rule, "passed" if fault is None else "survived", seconds=seconds)
    clause = _RULE.search(message)
    requests = sum(1 for line in message.splitlines() if line.lstrip().startswith("> "))
    verdict = "failed" if fault is None else "killed"
    found = _FOUND.search(finished.output)
    return Outcome(name, rule, verdict, test, clause.group(1) if clause else "?", seconds, requests,
                   message.strip().splitlines()[0][:200] if message.strip() else "",
                   float(found.group(1)) if found else None)


def run_zoo(faults: Sequence[tuple[str, str]], *, hypothesis_profile: str = "dev", seed: int | None = None,
            jobs: int = 2, on_outcome: Callable[[Outcome], None] | None = None,
            profile: str = "strict", workers: int = 1) -> list[Outcome]:
    """The correct server first, then every `(fault, rule)`, `jobs` at a time."""
    targets: list[tuple[str | None, str]] = [(None, "-"), *faults]

    def one(item: tuple[str | None, str]) -> Outcome:
        outcome = run_one(item[0], item[1], hypothesis_profile=hypothesis_profile, seed=seed, profile=profile,
                          workers=workers)
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


def rule_order(rule: str) -> tuple[int, int]:
    """Rules A1, A2, ... first, then the sections, each in number order."""
    number = int(re.sub(r"\D", "", rule) or 0)
    return (0, number) if rule.startswith("A") else (1, number)
