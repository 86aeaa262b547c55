"""`crm-contract rehearse`: the API page's bulk sync, rehearsed against a target and checked.

For each matching attribute kind (marked isUnique, and not: the contract allows either, and they fail
differently) a run-made object gets the catalogue's N rows asserted K times (`Sync.run`), each run read
back and compared (`Sync.verify`). The object is deleted at the end unless `keep`, also after Ctrl-C,
and written to the run's ledger first, so that `crm-contract sweep` removes it if the process is killed.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_contract.errors import FAILED, INCONCLUSIVE, OK, Inconclusive
from crm_contract.hosting.embedded import started
from crm_contract.kit.client import ContractClient
from crm_contract.kit.ledger import Ledger
from crm_contract.kit.sweep import ledger_directory
from crm_contract.kit.target import Target
from crm_contract.kit.violations import ContractViolation
from crm_contract.kit.workspace import Workspace
from crm_contract.strategies import run_id

from .catalogue import MATCHING_LABEL, Catalogue
from .sync import R_RULES, RULES, RunStats, Sync, percentile, pooled_clients

__all__ = ["RehearsalOptions", "rehearse"]


@dataclass(frozen=True)
class RehearsalOptions:
    records: int = 10_000
    concurrency: int = 8
    runs: int = 2
    seed: int = 0
    matching: tuple[bool, ...] = (True, False)  # isUnique on the matching attribute, for each object
    keep: bool = False
    report_dir: Path | None = None
    progress: bool = False


@dataclass
class Rehearsal:
    unique: bool
    slug: str
    runs: list[RunStats] = field(default_factory=list)
    read_back: list[int] = field(default_factory=list)
    sync: Sync | None = None


def rehearse(target: Target, options: RehearsalOptions, out: Callable[[str], None] = print) -> int:
    """Rehearse, print the summary, write the report; the exit code (0 held, 1 a violation, 3 no verdict)."""
    rehearsals: list[Rehearsal] = []
    inconclusive: str | None = None
    setup_failure: ContractViolation | None = None
    with started(target, own_process=True) as running:
        running.preflight()  # an unreachable URL or a rejected token: one line, exit 2, before anything is made
        out(f"rehearsing a bulk sync against {running.public_url}: {options.records:,} records, "
            f"{options.runs} runs, {options.concurrency} in flight")
        base = run_id()
        ledger = Ledger.for_run(ledger_directory(), base, running.base_url)
        with running.client() as setup_http:
            workspace = Workspace(ContractClient(setup_http), ledger=ledger)
            try:
                for unique in options.matching:
                    rehearsal = Rehearsal(unique, f"rh-{base}-{'u' if unique else 'p'}".lower()[:60])
                    rehearsals.append(rehearsal)
                    _rehearse_one(running, options, workspace, rehearsal, out)
            except Inconclusive as error:
                inconclusive = error.message
            except ContractViolation as error:  # the set-up calls (sections 2, 3) answered wrongly
                setup_failure = error

            except KeyboardInterrupt:
                inconclusive = "interrupted"
                raise
            finally:
                left = [] if options.keep else workspace.cleanup()
                if left:
                    out(f"left behind (crm-contract sweep removes them): {', '.join(left)}")
                ledger.close(finished=not options.keep and not left)
    if setup_failure is not None:
        out(f"VIOLATED {setup_failure.rule}: the rehearsal's set-up: {setup_failure}")
        out("crm-contract: exit 1: the object the rehearsal needs could not be made as the contract says")
        return FAILED
    return _verdict(rehearsals, options, running, inconclusive, out)


def _rehearse_one(target: Target, options: RehearsalOptions, workspace: Workspace, rehearsal: Rehearsal,
                  out: Callable[[str], None]) -> None:
    strict = target.contract_profile == "strict"
    catalogue = Catalogue(rehearsal.slug, options.records, options.seed, rehearsal.unique, documented_only=not strict)
    made = workspace.create_object(catalogue.definition())
    options_of = {attribute.key: attribute.option_ids for attribute in made.schema.attributes}
    catalogue.bind(made.keys, {label: options_of.get(key, ()) for label, key in made.keys.items()})
    kind = "isUnique" if rehearsal.unique else "not unique"
    sync: Sync | None = None
    with pooled_clients(target.client, on_wait=lambda seconds: sync.on_wait(seconds) if sync else None) as clients:
        done = _Progress(options.records, options.progress)
        sync = Sync(catalogue, clients, concurrency=options.concurrency, strict=strict,
                    progress=done.step)
        rehearsal.sync = sync
        for number in range(1, options.runs + 1):
            done.start(f"{MATCHING_LABEL} {kind}, run {number}")
            stats = sync.run(number, options.seed)
            done.finish()
            rehearsal.runs.append(stats)
            rehearsal.read_back.append(sync.verify())
            out(_run_line(kind, stats, rehearsal.read_back[-1]))


class _Progress:
    """A progress line on a terminal: rows done, rate, ETA (nothing when not asked for)."""

    def __init__(self, total: int, shown: bool) -> None:
        self.total, self.shown = total, shown and sys.stderr.isatty()
        self.done, self.began, self.label, self.last = 0, 0.0, "", 0.0

    def start(self, label: str) -> None:
        self.done, self.began, self.label = 0, time.monotonic(), label

    def step(self, rows: int) -> None:
        self.done += rows
        now = time.monotonic()
        if self.shown and now - self.last > 0.2:
            self.last = now
            rate = self.done / max(now - self.began, 1e-6)
            eta = (self.total - self.done) / rate if rate else 0
            sys.stderr.write(f"\r{self.label}: {self.done:,}/{self.total:,} rows, {rate:,.0f}/s, ETA {eta:.0f} s ")
            sys.stderr.flush()

    def finish(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _run_line(kind: str, stats: RunStats, read: int) -> str:
    ms = {name: percentile(stats.latencies, share) * 1000 for name, share in (("p50", .5), ("p95", .95), ("p99", .99))}
    statuses = ", ".join(f"{status} x{len(seconds):,}" for status, seconds in sorted(stats.by_status.items()))
    return (f"  {kind:<10} run {stats.number}: {stats.asserts:,} asserts in {stats.elapsed:.1f} s "
            f"({stats.rate:,.0f}/s), " + ", ".join(f"{name} {value:.1f} ms" for name, value in ms.items()) + ", "
            f"max {max(stats.latencies, default=0) * 1000:.1f} ms; {statuses}; {stats.retries_sent} rows sent twice; "
            f"{stats.throttled} 429s, {stats.waited:.1f} s waited; {read:,} records read back")


def _verdict(rehearsals: list[Rehearsal], options: RehearsalOptions, target: Target, inconclusive: str | None,
             out: Callable[[str], None]) -> int:
    _summary_table(rehearsals, out)
    violations = [(rehearsal, finding) for rehearsal in rehearsals if rehearsal.sync
                  for finding in rehearsal.sync.violations()]
    for rehearsal, finding in violations:
        kind = "isUnique" if rehearsal.unique else "not unique"
        out(f"VIOLATED {finding.rule} ({kind}): {finding.title}: {len(finding.keys):,} keys")
        for example in finding.examples:
            out("    " + example.replace("\n", "\n    "))
    for rehearsal in rehearsals:
        for finding in rehearsal.sync.allowed() if rehearsal.sync else []:
            out(f"noted {finding.rule} ({len(finding.keys):,} keys): {finding.title} - an [R] rule, "
                "not judged under the documented profile")
    if options.report_dir is not None:
        _write_report(options.report_dir, rehearsals, target, inconclusive)
    if violations:
        out(f"crm-contract: exit 1: {len(violations)} rule(s) violated")
        return FAILED
    if inconclusive:
        out(f"crm-contract: exit 3: no verdict: {inconclusive}")
        return INCONCLUSIVE
    out("crm-contract: exit 0: every record came out once, with its values, on every run")
    return OK


def _summary_table(rehearsals: list[Rehearsal], out: Callable[[str], None]) -> None:
    """The runs side by side, with the findings of each object."""
    rows: list[tuple[str, ...]] = [("matching", "run", "asserts", "a/s", "p50 ms", "p95 ms", "p99 ms", "max ms",
                                    "429s", "waited", "twice", "read back", "findings")]
    for rehearsal in rehearsals:
        findings = ", ".join(sorted(rehearsal.sync.findings)) if rehearsal.sync and rehearsal.sync.findings else "-"
        for stats, read in zip(rehearsal.runs, rehearsal.read_back, strict=False):
            ms = [percentile(stats.latencies, share) * 1000 for share in (.5, .95, .99, 1.0)]
            rows.append(("isUnique" if rehearsal.unique else "not unique", str(stats.number), f"{stats.asserts:,}",
                         f"{stats.rate:,.0f}", *(f"{value:.1f}" for value in ms), str(stats.throttled),
                         f"{stats.waited:.1f} s", f"{stats.retries_sent:,}", f"{read:,}", findings))
    if len(rows) == 1:
        return
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        out("  ".join(cell.ljust(width) if column in (0, 12) else cell.rjust(width)
                      for column, (cell, width) in enumerate(zip(row, widths, strict=True))).rstrip())


def _write_report(directory: Path, rehearsals: list[Rehearsal], target: Target, inconclusive: str | None) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"target": target.public_url, "inconclusive": inconclusive, "rehearsals": []}
    for rehearsal in rehearsals:
        findings = rehearsal.sync.findings.values() if rehearsal.sync else []
        report["rehearsals"].append({
            "matchingUnique": rehearsal.unique,
            "runs": [{"run": stats.number, "asserts": stats.asserts, "seconds": round(stats.elapsed, 3),
                      "assertsPerSecond": round(stats.rate, 1), "retries": stats.retries_sent,
                      "throttled": stats.throttled, "faultsRetried": stats.faults,
                      "secondsWaited": round(stats.waited, 2),
                      "latencyMs": {name: round(percentile(stats.latencies, share) * 1000, 2)
                                    for name, share in (("p50", .5), ("p95", .95), ("p99", .99), ("max", 1.0))},
                      "byStatus": {str(status): len(seconds) for status, seconds in sorted(stats.by_status.items())},
                      "latencyMsByStatus": {str(status): {name: round(percentile(seconds, share) * 1000, 2)
                                                          for name, share in (("p50", .5), ("p95", .95), ("p99", .99),
                                                                              ("max", 1.0))}
                                            for status, seconds in sorted(stats.by_status.items())},
                      "readBack": read}
                     for stats, read in zip(rehearsal.runs, rehearsal.read_back, strict=False)],
            "findings": [{"rule": finding.rule, "title": finding.title, "keys": len(finding.keys),
                          "examples": finding.examples} for finding in findings],
        })
    (directory / "rehearsal.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    from crm_contract.reports.rehearsal_files import write_html, write_junit

    judged = set(RULES) if target.contract_profile == "strict" else set(RULES) - R_RULES
    write_junit(directory / "rehearsal.junit.xml", report["rehearsals"], RULES, judged)
    timelines = {(rehearsal.unique, stats.number): stats for rehearsal in rehearsals for stats in rehearsal.runs}
    write_html(directory, report, timelines)
