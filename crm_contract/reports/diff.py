"""`crm-contract diff OLD NEW`: what changed between two runs, clause by clause, as a regression gate.

A CI job keeps the previous run's `report.json` and diffs the new one against it: the job fails
(exit 1) only when something fails now that did not before, so a clause that was already failing
does not block every later deploy, while a fresh regression does. Exit 2 for input that is not a
report, in one line, like every other usage error of `crm-contract`.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crm_contract.errors import UsageError
from crm_contract.kit.clauses import CLAUSES

__all__ = [
    "ABSENT",
    "CHANGED",
    "FIXED",
    "KINDS",
    "NEW_FAILURE",
    "REPORT_FORMAT",
    "STILL_FAILING",
    "UNCHANGED",
    "ClauseChange",
    "NewTestFailure",
    "ReportDiff",
    "ReportError",
    "check_report",
    "clause_order",
    
    "diff_reports",
    "format_diff",
    "load_report",
]

REPORT_FORMAT = "crm-contract-report/1"
NEW_FAILURE, FIXED, STILL_FAILING, CHANGED, UNCHANGED = "new failure", "fixed", "still failing", "changed", "unchanged"
KINDS = (NEW_FAILURE, FIXED, STILL_FAILING, CHANGED, UNCHANGED)
ABSENT = "absent"  # the verdict shown for a clause or test that one report does not have at all
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class ReportError(UsageError):
    """A file that is not a readable crm-contract report: one line, exit code 2."""


@dataclass(frozen=True)
class ClauseChange:
    """One clause's verdicts in both reports; `summary` says why it fails now (new and still failing)."""

    clause: str
    title: str
    kind: str
    old: str
    new: str
    summary: str | None = None


@dataclass(frozen=True)
class NewTestFailure:
    """A test that fails in the new report and did not in the old one."""

    test: str
    clause: str
    old: str
    summary: str | None = None


@dataclass(frozen=True)
class ReportDiff:
    clauses: tuple[ClauseChange, ...]
    new_test_failures: tuple[NewTestFailure, ...]
    warnings: tuple[str, ...] = field(default=())

    def of(self, kind: str) -> list[ClauseChange]:
        return [change for change in self.clauses if change.kind == kind]

    @property
    def regressed(self) -> bool:
        """True when anything fails now that did not: a clause, or a test of an already failing clause."""
        return bool(self.of(NEW_FAILURE) or self.new_test_failures)


# Reading ---------------------------------------------------------------------------------------------------


def load_report(path: str | Path) -> dict[str, Any]:
    """The report at `path` (a report.json, or a report directory holding one), checked; else `ReportError`."""
    source = Path(path)
    if source.is_dir():
        source = source / "report.json"
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{source}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportError(f"cannot read {source}: {getattr(error, 'strerror', None) or error}") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ReportError(f"{source} is not JSON ({error}); expected a crm-contract report.json") from None
    return check_report(data, str(source))


def check_report(data: Any, source: str = "report") -> dict[str, Any]:
    """`data` if it is a crm-contract report this version reads, else `ReportError` naming `source`.

    Checks only what diff and compare rely on, so that a report from a newer minor change still reads.
    """
    found = data.get("format") if isinstance(data, dict) else None
    if found != REPORT_FORMAT:
        if isinstance(found, str) and found.startswith("crm-contract-replay/"):
            raise ReportError(f"{source} is a replay file, not a report: give the run's report.json")
        if isinstance(found, str) and found.startswith("crm-contract-report/"):
            raise ReportError(f"{source} has the report format {found!r}; this crm-contract reads {REPORT_FORMAT!r}")
        raise ReportError(f"{source} is not a crm-contract report (no \"format\": \"{REPORT_FORMAT}\")")
    for key, required in (("clauses", ("id", "verdict")), ("tests", ("id", "outcome"))):
        entries = data.get(key, [])
        if not isinstance(entries, list):
            raise ReportError(f"{source} is not a well-formed report: {key!r} is not a list")
        for index, entry in enumerate(entries):
            if not (isinstance(entry, dict) and all(isinstance(entry.get(name), str) for name in required)):
                raise ReportError(f"{source} is not a well-formed report: {key}[{index}] lacks "
                                  f"{' or '.join(repr(name) for name in required)}")
    return data


# Comparing -------------------------------------------------------------------------------------------------


def clause_order(*reports: Mapping[str, Any]) -> list[str]:
    """Every clause id of the reports: those of `CLAUSES` in its order, then unknown ones as first seen."""
    known = [clause.id for clause in CLAUSES]
    extra: list[str] = []
    for report in reports:
        for entry in report.get("clauses", []):
            if entry["id"] not in known and entry["id"] not in extra:
                extra.append(entry["id"])
    present = {entry["id"] for report in reports for entry in report.get("clauses", [])}
    return [clause for clause in known if clause in present] + extra


def classify(old: str, new: str) -> str:
    if new == "fail":
        return STILL_FAILING if old == "fail" else NEW_FAILURE
    if old == "fail" and new == "pass":
        return FIXED
    return UNCHANGED if old == new else CHANGED


def failure_summary(report: Mapping[str, Any], clause: str) -> str | None:
    """The summary of the first failure that names `clause` (with its replay file), and how many more."""
    failures = [test["failure"] for test in report.get("tests", [])
                if test["outcome"] == "fail" and isinstance(test.get("failure"), dict)
                and test["failure"].get("clause") == clause]
    if not failures:
        return None
    first = failures[0]
    line = shorten(str(first.get("summary") or first.get("rule") or "failed"))
    if first.get("replay"):
        line += f"  [{first['replay']}]"
    return line + (f"  (and {len(failures) - 1} more)" if len(failures) > 1 else "")


def diff_reports(old: Mapping[str, Any], new: Mapping[str, Any]) -> ReportDiff:
    """Classify every clause of either report (see `KINDS`) and list the tests that newly fail."""
    old_verdicts = {entry["id"]: entry for entry in old.get("clauses", [])}
    new_verdicts = {entry["id"]: entry for entry in new.get("clauses", [])}
    titles = {clause.id: clause.title for clause in CLAUSES}
    changes = []
    for clause in clause_order(old, new):
        before = old_verdicts.get(clause, {}).get("verdict", ABSENT)
        after = new_verdicts.get(clause, {}).get("verdict", ABSENT)
        kind = classify(before, after)
        title = titles.get(clause) or new_verdicts.get(clause, old_verdicts.get(clause, {})).get("title", "")
        summary = failure_summary(new, clause) if after == "fail" else None
        changes.append(ClauseChange(clause, str(title), kind, before, after, summary))
    old_outcomes = {test["id"]: test["outcome"] for test in old.get("tests", [])}
    tests = []
    for test in new.get("tests", []):
        before = old_outcomes.get(test["id"], ABSENT)
        if test["outcome"] == "fail" and before != "fail":
            failure = test.get("failure") if isinstance(test.get("failure"), dict) else {}
            clause = failure.get("clause") or ", ".join(test.get("clauses") or []) or "?"
            tests.append(NewTestFailure(test["id"], str(clause), before, failure.get("summary")))
    return ReportDiff(tuple(changes), tuple(tests), tuple(setting_warnings(old, new)))


def setting_warnings(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """One line when the runs differ in what they checked, since verdicts may then differ for that reason."""
    differences = []
    if old.get("contract_profile") != new.get("contract_profile"):
        differences.append(f"contract profile ({old.get('contract_profile')} -> {new.get('contract_profile')})")
    if not same_target(old.get("target"), new.get("target")):
        differences.append(f"target ({old.get('target')} -> {new.get('target')})")
    if not differences:
        return []
    return [f"the two runs differ in {' and '.join(differences)}: verdicts may differ for that reason"]


def same_target(old: Any, new: Any) -> bool:
    """Equal URLs, or both the embedded server: its loopback port is new on every run."""
    if old == new:
        return True
    if not (isinstance(old, str) and isinstance(new, str)):
        return False
    a, b = urlsplit(old.rstrip("/")), urlsplit(new.rstrip("/"))
    return a.hostname in LOOPBACK and b.hostname in LOOPBACK and (a.scheme, a.path) == (b.scheme, b.path)


# Showing ---------------------------------------------------------------------------------------------------


def format_diff(result: ReportDiff, old_name: str = "old", new_name: str = "new") -> str:
    """The diff as text: new failures first with why they fail, then fixed, still failing, changed."""
    lines = [f"crm-contract diff: {old_name} -> {new_name}"]
    width = max((len(change.clause) for change in result.clauses), default=0)
    for kind in (NEW_FAILURE, FIXED, STILL_FAILING, CHANGED):
        changes = result.of(kind)
        if not changes:
            continue
        lines.append(f"{plural(len(changes), kind)}:")
        for change in changes:
            verdicts = f"{change.old} -> {change.new}"
            lines.append(f"  {change.clause:{width}}  {verdicts:26} {change.title}".rstrip())
            if change.summary:
                lines.append(f"  {'':{width}}  {change.summary}")
    unchanged = result.of(UNCHANGED)
    if unchanged:
        by_verdict: dict[str, list[str]] = {}
        for change in unchanged:
            by_verdict.setdefault(change.new, []).append(change.clause)
        groups = "; ".join(f"{verdict} {', '.join(clauses)}" for verdict, clauses in by_verdict.items())
        lines += textwrap.wrap(f"{plural(len(unchanged), UNCHANGED)}: {groups}", 118, subsequent_indent="  ",
                               break_on_hyphens=False)
    if result.new_test_failures:
        lines.append(f"{plural(len(result.new_test_failures), 'newly failing test')}:")
        for test in result.new_test_failures:
            lines.append(f"  {test.test}  [{test.clause}] (was {test.old})")
            if test.summary:
                lines.append(f"      {shorten(test.summary)}")
    counts = ", ".join(plural(len(result.of(kind)), kind) for kind in KINDS)
    verdict = "REGRESSION" if result.regressed else "no new failures"
    lines.append(f"{verdict}: {counts}")
    return "\n".join(lines)


def shorten(text: str, limit: int = 160) -> str:
    """The first line of a failure summary, cut to `limit`: a list of 32 statuses should not fill the screen."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def plural(count: int, noun: str) -> str:
    if count == 1 or noun in (UNCHANGED, CHANGED, FIXED, STILL_FAILING):
        return f"{count} {noun}"
    return f"{count} {noun}s"


def describe(path: str, report: Mapping[str, Any]) -> str:
    details: Sequence[str] = [str(report[key]) for key in ("run_id", "started") if report.get(key)]
    return f"{path} ({', '.join(details)})" if details else path
