"""How a run ends: the exit codes, the pre-flight check of a target, and telling inconclusive from failed.

A test is inconclusive when it ended because the target kept answering 429, gateway errors or not at
all (`TargetInconclusive`, possibly wrapped by Hypothesis in an exception group or a Flaky error) and no
check failed along the way. A run whose only failures are inconclusive gives no verdict: exit code 3.

A red verdict needs a clean reproduction. A test that failed while infrastructure faults were about
(requests sent again after a 429, 5xx or dropped connection, examples discarded because a write's
answer was lost) is a verdict only when every violation it reports was seen on exchanges with no
write sent twice (see `clean`), and Hypothesis did not find the failure flaky. Otherwise the test is
run again, up to `CONFIRMATIONS` times, without shrinking (Hypothesis replays the failing example it
saved first); a failure that never reproduces cleanly is inconclusive, never failed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm_contract.errors import FAILED, INCONCLUSIVE, OK, USAGE
from crm_contract.kit.client import SAFE_METHODS, ContractClient, OutcomeUnknown, TargetInconclusive
from crm_contract.kit.pace import BudgetSpent, Pace
from crm_contract.kit.redaction import Redactor
from crm_contract.kit.traffic import Traffic
from crm_contract.kit.violations import ContractViolation, exceptions_in
from crm_contract.plugin.diagnosis import SuiteBug, blocked_by_setup, diagnose
from crm_contract.plugin.workers import is_controller, is_worker, worker_output
from crm_contract.runs.runner import CLOCK_START, PREFLIGHT_REQUESTS, VERDICT_FILE

__all__ = [
    "CLOCK_START", "CONFIRMATIONS", "FAILED", "INCONCLUSIVE", "OK", "USAGE", "VERDICT_FILE", "RunOutcome",
    "Unconfirmed", "confirmed", "exceptions_in", "inconclusive_reason", "run_exit_code",
]

# How many more times a failure seen only amid infrastructure faults is run for a clean reproduction.
CONFIRMATIONS = 2

# pytest's status -> ours: 2 interrupted (no verdict), 3 internal error (ours or a plugin's), 4 usage error
# (also an unusable target), 5 no test collected (nothing was checked).
_FROM_PYTEST = {0: OK, 1: FAILED, 2: INCONCLUSIVE, 3: USAGE, 4: USAGE, 5: INCONCLUSIVE}


def run_exit_code(pytest_status: int, *, inconclusive: bool, broken_collection: bool = False) -> int:
    """The exit code of a run from pytest's final status.

    `inconclusive`: the plugin set status 3 (no verdict), rather than pytest (an internal error).
    `broken_collection`: the suite could not even be collected, which pytest also reports as status 2.
    """
    if inconclusive and pytest_status == INCONCLUSIVE:
        return INCONCLUSIVE
    if broken_collection and pytest_status == pytest.ExitCode.INTERRUPTED:
        return USAGE
    return _FROM_PYTEST.get(pytest_status, USAGE)



class Unconfirmed(TargetInconclusive):
    """A failure seen only amid infrastructure faults, never reproduced cleanly: no verdict."""


def _flaky_or_starved(error: BaseException) -> bool:
    """Whether Hypothesis could not trust its own result: a flaky replay, or too few valid examples."""
    from hypothesis.errors import FailedHealthCheck, Flaky, Unsatisfiable, UnsatisfiedAssumption

    return any(isinstance(e, Flaky | Unsatisfiable | FailedHealthCheck | UnsatisfiedAssumption)
               for e in exceptions_in(error))


def confirmed(error: BaseException) -> bool:
    """Whether a failure is a verdict by itself, faults or not: a contract violation seen on clean exchanges.

    Every failed check in `error` must be a `ContractViolation` whose exchanges met no infrastructure
    fault, and Hypothesis must not have found the failure flaky (a replay that hit a fault, or passed).
    """
    checks = [e for e in exceptions_in(error) if isinstance(e, AssertionError | pytest.fail.Exception)]
    if not checks or _flaky_or_starved(error):
        return False
    return all(isinstance(e, ContractViolation) and clean(e) for e in checks)


def clean(violation: ContractViolation) -> bool:
    """Whether no write behind `violation` was sent more than once.

    A read sent again after a fault is as good as one sent once: its answer is the target's own, and
    reading changes nothing. A write sent again (after a 429 or 503, which say it was not acted on)
    is trusted only when the failure reproduces without one.
    """
    return not any(exchange.faults and exchange.method not in SAFE_METHODS for exchange in violation.exchanges)


def fault_reason(error: BaseException, faults: int) -> str | None:
    """Why a test that raised `error` amid `faults` infrastructure faults has no verdict, or None if it has one.

    None when nothing about the failure involves faults (no fault seen, or a confirmed violation).
    """
    if faults == 0 or confirmed(error):
        return None
    latest = f"; the last: {ContractClient.last_fault}" if ContractClient.last_fault else ""
    checks = [e for e in exceptions_in(error) if isinstance(e, AssertionError | pytest.fail.Exception)]
    if checks:
        rule = next((e.rule for e in checks if isinstance(e, ContractViolation)), None)
        seen = f"a failure of [{rule}]" if rule else "a failure"
        return f"{seen} was seen only amid infrastructure faults ({faults}{latest}) and never reproduced cleanly"
    if _flaky_or_starved(error):
        return (f"too many examples met infrastructure faults ({faults}: lost answers, 5xx, timeouts{latest}) "
                "for Hypothesis to reach a result")
    return None


def inconclusive_reason(error: BaseException, tripped: str | None = None) -> str | None:
    """Why a test that raised `error` is inconclusive, or None if it failed (or erred) for real.

    Looks through causes, contexts and exception groups: inconclusive when a `TargetInconclusive` (or
    a raw network error of httpx) is among them, or when the target was found unavailable during the
    test (`tripped`, the breaker's reason: Hypothesis may then end with an error of its own, as a replay
    stops where the first run went on), and no check failed (no `AssertionError` or `pytest.fail`), so
    that a contract failure is never hidden by an outage that followed it, e.g. during clean-up.
    """
    found: list[str] = []
    for current in exceptions_in(error):
        if isinstance(current, AssertionError | pytest.fail.Exception):
            return None
        if isinstance(current, TargetInconclusive):
            found.append(str(current))
        elif isinstance(current, httpx.TransportError):  # a request sent by hand, outside the suite's client
            found.append(f"{type(current).__name__}: {' '.join(str(current).split())} (a network fault)")
    if found:
        return found[-1]  # the deepest: the first outage, not the clean-up after it
    return f"{tripped}; then {type(error).__name__}" if tripped else None


class RunOutcome:
    """The pytest hooks that sort failures into inconclusive and failed, and report both.

    Registered by the plugin once per session. An inconclusive test keeps pytest's outcome "failed"
    (junit.xml shows it so), but the terminal lists it as INCONCLUSIVE with its reason, and when every
    failure of the session was inconclusive the exit status is 3 rather than 1.
    """

    def __init__(self, pace: Pace | None = None, config: pytest.Config | None = None) -> None:
        self.traffic = Traffic(pace=pace)
        # pytest-xdist (`crm_contract.plugin.workers`): a worker hands its counts over, the controller adds them up.
        self.worker = config is not None and is_worker(config)
        self.controller = config is not None and is_controller(config)
        # The pre-flight's requests (the runner's, or the session's own): counted once, by the process that
        # writes the report.
        self.preflight = 0 if self.worker else _preflight_requests()
        self.not_reached: list[str] = []  # tests the --max-requests budget or --max-time left out
        self.max_time: float | None = None  # seconds from the run's start after which no test starts
        self.max_failures: int | None = None  # tests failed with a verdict after which the run stops
        self.redactor = Redactor([])  # the target's tokens, once the target fixture has named them
        self.inconclusive: list[tuple[str, str]] = []
        self.internal: list[tuple[str, str]] = []  # tests ended by a bug of the suite: (node id, the error)
        self.exchange_mark = 0  # ContractClient.recorded when the running attempt started
        self.failed = 0
        self.declared_inconclusive = False  # the session's status 3 means "no verdict", not pytest's crash
        self.session: pytest.Session | None = None
        self.broken_collection = False  # a module of the suite failed to import: a set-up error, not a verdict
        self.started = _clock_start()
        self.running: str | None = None  # the node id of the test running now
        self.confirmation_runs = 0  # tests run again to confirm a failure seen amid faults
        self.attempt = 0  # of the running test: 0, then 1, 2 for the runs that confirm a failure
        self.faults_before = 0  # faults seen when the running test's body started
        # The first violation any check raised: seconds since the start, its rule, the test. Hypothesis
        # shrinks after it, so the failure is reported later; this is when the suite found the bug.
        self.first_violation: tuple[float, str, str] | None = None
        ContractViolation.listeners.append(self._violation)

    def close(self) -> None:
        if self._violation in ContractViolation.listeners:
            ContractViolation.listeners.remove(self._violation)

    def _violation(self, violation: ContractViolation) -> None:
        if self.first_violation is None:
            self.first_violation = (time.time() - self.started, violation.rule, self.running or "?")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool:
        """pytest's protocol (set-up, call, tear-down), run again while a failure needs a clean reproduction.

        Each attempt sets the test up afresh (function-scoped fixtures are made again: a fresh scene,
        fresh keys), keeps the module's and session's, and runs without shrinking (Hypothesis replays
        the failing example it saved first). Only the last attempt's reports are logged; a failure
        that never reproduced cleanly is reported inconclusive.
        """
        from _pytest.runner import call_and_report

        self.running = item.nodeid
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        for attempt in range(CONFIRMATIONS + 1):
            self.attempt = attempt
            if hasattr(item, "_request") and not item._request:
                item._initrequest()  # type: ignore[attr-defined]  # an attempt again, as pytest's runtestprotocol allows
            self.exchange_mark = ContractClient.recorded
            reports = [call_and_report(item, "setup", log=False)]
            if reports[0].passed:
                reports.append(call_and_report(item, "call", log=False))
            reason = getattr(reports[-1], "crm_unconfirmed", None)
            again = reason is not None and attempt < CONFIRMATIONS and not (
                item.session.shouldfail or item.session.shouldstop)
            # Between attempts only the test's own fixtures go; the module's and session's stay.
            reports.append(call_and_report(item, "teardown", log=False, nextitem=item.parent if again else nextitem))
            if hasattr(item, "_request"):
                item._request = False
                item.funcargs = None  # type: ignore[attr-defined]
            if not again:
                break
            self.confirmation_runs += 1
        if reason is not None:
            times = f" (run {attempt + 1} times)" if attempt else ""
            reports[1].crm_inconclusive = f"{reason}{times}"  # type: ignore[attr-defined]
        self.attempt, self.running = 0, None
        for report in reports:
            item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        """The test body: the breaker armed, examples paced, and the faults it meets counted."""
        self.traffic.arm()
        self.faults_before = ContractClient.faults_seen()
        try:
            # A confirming attempt does not shrink: the example it replays first was shrunk already.
            with paced(item, self.traffic.pace.example_factor(), shrink=self.attempt == 0):
                return (yield)
        finally:
            self.traffic.disarm()

    @staticmethod
    def _needs_confirmation(error: BaseException, faults: int) -> str | None:
        """Why `error` is no verdict yet and the test should run again, or None to report it as it is."""
        if isinstance(error, KeyboardInterrupt | SystemExit) or isinstance(error, pytest.skip.Exception):
            return None
        if any(isinstance(e, BudgetSpent) for e in exceptions_in(error)):
            return None
        reason = fault_reason(error, faults)
        if reason is not None:
            return reason
        found = list(exceptions_in(error))
        if any(isinstance(e, OutcomeUnknown) for e in found) and not any(
                isinstance(e, AssertionError | pytest.fail.Exception) for e in found):
            return str(next(e for e in found if isinstance(e, OutcomeUnknown)))
        return None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.failed and call.excinfo is not None and _budget_ended(call.excinfo.value):
            report.outcome = "skipped"
            why = "not reached: the --max-requests budget was spent"
            report.longrepr = (str(item.path), (item.location[1] or 0) + 1, f"Skipped: {why}")
            self.not_reached.append(item.nodeid)
            return report
        if report.failed and report.longrepr is not None:
            shown = str(report.longrepr)
            redacted = self.redactor.text(shown)
            if redacted != shown:  # keep pytest's own rendering unless it would show a token
                report.longrepr = redacted
        if report.failed and call.excinfo is not None:
            blocked = blocked_by_setup(call.excinfo.value, item.nodeid)
            if blocked is not None:
                report.outcome = "skipped"
                report.longrepr = (str(item.path), (item.location[1] or 0) + 1, f"Skipped: {blocked}")
                return report
        if report.failed and call.excinfo is not None and call.when == "call":
            faults = ContractClient.faults_seen() - self.faults_before
            unconfirmed = self._needs_confirmation(call.excinfo.value, faults)
            if unconfirmed is not None:
                report.crm_unconfirmed = unconfirmed  # type: ignore[attr-defined]
        if report.failed and call.excinfo is not None:
            tripped = self.traffic.tripped_in_last_test if call.when == "call" else None
            reason = inconclusive_reason(call.excinfo.value, tripped)
            if reason is not None:
                report.crm_inconclusive = reason  # type: ignore[attr-defined]
            elif getattr(report, "crm_unconfirmed", None) is None:
                self._diagnose(report, call.excinfo.value)
        return report

    def _diagnose(self, report: pytest.TestReport, error: BaseException) -> None:
        """An exception of the suite's own code: the contract failure of the answer behind it, or an internal error."""
        found = diagnose(error, ContractClient.exchanges_since(self.exchange_mark))
        if isinstance(found, SuiteBug):
            report.crm_internal = str(found)  # type: ignore[attr-defined]
            report.crm_inconclusive = (  # type: ignore[attr-defined]
                f"internal error of crm-contract, not a verdict on the target: {found}")
        elif found is not None:
            report.crm_violation = found  # type: ignore[attr-defined]
            report.longrepr = self.redactor.text(str(found))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if self.traffic.pace.budget_spent:
            self.not_reached.append(item.nodeid)
            pytest.skip("not reached: the --max-requests budget was spent")
        if self.max_time is not None and time.time() - self.started > self.max_time:
            self.not_reached.append(item.nodeid)
            pytest.skip(f"not reached: the --max-time of {self.max_time:g} s was spent")

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, tuple[str, Any]] | None:
        if getattr(report, "crm_internal", None):
            return "internal error", "E", ("INTERNAL ERROR", {"red": True})
        if getattr(report, "crm_inconclusive", None):
            return "inconclusive", "I", ("INCONCLUSIVE", {"yellow": True})
        return None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            reason = getattr(report, "crm_inconclusive", None)
            internal = getattr(report, "crm_internal", None)
            if internal:
                self.internal.append((report.nodeid, internal))
            elif reason:
                self.inconclusive.append((report.nodeid, reason))
            else:
                self.failed += 1
                if self.max_failures is not None and self.failed >= self.max_failures and self.session is not None:
                    self.session.shouldfail = f"--max-failures {self.max_failures}: stopped after {self.failed} failed"
                    workers = self.session.config.pluginmanager.get_plugin("dsession") if self.controller else None
                    if workers is not None and not workers.shouldstop:
                        workers.shouldstop = self.session.shouldfail  # the workers stop after their running test

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.broken_collection = True

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """A worker ended: its requests, waits, confirmations, the tests it never reached, its first violation."""
        handed = (getattr(node, "workeroutput", None) or {}).get("crm_outcome") or {}
        self.traffic.absorb(handed.get("traffic") or {})
        pace = self.traffic.pace
        pace.waited_for(float(handed.get("waited") or 0))
        pace.lowest_factor = min(pace.lowest_factor, float(handed.get("lowest_factor") or 1.0))
        pace.budget_spent = pace.budget_spent or bool(handed.get("budget_spent"))
        self.confirmation_runs += int(handed.get("confirmation_runs") or 0)
        self.not_reached += list(handed.get("not_reached") or [])
        first = handed.get("first_violation")
        if first and (self.first_violation is None or first[0] < self.first_violation[0]):
            self.first_violation = (float(first[0]), str(first[1]), str(first[2]))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        handover = worker_output(session.config)
        if self.worker and handover is not None:
            handover["crm_outcome"] = {
                "traffic": self.traffic.export(), "waited": self.traffic.pace.waited,
                "lowest_factor": self.traffic.pace.lowest_factor, "budget_spent": self.traffic.pace.budget_spent,
                "confirmation_runs": self.confirmation_runs, "not_reached": self.not_reached,
                "first_violation": list(self.first_violation) if self.first_violation else None}
        if self.controller and self.failed and session.exitstatus == pytest.ExitCode.INTERRUPTED and session.shouldfail:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # stopped by -x or --max-failures, with a verdict
        if session.exitstatus != pytest.ExitCode.TESTS_FAILED or self.failed:
            return  # a verdict (exit 1) stands, internal errors or not
        if self.internal:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR  # `crm-contract run`: 2, an error of the suite
        elif self.inconclusive:
            session.exitstatus = INCONCLUSIVE
            self.declared_inconclusive = True

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for nodeid, error in self.internal:
            terminalreporter.write_line(f"crm-contract: internal error, a bug of crm-contract and no verdict on the "
                                        f"target: {error} in {nodeid}", red=True)
        if self.inconclusive:
            terminalreporter.write_sep("=", "inconclusive: the target left these tests without a verdict",
                                       yellow=True)
            for nodeid, reason in self.inconclusive:
                terminalreporter.write_line(f"INCONCLUSIVE {nodeid} - {reason}")
        if self.traffic.sent:
            terminalreporter.write_line(f"crm-contract: {self.traffic.summary(self.preflight)}")
        paced_note = self.traffic.pace.summary()
        if paced_note:
            terminalreporter.write_line(f"crm-contract: {paced_note}")
        if self.confirmation_runs:
            terminalreporter.write_line(f"crm-contract: {self.confirmation_runs} test run(s) repeated to confirm a "
                                        "failure seen amid infrastructure faults")
        if self.not_reached:
            terminalreporter.write_line(f"crm-contract: {len(self.not_reached)} test(s) not reached within "
                                        "--max-requests or --max-time; their clauses are not run (see the report)")
        if self.first_violation is not None:
            seconds, rule, nodeid = self.first_violation
            terminalreporter.write_line(f"crm-contract: first contract violation found after {seconds:.1f} s "
                                        f"([{rule}] in {nodeid})")

    def pytest_unconfigure(self) -> None:
        self.close()
        where = os.environ.get(VERDICT_FILE)
        if where and self.session is not None and not self.worker:  # a worker's status is only a part of the run's
            status = int(self.session.exitstatus)
            code = run_exit_code(status, inconclusive=self.declared_inconclusive,
                                 broken_collection=self.broken_collection)
            Path(where).write_text(json.dumps({"exit": code, "pytest_status": status}))


def _budget_ended(error: BaseException) -> bool:
    """Whether a failure is only the budget running out: no violation seen on clean exchanges before it."""
    found = list(exceptions_in(error))
    if not any(isinstance(e, BudgetSpent) for e in found):
        return False
    return not any(isinstance(e, ContractViolation) and clean(e) for e in found)


@contextmanager
def paced(item: pytest.Item, factor: float, *, shrink: bool = True) -> Iterator[None]:
    """While the test runs: its Hypothesis examples scaled by `factor` (1: as the profile says), and no
    shrinking unless `shrink`."""
    if factor >= 1 and shrink:
        yield
        return
    from hypothesis import Phase, settings

    def scaled(current: settings) -> settings:
        phases = current.phases if shrink else [phase for phase in current.phases if phase is not Phase.shrink]
        return settings(current, max_examples=max(1, round(current.max_examples * min(factor, 1.0))),
                        phases=phases)

    function = getattr(item, "obj", None)
    function = getattr(function, "__func__", function)
    own = getattr(function, "_hypothesis_internal_use_settings", None)
    previous_profile = settings.get_current_profile_name()
    settings.register_profile("crm-contract-paced", scaled(settings.get_profile(previous_profile)))
    settings.load_profile("crm-contract-paced")  # tests that read the profile when they run (stateful)
    if own is not None:
        function._hypothesis_internal_use_settings = scaled(own)  # type: ignore[union-attr]
    try:
        yield
    finally:
        settings.load_profile(previous_profile)
        if own is not None:
            function._hypothesis_internal_use_settings = own  # type: ignore[union-attr]


def _preflight_requests() -> int:
    try:
        return max(int(os.environ.get(PREFLIGHT_REQUESTS, "0")), 0)
    except ValueError:
        return 0


def _clock_start() -> float:
    try:
        return float(os.environ[CLOCK_START])
    except (KeyError, ValueError):
        return time.time()
