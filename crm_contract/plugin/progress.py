"""A live status line while the suite runs: tests and clauses done, requests sent, failures so far.

A run takes minutes, much of it inside a few long Hypothesis tests, and pytest's row of dots says
neither which contract clauses are settled nor whether the target is still being talked to. So, for a
person at a terminal, one line is rewritten in place::

    crm-contract: 41/154 tests · clauses 6/18 done · 3,412 requests · 1 failure, 0 inconclusive · A7 test_a7_…

How it shares the terminal with pytest: while it is active it takes over pytest's per-test progress
(file names, letters and the ``[ 40%]`` column), which would otherwise be written into the middle of
the line. Reports keep their category and word, so the failures, the "short test summary info" and the
counts at the end are pytest's own; a failure also gets a line of its own as it happens, above the
status line. After the last test the line stays, without the running test, where pytest's row of dots
would have been, and pytest's summary follows it.

The line is written to a duplicate of stdout's file descriptor by a thread that redraws it up to five
times a second, and at every test end: during a test pytest captures file descriptor 1 into a file, and
a long stateful test would otherwise freeze the request count for minutes.

Active only when `show_progress` says so: stdout is a terminal and ``CI`` is not set (or
``--crm-progress=yes``), not ``--crm-progress=no`` or ``CRM_CONTRACT_PROGRESS=0``, and pytest itself
does not write to the terminal while tests run (``-v``, ``-s``, live logging, ``--setup-show``). And
only for the contract suite: a selection without ``rule`` markers (this project's own tests) keeps
pytest's usual output. When inactive it writes nothing at all.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from typing import Any

import pytest

from crm_contract.kit.clauses import clauses_of

__all__ = [
    "ENV", "MODES", "Progress", "StatusLine", "Tally", "fit", "in_ci", "progress_mode",
    "show_progress",
]

MODES = ("auto", "yes", "no")
ENV = "CRM_CONTRACT_PROGRESS"
_REDRAW_EVERY = 0.2  # seconds: about five redraws a second at most, besides one at each test end
_MIN_LABEL = 12  # characters: a running test shown in fewer says nothing
_ENV_MODES = {"": "auto", "auto": "auto", "1": "yes", "true": "yes", "on": "yes", "yes": "yes",
              "0": "no", "false": "no", "off": "no", "no": "no"}


def progress_mode(option: str | None, environ: Mapping[str, str]) -> str:
    """auto, yes or no: the option if given, else the environment variable."""
    if option:
        return option
    value = environ.get(ENV, "")
    try:
        return _ENV_MODES[value.strip().lower()]
    except KeyError:
        raise pytest.UsageError(f"{ENV}={value!r}: use auto, yes or no (or 1, 0)") from None


def in_ci(environ: Mapping[str, str]) -> bool:
    """The convention of CI services (GitHub, GitLab, Travis, CircleCI...): ``CI`` set, and not to false."""
    return environ.get("CI", "").strip().lower() not in ("", "false", "0")


def show_progress(mode: str, *, isatty: bool, environ: Mapping[str, str], verbosity: int, live_output: bool) -> bool:
    """Whether the status line is shown.

    ``yes`` overrides only the guesses about who reads stdout (a terminal, not CI). Under ``-v`` pytest
    prints a line a test already, and with ``live_output`` (``-s``, live logging, ``--setup-show``)
    something else writes to the terminal while tests run and would be cut by the line: these win even
    over ``yes``.
    """
    if mode == "no" or verbosity > 0 or live_output:
        return False
    return mode == "yes" or (isatty and not in_ci(environ))


class Tally:
    """The numbers of the status line: tests and clauses done, failures so far.

    A clause is done when every selected test that names it has finished. A test counts once, as a
    failure if any of its phases failed for real, else as inconclusive if one was inconclusive.
    """

    def __init__(self, tests: Mapping[str, Sequence[str]]) -> None:
        self.tests = {nodeid: tuple(clauses) for nodeid, clauses in tests.items()}
        self.pending: dict[str, set[str]] = {}  # clause -> its tests not finished yet
        for nodeid, clauses in self.tests.items():
            for clause in clauses:
                self.pending.setdefault(clause, set()).add(nodeid)
        self.finished: set[str] = set()
        self.failed: set[str] = set()
        self.inconclusive: set[str] = set()

    @classmethod
    def of_items(cls, items: Iterable[pytest.Item]) -> Tally:
        return cls({item.nodeid: clauses_of(item) for item in items})

    @property
    def clauses_done(self) -> int:
        return sum(1 for tests in self.pending.values() if not tests)

    def failure(self, nodeid: str, *, inconclusive: bool) -> None:
        if not inconclusive:
            self.failed.add(nodeid)
            self.inconclusive.discard(nodeid)
        elif nodeid not in self.failed:
            self.inconclusive.add(nodeid)

    def finish(self, nodeid: str) -> None:
        if nodeid in self.tests:
            self.finished.add(nodeid)
            for clause in self.tests[nodeid]:
                self.pending[clause].discard(nodeid)

    def status(self, requests: int, running: str | None = None, width: int | None = None) -> str:
        """The status line, with the clauses and name of the running test if there is one.

        Fitted to ``width`` (so that it never wraps, even on 80 columns): without the ``crm-contract:``
        prefix, then without the words the numbers can do without, to make room for the running test;
        the running test shortened, or left out when that is not enough.
        """
        failures, inconclusive = len(self.failed), len(self.inconclusive)
        tests, clauses = f"{len(self.finished)}/{len(self.tests)}", f"{self.clauses_done}/{len(self.pending)}"
        sent = f"{requests:,} request{'' if requests == 1 else 's'}"
        failed = f"{failures} failure{'' if failures == 1 else 's'}"
        # Under pytest-xdist the controller knows the tests by id only: no clauses to count.
        done = [f"clauses {clauses} done"] if self.pending else []
        full = " · ".join([f"{tests} tests", *done, sent, f"{failed}, {inconclusive} inconclusive"])
        short = " · ".join([f"{tests} tests", *([f"{clauses} clauses"] if self.pending else []), sent, failed]
                           + ([f"{inconclusive} inconclusive"] if inconclusive else []))
        variants = (f"crm-contract: {full}", full, short)
        if running is not None:
            for text in variants:
                room = None if width is None else width - len(text) - len(" · ")
                if room is None or room >= _MIN_LABEL:
                    return f"{text} · {fit(self.label(running), room)}"
        return next((text for text in variants if width is None or len(text) <= width), fit(short, width))

    def label(self, nodeid: str) -> str:
        """``A7 test_a7_…``: the test's clauses (the first and how many more, for a long list), its name."""
        clauses = self.tests.get(nodeid, ())
        named = ",".join(clauses) if len(clauses) <= 2 else f"{clauses[0]}+{len(clauses) - 1}"
        name = nodeid.rpartition("::")[2]
        return f"{named} {name}" if named else name


def fit(text: str, width: int | None) -> str:
    """``text`` cut to ``width`` characters: a line that wraps can no longer be rewritten by a ``\\r``."""
    return text if width is None or len(text) <= width else text[: max(width - 1, 0)] + "…"


class StatusLine:
    """One terminal line rewritten in place, written to a file descriptor of its own.

    Thread-safe: the redraw thread and pytest's main thread both write here. Writing stops quietly
    for good if the terminal goes away (EIO, EPIPE): a lost status line must not fail the run.
    """

    def __init__(self, fd: int, encoding: str = "utf-8") -> None:
        self.fd = fd
        self.encoding = encoding
        self.shown = ""
        self.paused = False
        self.closed = False
        self._lock = threading.Lock()

    def width(self) -> int:
        try:
            columns = os.get_terminal_size(self.fd).columns
        except OSError:
            columns = 0
        return (columns or 80) - 1  # never the last column: some terminals wrap on it

    def show(self, text: str) -> None:
        with self._lock:
            text = fit(text, self.width())
            if self.paused or self.closed or text == self.shown:
                return
            self._write("\r" + text + " " * (len(self.shown) - len(text)))
            self.shown = text

    def above(self, text: str) -> None:
        """Print ``text`` as a line of its own where the status line is; the next `show` redraws it below."""
        with self._lock:
            if not self.closed:
                self._write("\r" + text.ljust(len(self.shown)) + "\n")
                self.shown = ""

    def pause(self) -> None:
        """Stop drawing, leaving the line as it is: a debugger writes below it; `resume` draws afresh."""
        with self._lock:
            self.shown, self.paused = "", True

    def resume(self) -> None:
        with self._lock:
            self.paused = False

    def close(self) -> None:
        """Stop drawing, leaving the last line on screen, and release the file descriptor."""
        with self._lock:
            if not self.closed:
                self.closed = True
                os.close(self.fd)

    def _write(self, text: str) -> None:
        data = text.encode(self.encoding, "replace")
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:
            self.closed = True
            os.close(self.fd)


class Progress:
    """The pytest hooks of the status line. Registered by the plugin; inert unless `show_progress` agrees."""

    def __init__(self, config: pytest.Config, requests: Callable[[], int]) -> None:
        self.config = config
        self.requests = requests  # the run's requests so far (under pytest-xdist: of the tests reported)
        self.stdout = sys.stdout  # the terminal, before any capture replaces it
        self.wanted = show_progress(
            progress_mode(config.getoption("crm_progress", None), os.environ),
            isatty=_isatty(self.stdout),
            environ=os.environ,
            verbosity=config.get_verbosity(pytest.Config.VERBOSITY_TEST_CASES),
            live_output=_live_output(config),
        )
        self.tally: Tally | None = None  # set when the status line takes over from pytest's progress
        self.running: str | None = None
        self.line: StatusLine | None = None
        self._stop = threading.Event()
        self._redraws: threading.Thread | None = None

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        reporter: pytest.TerminalReporter | None = self.config.pluginmanager.get_plugin("terminalreporter")
        if not self.wanted or reporter is None:
            return
        tally = Tally.of_items(session.items)
        if not tally.pending:  # no rule markers: not the contract suite, pytest's usual output is better
            return
        self.tally = tally
        # pytest's own progress would be written into the status line: no file names, no [ 40%] column
        # (a private attribute, hence the guard); the letters go in pytest_report_teststatus.
        reporter.showfspath = False
        if hasattr(reporter, "_show_progress_info"):
            reporter._show_progress_info = False

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        """pytest-xdist's controller: the line starts when the first worker has collected the tests."""
        reporter: pytest.TerminalReporter | None = self.config.pluginmanager.get_plugin("terminalreporter")
        if not self.wanted or reporter is None or self.tally is not None or not ids:
            return
        self.tally = Tally({nodeid: () for nodeid in ids})
        reporter.showfspath = False
        self._start()

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self) -> Generator[None, Any, Any]:
        status = yield
        if self.tally is None or not status:
            return status
        category, _letter, word = status
        return category, "", word  # the category still counts in the summary, the word still labels FAILED

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        collection_failed = session.testsfailed and not session.config.option.continue_on_collection_errors
        if self.tally is None or session.config.option.collectonly or collection_failed or not session.items:
            return (yield)
        self._start()
        try:
            return (yield)
        finally:
            self._finish()

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.running = nodeid

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.tally is None or self.line is None or not report.failed:
            return
        inconclusive = bool(getattr(report, "crm_inconclusive", None))
        self.tally.failure(report.nodeid, inconclusive=inconclusive)
        word = "INCONCLUSIVE" if inconclusive else "FAILED" if report.when == "call" else "ERROR"
        crash = getattr(getattr(report.longrepr, "reprcrash", None), "message", "")
        detail = f" - {crash.strip().splitlines()[0]}" if crash.strip() else ""
        self.line.above(fit(f"{word} {report.nodeid}{detail}", self.line.width()))
        self._redraw()

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        if self.tally is not None:
            self.tally.finish(nodeid)
            self._redraw()

    @pytest.hookimpl(tryfirst=True)
    def pytest_exception_interact(self) -> None:
        if self.line is not None and self.config.getoption("usepdb", False):
            self.line.pause()  # --pdb writes the traceback before it calls pytest_enter_pdb

    def pytest_enter_pdb(self) -> None:
        if self.line is not None:
            self.line.pause()

    def pytest_leave_pdb(self) -> None:
        if self.line is not None:
            self.line.resume()

    def pytest_unconfigure(self) -> None:
        self._finish()

    def _start(self) -> None:
        reporter: pytest.TerminalReporter = self.config.pluginmanager.getplugin("terminalreporter")
        if self.config.get_verbosity() >= 0:  # the blank line pytest puts before its first file name
            reporter.write("\n")
        reporter.flush()  # what pytest wrote comes before the line
        try:
            fd = os.dup(self.stdout.fileno())
        except (AttributeError, OSError, ValueError):  # no file descriptor behind stdout: nothing to draw on
            self.tally = None
            return
        self.line = StatusLine(fd, getattr(self.stdout, "encoding", None) or "utf-8")
        self._redraw()
        self._redraws = threading.Thread(target=self._redraw_until_stopped, name="crm-contract-progress",
                                         daemon=True)
        self._redraws.start()

    def _finish(self) -> None:
        self._stop.set()
        if self._redraws is not None:
            self._redraws.join()
            self._redraws = None
        if self.line is not None:
            self.running = None
            self._redraw()  # the final numbers stay on screen; pytest ends the line before its summary
            self.line.close()
            self.line = None

    def _redraw_until_stopped(self) -> None:
        try:
            while not self._stop.wait(_REDRAW_EVERY):
                self._redraw()
        except Exception:  # a broken redraw thread just ends: a status line must not fail or warn the run
            return

    def _redraw(self) -> None:
        line, tally = self.line, self.tally
        if line is not None and tally is not None:
            line.show(tally.status(self.requests(), self.running, line.width()))


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False


def _live_output(config: pytest.Config) -> bool:
    """True when something writes to the terminal while tests run: uncaptured output, live logs, setup lines."""
    try:
        log_cli = bool(config.getini("log_cli"))
    except ValueError:  # the logging plugin is disabled
        log_cli = False
    return (
        log_cli
        or config.getoption("capture", "fd") in ("no", "tee-sys")
        or config.getoption("log_cli_level", None) is not None
        or bool(config.getoption("setupshow", False))
    )
