"""The pytest plugin behind `--report-dir`: what each test did, and the report directory at the end.

Per test it keeps the outcome (pass, fail, inconclusive, not-run), the clauses from its `rule` marker,
the examples Hypothesis ran and the requests sent, and for a failure the violated rule, the shrunk
request sequence (`ContractViolation.exchanges`) and Hypothesis's blob of the shrunk example. When the
session ends it writes report.json, junit.xml, report.html and a replay file (JSON and curl script) per
failure, every string passed through the run's `Redactor` first. docs/report-format.md has the format.
"""

from __future__ import annotations

import json
import platform
import re
import textwrap
import time
from collections.abc import Generator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import pytest

from crm_contract.kit import examples
from crm_contract.kit.clauses import CLAUSES, clauses_of
from crm_contract.kit.client import NO_BODY, ContractClient
from crm_contract.kit.redaction import Redactor, public_url
from crm_contract.kit.violations import ContractViolation, SetupViolation, clause_of
from crm_contract.plugin.fidelity import Fidelity
from crm_contract.plugin.outcomes import RunOutcome, exceptions_in
from crm_contract.plugin.session import contract_profile, selected_clauses, strict_adds, target_of
from crm_contract.plugin.workers import is_controller, is_worker, longest_first, plain, worker_input, worker_output
from crm_contract.reports.har import HarWriter
from crm_contract.reports.junit import junit_xml
from crm_contract.reports.replay_files import REPLAY_FORMAT, shell_script


def portable_id(nodeid: str) -> str:
    """A test's id within the suite (`test_x.py::name[param]`), the same whichever folder it ran from."""
    return nodeid.rpartition("contract_tests/")[2]


def item_id(item: pytest.Item) -> str:
    """The portable id of `item`, with its parameters even where the node id leaves them out.

    Schemathesis gives all operations of a test one node id; its item names tell them apart.
    """
    nodeid = item.nodeid
    if not nodeid.endswith(item.name):
        nodeid = f"{nodeid.rpartition('::')[0]}::{item.name}"
    return portable_id(nodeid)

__all__ = ["REPORT_FORMAT", "Recorder", "clause_verdicts", "portable_id", "item_id"]

REPORT_FORMAT = "crm-contract-report/1"
_PACKAGES = ("zeeg-crm-contract", "pytest", "hypothesis", "schemathesis", "httpx")
_SLUG = re.compile(r"^/crm/(?:objects/)?([^/?]+)")


@dataclass
class Entry:
    """What one test did, as the report shows it."""

    id: str
    clauses: list[str]
    outcome: str = "pass"
    duration: float = 0.0
    examples: int | None = None
    requests: int = 0
    reason: str | None = None
    failure: dict[str, Any] | None = None
    replay: dict[str, Any] | None = field(default=None, repr=False)
    tag: str = "D"  # "R": the test checks a reference choice as a whole (its `reference` marker)


def tag_of(item: pytest.Item) -> str:
    """"R" for a test of a reference choice (marker `reference`), else "D"."""
    return "R" if item.get_closest_marker("reference") else "D"


def clause_verdicts(tests: list[Entry], selected: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """Every clause of the contract with its verdict and the tests, examples and requests behind it.

    A test that failed on the run's set-up (sections 2 and 3) gave no verdict on its own clauses: they
    count it as not run, with the set-up failure as the reason. A not-run clause says why. A clause
    some of whose tests passed while others were not run (no read-only token, a type the object lacks,
    the request budget) is partial, never pass, with the first reason; tests left out by choice (the
    documented profile, a -k or --clauses selection) do not make it partial.
    """
    rows = []
    for clause in CLAUSES:
        mine = [test for test in tests if clause.id in test.clauses]
        failed = [test.failure for test in tests if test.failure and test.failure["clause"] == clause.id]
        ran = [test for test in mine if not _setup_failed(test, clause.id)]
        if selected is not None and clause.id not in selected:
            verdict = "not-run"  # left out by --clauses or --skip-clauses, whatever its tests did for others
            failed = []
        elif failed:
            verdict = "fail"
        elif any(test.outcome in ("inconclusive", "fail") for test in ran):
            verdict = "inconclusive"  # left without a verdict, or failed on another clause first
        elif any(test.outcome == "pass" for test in ran):
            left = [test for test in ran if test.outcome == "not-run" and not _by_choice(test)]
            verdict = "partial" if left else "pass"
        else:
            verdict = "not-run"
        row = {"id": clause.id, "title": clause.title, "tag": clause.tag, "contract": clause.link,
               "verdict": verdict,
               "tests": len(mine), "examples": sum(test.examples or 0 for test in mine),
               "requests": sum(test.requests for test in mine),
               "failures": [failure["replay"] for failure in failed if failure.get("replay")]}
        if selected is not None and clause.id not in selected:
            row["reason"] = "not selected (--clauses, --skip-clauses)"
        elif verdict == "not-run" and mine:
            reasons = [test.reason for test in mine if test.reason]
            setup = [reason for reason in reasons if "set-up" in reason]
            row["reason"] = next(iter(setup or reasons), None)
        if verdict == "partial":
            why = next((str(test.reason).removeprefix("not run: ") for test in left if test.reason), "")
            row["reason"] = f"{len(left)} of {len(mine)} tests not run" + (f": {why}" if why else "")
        rows.append(row)
    return rows


def _by_choice(test: Entry) -> bool:
    """Whether `test` was left out by choice (the documented profile, -k, --clauses), not for want of something."""
    by_profile = test.tag == "R" and "contract profile is 'documented'" in (test.reason or "")
    return test.reason == "deselected" or by_profile


def _setup_failed(test: Entry, clause: str) -> bool:
    """Whether `test` failed on the run's set-up rather than on `clause`."""
    return test.failure is not None and bool(test.failure.get("setup")) and test.failure["clause"] != clause


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            found["crm_contract" if package == "zeeg-crm-contract" else package] = version(package)
        except PackageNotFoundError:
            continue
    return found


def _violation_in(error: BaseException | None) -> ContractViolation | None:
    """The contract violation behind `error`, looking through causes and exception groups."""
    if error is None:
        return None
    return next((found for found in exceptions_in(error) if isinstance(found, ContractViolation)), None)


class Recorder:
    """Collects the run test by test; writes the report directory when the session ends."""

    def __init__(self, config: pytest.Config, outcome: RunOutcome, report_dir: Path | None) -> None:
        self.config = config
        self.outcome = outcome
        self.report_dir = report_dir
        self.started = datetime.now(UTC)
        self.clock = time.monotonic()
        self.tests: dict[str, Entry] = {}
        self._before: tuple[int, int] = (0, 0)
        self._items: dict[str, pytest.Item] = {}
        self._running: pytest.Item | None = None
        self._errors: dict[int, tuple[pytest.TestReport, BaseException | None]] = {}
        self.target: Any = None  # the session's Target, once the fixture has made it
        self.redactor = Redactor([])
        self.fidelity = Fidelity()
        ContractClient.observers.append(self.fidelity.observe)
        ContractViolation.listeners.append(self.fidelity.violation)
        self.events: IO[str] | None = None  # --crm-ndjson: a line per test as it ends, then the verdicts
        self.har: HarWriter | None = None  # --crm-har: every exchange
        # pytest-xdist (`crm_contract.plugin.workers`): a worker records and hands over, its controller writes.
        self.worker, self.controller = is_worker(config), is_controller(config)
        self.har_parts: list[Path] = []  # the controller: the workers' HAR files, merged into one at the end
        self._order: list[str] = []  # the controller: the tests in collection order, from the first worker
        self.reported_requests = 0  # the controller: requests of the tests reported so far (the progress line)
        events, har = config.getoption("crm_ndjson", None), config.getoption("crm_har", None)
        try:
            if events and not self.worker:
                Path(events).parent.mkdir(parents=True, exist_ok=True)
                self.events = Path(events).open("w", encoding="utf-8")
            if har:
                # Each worker writes a part of its own next to the file; the controller joins them.
                path = Path(f"{har}.{worker_input(config)['workerid']}") if self.worker else Path(har)
                self.har = HarWriter(path, _versions().get("crm_contract", "0"))
                ContractClient.observers.append(self.har.add)
        except OSError as error:
            raise pytest.UsageError(f"cannot write {error.filename}: {error.strerror}") from None
        if self.controller:  # no test runs here, so no target fixture: the target is the one the options name
            self.use_target(target_of(config))

    def _event(self, kind: str, **fields: Any) -> None:
        """One NDJSON line, redacted, flushed at once: a CI system may read the file while the run goes on."""
        if self.events is not None:
            self.events.write(json.dumps(self.redactor.data({"event": kind, **fields}), ensure_ascii=False) + "\n")
            self.events.flush()

    def pytest_unconfigure(self) -> None:
        if self.har is not None:
            if self.har.add in ContractClient.observers:
                ContractClient.observers.remove(self.har.add)
            self.har.close()
        if self.events is not None:
            self.events.close()
        if self.fidelity.observe in ContractClient.observers:
            ContractClient.observers.remove(self.fidelity.observe)
        if self.fidelity.violation in ContractViolation.listeners:
            ContractViolation.listeners.remove(self.fidelity.violation)

    def fidelity_summary(self, clauses: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """What kind of target this run met (`crm_contract.plugin.fidelity`), from what it saw so far."""
        documented = contract_profile(self.config) == "documented"
        if clauses is None:
            clauses = clause_verdicts(list(self.tests.values()), selected_clauses(self.config))
        summary = self.fidelity.summary(clauses, documented=documented)
        return {**summary, "summary": self.redactor.text(summary["summary"])}

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Generator[None, None, None]:
        """The fidelity paragraph first, before the failures: what kind of target this is, in plain words;
        the verdict of every clause last, after everything else the run has to say."""
        ran = self.tests and any(test.outcome != "not-run" for test in self.tests.values())
        if ran:
            terminalreporter.write_sep("=", "fidelity: what kind of target this is")
            width = min(terminalreporter._tw.fullwidth, 100)
            for line in textwrap.wrap(self.fidelity_summary()["summary"], width=width):
                terminalreporter.write_line(line)
        result = yield
        if self.tests:
            self._clause_summary(terminalreporter)
        return result

    def _clause_summary(self, terminalreporter: Any) -> None:
        """One line a clause: id, verdict, tests, requests, and why (the first failure, or what was not run)."""
        terminalreporter.write_sep("=", "crm-contract: the verdict of every clause")
        colours = {"pass": {"green": True}, "fail": {"red": True, "bold": True}, "inconclusive": {"yellow": True},
                   "partial": {"yellow": True}}
        tests = list(self.tests.values())
        quiet = bool(self.config.getoption("crm_quiet", False))
        for clause in clause_verdicts(tests, selected_clauses(self.config)):
            if quiet and clause["verdict"] in ("pass", "not-run"):
                continue  # --quiet: only what did not hold, or had no verdict
            why = ""
            if clause["verdict"] == "fail":
                failure = next((t.failure for t in tests if t.failure and t.failure["clause"] == clause["id"]), None)
                why = f"[{failure['rule']}] {failure['summary']}" if failure else ""
            elif clause.get("reason"):
                why = str(clause["reason"])
            line = (f"{clause['id']:<10} {clause['verdict']:<12} {clause['tests']:>3} tests {clause['requests']:>6} "
                    f"requests  {self.redactor.text(' '.join(why.split()))}").rstrip()
            terminalreporter.write_line(line[:160], **colours.get(clause["verdict"], {}))

    # Collection ------------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            self._items[item.nodeid] = item
            examples.instrument(item)
            self.tests[item_id(item)] = Entry(item_id(item), list(clauses_of(item)), outcome="not-run",
                                                 reason="not run", tag=tag_of(item))
        if self.worker:  # the report keeps the collection's order (above); the workers take the long tests first
            items[:] = longest_first(items)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        for item in items:
            self.tests[item_id(item)] = Entry(item_id(item), list(clauses_of(item)), outcome="not-run",
                                                 reason="deselected", tag=tag_of(item))

    # Running ---------------------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        self._before = (examples.count(), self.outcome.traffic.sent)
        self._errors.clear()  # reports of this test's attempts only (each kept alive, so no id is reused)
        record = self.tests.setdefault(item_id(item), Entry(item_id(item), []))
        record.outcome, record.reason = "pass", None
        self._running = item
        try:
            return (yield)
        finally:
            self._running = None
            self._settle(item, record)
            self._test_event(record)

    def _settle(self, item: pytest.Item, record: Entry) -> None:
        """The examples and requests of the test that ran last: counted from when its protocol started."""
        ran = examples.count() - self._before[0]
        driven = getattr(getattr(item, "obj", None), "hypothesis", None) is not None or ran > 0
        record.examples = ran if driven else None
        record.requests = self.outcome.traffic.sent - self._before[1]

    def _test_event(self, record: Entry) -> None:
        self._event("test", id=record.id, clauses=record.clauses, outcome=record.outcome,
                    duration=round(record.duration, 3), requests=record.requests, reason=record.reason,
                    failure={key: record.failure.get(key) for key in ("clause", "rule", "summary")}
                    if record.failure else None)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Keep the exception behind each report; only the reports that are logged are recorded.

        A failure amid infrastructure faults is run again before it is reported (`crm_contract.plugin.outcomes`),
        so a report made here may be one of an attempt that is never logged.
        """
        report = yield
        if report.failed:
            self._errors[id(report)] = (report, call.excinfo.value if call.excinfo is not None else None)
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.controller:
            self._from_worker(report)
            return
        _, error = self._errors.pop(id(report), (report, None))
        if report.when not in ("setup", "call", "teardown") or report.nodeid not in self._items:
            return
        # The running item: schemathesis gives all operations of a test one node id.
        item = self._running if self._running is not None and self._running.nodeid == report.nodeid \
            else self._items[report.nodeid]
        record = self.tests.setdefault(item_id(item), Entry(item_id(item), []))
        record.duration += report.duration
        if report.skipped and record.outcome == "pass":
            record.outcome = "not-run"
            longrepr = report.longrepr
            record.reason = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr).removeprefix("Skipped: ")
        elif report.failed and record.outcome != "fail":
            inconclusive = getattr(report, "crm_inconclusive", None)
            if inconclusive:
                record.outcome, record.reason = "inconclusive", inconclusive
            else:
                self._failed(record, error, report)
        if self.worker:
            # What the controller needs goes with the report as plain data, the violation object stays here.
            if hasattr(report, "crm_violation"):
                del report.crm_violation
            if report.when == "teardown":  # the test's last report: its record is complete
                self._settle(item, record)
                report.crm_entry = plain(asdict(record))  # type: ignore[attr-defined]

    # pytest-xdist: the controller's side ---------------------------------------------------------------

    def _from_worker(self, report: pytest.TestReport) -> None:
        """A worker's report: the test's record, when it is the test's last one."""
        data = getattr(report, "crm_entry", None)
        if not isinstance(data, dict):
            return
        record = Entry(**data)
        self.tests[record.id] = record
        self.reported_requests += record.requests
        self._test_event(record)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """A worker ended: the tests it never ran, its view of the target, and its part of the HAR file."""
        handed = (getattr(node, "workeroutput", None) or {}).get("crm") or {}
        entries = [Entry(**data) for data in handed.get("tests", [])]
        if not self._order:
            self._order = [entry.id for entry in entries]
        for entry in entries:
            known = self.tests.get(entry.id)
            if known is None or (known.outcome == "not-run" and known.reason == "not run"):
                self.tests[entry.id] = entry
        self.fidelity.absorb(handed.get("fidelity") or {})
        if handed.get("har"):
            self.har_parts.append(Path(handed["har"]))

    def _merged_order(self) -> None:
        """The tests in the order a run in one process lists them (the collection's)."""
        if self._order:
            ordered = {key: self.tests[key] for key in self._order if key in self.tests}
            self.tests = ordered | {key: entry for key, entry in self.tests.items() if key not in ordered}

    def _join_har(self) -> None:
        if self.har is None:
            return
        for part in self.har_parts:
            try:
                entries = json.loads(part.read_text(encoding="utf-8"))["log"]["entries"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            for entry in entries:
                self.har.add_entry(entry)
            part.unlink(missing_ok=True)

    def use_target(self, target: Any) -> None:
        self.target = target
        self.redactor = Redactor(target.secrets)
        if self.har is not None:
            parts = urlsplit(target.base_url)
            self.har.origin, self.har.redactor = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}", self.redactor
        self._event("run", target=public_url(target.base_url), contract_profile=target.contract_profile)

    def _failed(self, record: Entry, error: BaseException | None, report: pytest.TestReport) -> None:
        text = self.redactor.text(report.longreprtext or "")
        # The contract failure of an answer the suite tripped over (`crm_contract.plugin.diagnosis`), else the check's.
        violation = getattr(report, "crm_violation", None) or _violation_in(error)
        if violation is not None:
            rule, summary = violation.rule, violation.detail
        else:
            first = str(error).strip().splitlines()[0] if error is not None and str(error).strip() else text[:200]
            found = re.match(r"\[([^\]]+)\]\s*(.*)", first)
            rule, summary = (found.group(1), found.group(2)) if found else (
                record.clauses[0] if record.clauses else "set-up", f"{type(error).__name__}: {first}")
        clause = clause_of(rule) or (record.clauses[0] if record.clauses else rule)
        summary = self.redactor.text(summary)
        record.outcome, record.reason = "fail", None
        record.failure = {"clause": clause, "rule": self.redactor.text(rule), "summary": summary,
                          "exception": type(violation or error).__name__ if error is not None else None,
                          "message": text}
        if isinstance(violation, SetupViolation):
            record.failure["setup"] = True
            record.reason = f"set-up failed: {summary.removeprefix('set-up: ')}"
        reproduction = examples.find_reproduction(error, report.longreprtext or "")
        record.replay = {
            "format": REPLAY_FORMAT, "clause": clause, "rule": record.failure["rule"], "test": record.id,
            "summary": summary, "message": text,
            "expected": self.redactor.data(violation.expected) if violation else None,
            "observed": self.redactor.data(violation.observed) if violation else None,
            "exchanges": self._exchanges(violation),
            "reproduction": {"hypothesis": reproduction[0], "blob": reproduction[1].decode("ascii"),
                             "suite": examples.suite_fingerprint()} if reproduction else None,
        }
        record.replay["objects"] = self._objects(record.replay["exchanges"])

    # Exchanges and objects -------------------------------------------------------------------------

    def _exchanges(self, violation: ContractViolation | None) -> list[dict[str, Any]]:
        if violation is None:
            return []
        base = self._base_path()
        rows = []
        for exchange in violation.exchanges:
            path = exchange.path[len(base):] if base and exchange.path.startswith(base + "/") else exchange.path
            row: dict[str, Any] = {"method": exchange.method, "path": path, "auth": self._auth(exchange.authorization)}
            if exchange.request_body is not NO_BODY:
                row["body"] = exchange.request_body
            row |= {"status": exchange.status, "response": exchange.response_body}
            rows.append(self.redactor.data(row))
        return rows

    def _base_path(self) -> str:
        from urllib.parse import urlsplit

        return urlsplit(self.target.base_url).path.rstrip("/") if self.target is not None else ""

    def _auth(self, header: str | None) -> str:
        if not header:
            return "none"
        token = header.removeprefix("Bearer ").strip()
        if self.target is not None and token == self.target.token:
            return "write"
        if self.target is not None and token == self.target.read_token:
            return "read"
        return "other"

    def _objects(self, exchanges: list[dict[str, Any]]) -> list[dict[str, Any]]:
        definitions = self.target.definitions if self.target is not None else {}
        slugs = dict.fromkeys(found.group(1) for row in exchanges if (found := _SLUG.match(row["path"])))
        return [{"slug": slug, "body": definitions[slug].body(),
                 "attributes": [attribute.body() for attribute in definitions[slug].attributes]}
                for slug in slugs if slug in definitions]

    # Writing ---------------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        handover = worker_output(self.config)
        if self.worker and handover is not None:
            if self.har is not None:
                self.har.close()  # complete before the controller reads it
            handover["crm"] = {"tests": [plain(asdict(entry)) for entry in self.tests.values()],
                               "fidelity": self.fidelity.export(),
                               "har": str(self.har.path) if self.har is not None else None}
            return
        if self.controller:
            self._merged_order()
            self._join_har()
        stopped = session.shouldfail or session.shouldstop
        if stopped:  # -x, --max-failures, an interrupt: the tests it left were never started
            for entry in self.tests.values():
                if entry.outcome == "not-run" and entry.reason == "not run":
                    entry.reason = f"not reached: the run stopped ({stopped})"
        if self.events is not None:
            clauses = clause_verdicts(list(self.tests.values()), selected_clauses(self.config))
            for clause in clauses:
                self._event("clause", **{key: clause.get(key) for key in ("id", "verdict", "tests", "requests",
                                                                            "reason")})
            verdicts = {clause["verdict"] for clause in clauses}
            self._event("verdict", verdict=next((v for v in ("fail", "inconclusive", "partial", "pass")
                                                 if v in verdicts), "not-run"), pytest_status=int(session.exitstatus))
        if self.report_dir is None:
            return
        self.write(int(session.exitstatus))

    def report(self, exit_code: int) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """report.json as a dict, and the replay files by their path in the report directory."""
        tests = list(self.tests.values())
        facts = self._run_facts()  # once: every replay file and the report carry the same
        counters: dict[str, int] = {}
        replays: dict[str, dict[str, Any]] = {}
        for test in tests:
            if test.failure is not None and test.replay is not None:
                clause = test.failure["clause"]
                counters[clause] = counters.get(clause, 0) + 1
                name = f"failures/{clause.replace(' ', '-')}-{counters[clause]}.json"
                test.failure["replay"] = name
                replays[name] = {**test.replay, **facts}
        clauses = clause_verdicts(tests, selected_clauses(self.config))
        verdicts = {clause["verdict"] for clause in clauses}
        overall = next((verdict for verdict in ("fail", "inconclusive", "partial", "pass") if verdict in verdicts),
                       "not-run")
        first = self.outcome.first_violation
        report = {
            "format": REPORT_FORMAT, **facts,
            "started": self.started.isoformat(timespec="seconds"),
            "duration": round(time.monotonic() - self.clock, 2),
            "verdict": overall, "exit_code": exit_code,
            "first_violation": {"seconds": round(first[0], 2), "rule": self.redactor.text(first[1]), "test": first[2]}
            if first else None,
            "fidelity": self.fidelity_summary(clauses),
            "internal_errors": [{"test": portable_id(nodeid), "error": self.redactor.text(error)}
                                for nodeid, error in self.outcome.internal],
            "totals": {"tests": len(tests), **{kind: sum(1 for t in tests if t.outcome == kind)
                                               for kind in ("pass", "fail", "inconclusive", "not-run")},
                       "requests": self.outcome.traffic.sent + self.outcome.preflight,
                       "examples": sum(t.examples or 0 for t in tests)},
            # Every request the run sent is in totals.requests: the tests' own, and these.
            "requests_outside_tests": {
                "pre-flight": self.outcome.preflight,
                "set-up and clean-up": max(self.outcome.traffic.sent - sum(t.requests for t in tests), 0)},
            "clauses": clauses,
            "tests": [{"id": t.id, "clauses": t.clauses, "tag": t.tag, "outcome": t.outcome,
                       "duration": round(t.duration, 3),
                       "examples": t.examples, "requests": t.requests, "reason": self.redactor.text(t.reason or "")
                       or None, "failure": t.failure} for t in tests],
        }
        return report, replays

    def _run_facts(self) -> dict[str, Any]:
        from hypothesis import settings

        seed = self.config.getoption("--hypothesis-seed", None)
        if seed is None:  # --example-db seeds each test instead (`crm_contract.plugin.session.use_example_db`)
            seed = examples.run_seed()
        return {
            "target": public_url(self.target.base_url) if self.target is not None else None,
            "contract_profile": contract_profile(self.config),
            "strict_adds": strict_adds(self.config),
            "hypothesis_profile": settings.get_current_profile_name(),
            "seed": int(seed) if seed is not None and str(seed).isdigit() else seed,
            "run_id": _run_id(),
            "object": self.config.getoption("crm_object"),  # --object and its matching attribute, if given
            "matching_attribute": self.config.getoption("matching_attribute"),
            "versions": _versions(),
        }

    def write(self, exit_code: int) -> None:
        assert self.report_dir is not None
        report, replays = self.report(exit_code)
        failures = self.report_dir / "failures"
        failures.mkdir(parents=True, exist_ok=True)
        for name, replay in replays.items():
            (self.report_dir / name).write_text(_json(replay), encoding="utf-8")
            script = self.report_dir / name.replace(".json", ".sh")
            # The script's own `Authorization: Bearer $CRM_TOKEN` stays; only the secrets are masked.
            script.write_text(self.redactor.text(shell_script(replay), headers=False), encoding="utf-8")
            script.chmod(0o755)
        (self.report_dir / "report.json").write_text(_json(report), encoding="utf-8")
        (self.report_dir / "junit.xml").write_bytes(junit_xml(report))
        from crm_contract.reports.html import render_html

        page = render_html([report], failures=replays)
        (self.report_dir / "report.html").write_text(self.redactor.text(page), encoding="utf-8")


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n"


def _run_id() -> str:
    from crm_contract.strategies import run_id

    return run_id()
