"""The live status line: when it shows, what it says, and that pytest's own output survives it.

The unit tests feed the hooks fake items and reports and read the line from a pipe. The end-to-end
tests run a small selection of the suite against the embedded server, once in a pseudo-terminal
(the line shows, pytest's summary follows it) and in the three places it must keep quiet: a pipe,
a terminal in CI, and a terminal with ``CRM_CONTRACT_PROGRESS=0``.
"""

from __future__ import annotations

import os
import re
import select
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from crm_contract.kit.clauses import clauses_of
from crm_contract.kit.traffic import Traffic
from crm_contract.plugin.progress import StatusLine, Tally, in_ci, progress_mode, show_progress

ROOT = Path(__file__).resolve().parent.parent
SUITE = [sys.executable, "-m", "pytest", "--pyargs", "crm_contract.contract_tests", "-p", "crm_contract.plugin",
         "-p", "no:cacheprovider", "--hypothesis-profile", "dev", "-n", "0"]  # -n 0: not this checkout's addopts
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x1b\x07]*(?:\x1b\\|\x07)")
SUMMARY = re.compile(r"^=+ .*\d+ passed.* in [\d.]+s.* =+$")


def item(nodeid: str, *rules: str) -> Any:
    """A stand-in for a collected test: its node id and its ``rule`` markers."""
    marks = [pytest.mark.rule(*rules).mark] if rules else []
    return SimpleNamespace(nodeid=nodeid, iter_markers=lambda name: iter(marks if name == "rule" else []))


def report(nodeid: str, when: str = "call", *, failed: bool = False, inconclusive: str | None = None) -> Any:
    crash = SimpleNamespace(reprcrash=SimpleNamespace(message="AssertionError: A7: got 201\nmore")) if failed else None
    fake = SimpleNamespace(nodeid=nodeid, when=when, failed=failed, longrepr=crash)
    if inconclusive:
        fake.crm_inconclusive = inconclusive
    return fake


def screen(raw: str) -> list[str]:
    """The lines a terminal would show: ``\\r`` goes back to column 0 and overwrites, ``\\n`` ends a line."""
    lines = []
    for physical in ANSI.sub("", raw).replace("\r\n", "\n").split("\n"):
        shown = ""
        for part in physical.split("\r"):
            shown = part + shown[len(part):]
        lines.append(shown.rstrip())
    return lines


def test_the_public_names_are_declared() -> None:
    from crm_contract.plugin import progress

    defined = {name for name, value in vars(progress).items()
               if not name.startswith("_") and getattr(value, "__module__", None) == progress.__name__}
    assert defined <= set(progress.__all__) and all(hasattr(progress, name) for name in progress.__all__)


# When it shows ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("option", "env", "mode"), [
    (None, {}, "auto"), ("no", {"CRM_CONTRACT_PROGRESS": "yes"}, "no"), (None, {"CRM_CONTRACT_PROGRESS": "0"}, "no"),
    (None, {"CRM_CONTRACT_PROGRESS": "False"}, "no"), (None, {"CRM_CONTRACT_PROGRESS": "1"}, "yes"),
    (None, {"CRM_CONTRACT_PROGRESS": " auto "}, "auto"), ("yes", {}, "yes"),
])
def test_the_option_wins_over_the_environment(option: str | None, env: dict[str, str], mode: str) -> None:
    assert progress_mode(option, env) == mode


def test_a_mistyped_environment_variable_is_a_usage_error() -> None:
    with pytest.raises(pytest.UsageError, match="CRM_CONTRACT_PROGRESS='maybe': use auto, yes or no"):
        progress_mode(None, {"CRM_CONTRACT_PROGRESS": "maybe"})


@pytest.mark.parametrize(("value", "ci"), [("", False), ("false", False), ("FALSE", False), ("0", False),
                                           ("true", True), ("1", True), ("yes", True)])
def test_ci_is_a_ci_variable_set_to_anything_but_false(value: str, ci: bool) -> None:
    assert in_ci({"CI": value}) is ci
    assert in_ci({}) is False


@pytest.mark.parametrize(("mode", "isatty", "env", "verbosity", "live_output", "shown"), [
    ("auto", True, {}, 0, False, True),
    ("auto", True, {}, -1, False, True),  # -q: the line replaces the dots
    ("auto", False, {}, 0, False, False),  # a pipe or a file
    ("auto", True, {"CI": "true"}, 0, False, False),
    ("auto", True, {"CI": "false"}, 0, False, True),
    ("no", True, {}, 0, False, False),
    ("auto", True, {}, 1, False, False),  # -v: a line a test already
    ("auto", True, {}, 0, True, False),  # -s, live logging: other writers on the terminal
    ("yes", False, {"CI": "1"}, 0, False, True),
    ("yes", True, {}, 2, False, False),
    ("yes", True, {}, 0, True, False),
])
def test_shown_only_to_a_person_at_a_terminal(
    mode: str, isatty: bool, env: dict[str, str], verbosity: int, live_output: bool, shown: bool
) -> None:
    assert show_progress(mode, isatty=isatty, environ=env, verbosity=verbosity, live_output=live_output) is shown


# What it says -------------------------------------------------------------------------------------


def test_a_clause_is_done_when_every_selected_test_naming_it_has_finished() -> None:
    tally = Tally.of_items([item("m.py::a", "A1", "A10"), item("m.py::b", "A1"), item("m.py::c", "A10", "A1"),
                            item("m.py::d", "section 4")])
    assert len(tally.pending) == 3 and tally.clauses_done == 0
    tally.finish("m.py::a")
    tally.finish("m.py::d")
    assert tally.clauses_done == 1  # section 4; A1 and A10 still wait for b and c
    tally.finish("m.py::c")
    assert tally.clauses_done == 2  # A10
    tally.finish("m.py::b")
    tally.finish("m.py::b")  # twice, or a test that was not selected, changes nothing
    tally.finish("m.py::deselected")
    assert tally.clauses_done == 3 and len(tally.finished) == 4


def test_a_test_counts_once_as_a_failure_or_as_inconclusive() -> None:
    tally = Tally({"m::a": ("A1",), "m::b": ("A2",), "m::c": ("A3",)})
    tally.failure("m::a", inconclusive=False)
    tally.failure("m::a", inconclusive=False)  # the call failed, then the teardown erred
    tally.failure("m::b", inconclusive=True)
    tally.failure("m::c", inconclusive=True)
    tally.failure("m::c", inconclusive=False)  # a real failure outweighs an outage
    assert tally.failed == {"m::a", "m::c"} and tally.inconclusive == {"m::b"}


def test_clauses_come_from_every_rule_marker_in_order_without_repeats() -> None:
    assert clauses_of(item("m::a", "A7", "A10", "A7")) == ("A7", "A10")
    assert clauses_of(item("m::a")) == ()


def test_the_status_line_reads_like_the_example() -> None:
    tests: dict[str, tuple[str, ...]] = {f"m.py::t{n}": ("A1",) for n in range(150)}
    tests |= {"m.py::test_a7_a_null_or_empty_value_is_rejected": ("A7",), "m.py::x": ("A10",),
              "m.py::machine[unique-key]": ("A1", "A2", "A3", "A12"), "m.py::y": ()}
    tally = Tally(tests)
    for n in range(40):
        tally.finish(f"m.py::t{n}")
    tally.finish("m.py::x")
    tally.failure("m.py::t3", inconclusive=False)
    running = "m.py::test_a7_a_null_or_empty_value_is_rejected"
    assert tally.status(3412, running) == (
        "crm-contract: 41/154 tests · clauses 1/6 done · 3,412 requests · 1 failure, 0 inconclusive · "
        "A7 test_a7_a_null_or_empty_value_is_rejected"
    )
    assert tally.status(1).endswith("· 1 request · 1 failure, 0 inconclusive")
    assert tally.label("m.py::machine[unique-key]") == "A1+3 machine[unique-key]"
    assert tally.label("m.py::y") == "y"


@pytest.mark.parametrize("width", [200, 120, 100, 90, 79, 60, 30])
def test_the_status_line_never_wraps_and_keeps_the_numbers_longest(width: int) -> None:
    tally = Tally({"m.py::test_a7_a_null_or_empty_value_is_rejected": ("A7",), "m.py::b": ("A1", "A2")})
    tally.finish("m.py::b")
    running = "m.py::test_a7_a_null_or_empty_value_is_rejected"
    for text in (tally.status(123_456, running, width), tally.status(123_456, None, width)):
        assert len(text) <= width
        if width >= 60:
            assert "1/2 tests" in text and "123,456 requests" in text and "0 failures" in text
    assert "A7 test_a7" in tally.status(123_456, running, 79)  # room for the running test on 80 columns


# How it draws -------------------------------------------------------------------------------------


@pytest.fixture
def pipe() -> Iterator[tuple[StatusLine, int]]:
    """A status line written into a pipe (80 columns, as on a terminal that reports no size), and the reader."""
    reader, writer = os.pipe()
    line = StatusLine(writer)
    yield line, reader
    line.close()
    os.close(reader)


def drain(reader: int) -> str:
    chunks = []
    while select.select([reader], [], [], 0)[0]:
        chunks.append(os.read(reader, 65536))
    return b"".join(chunks).decode()


def test_the_line_is_rewritten_in_place_and_only_when_it_changes(pipe: tuple[StatusLine, int]) -> None:
    line, reader = pipe
    line.show("crm-contract: 1/3 tests · 12 requests")
    line.show("crm-contract: 1/3 tests · 12 requests")
    line.show("crm-contract: 2/3 tests")
    line.above("FAILED m.py::a - AssertionError")
    line.show("crm-contract: 2/3 tests")
    line.pause()
    line.show("crm-contract: 3/3 tests")
    raw = drain(reader)
    assert raw.count("\r") == 4 and raw.count("\n") == 1
    assert screen(raw) == ["FAILED m.py::a - AssertionError", "crm-contract: 2/3 tests"]
    line.resume()
    line.show("crm-contract: 3/3 tests")
    assert screen(raw + drain(reader))[-1] == "crm-contract: 3/3 tests"


def test_the_hooks_turn_fake_reports_into_the_line(pipe: tuple[StatusLine, int]) -> None:
    from crm_contract.plugin.progress import Progress

    line, reader = pipe
    reporter = SimpleNamespace(showfspath=None, _show_progress_info="progress")
    config = SimpleNamespace(
        getoption=lambda name, default=None: {"crm_progress": "yes"}.get(name, default),
        getini=lambda name: False,
        get_verbosity=lambda *which: 0,
        pluginmanager=SimpleNamespace(get_plugin=lambda name: reporter),
    )
    traffic = Traffic()
    progress = Progress(config, lambda: traffic.sent)  # type: ignore[arg-type]
    session = SimpleNamespace(items=[item("m.py::test_a", "A1"), item("m.py::test_b", "A1", "A7")])
    progress.pytest_collection_finish(session)  # type: ignore[arg-type]
    assert reporter.showfspath is False and reporter._show_progress_info is False  # pytest's progress is off

    status = progress.pytest_report_teststatus()
    next(status)
    with pytest.raises(StopIteration) as letters:
        status.send(("failed", "F", "FAILED"))
    assert letters.value.value == ("failed", "", "FAILED")  # no letter in the line, the word for the summary

    progress.line = line
    traffic.sent = 41
    for nodeid in ("m.py::test_a", "m.py::test_b"):
        progress.pytest_runtest_logstart(nodeid)
        progress.pytest_runtest_logreport(report(nodeid, failed=nodeid.endswith("b")))
        progress.pytest_runtest_logfinish(nodeid)
    assert screen(drain(reader)) == [
        "FAILED m.py::test_b - AssertionError: A7: got 201",
        "2/2 tests · 2/2 clauses · 41 requests · 1 failure · A1,A7 test_b",
    ]
    progress.line = None


# End to end ---------------------------------------------------------------------------------------


def quiet_environment(**extra: str) -> dict[str, str]:
    """This environment without anything that would switch the line on or off, plus ``extra``."""
    drop = ("CI", "CRM_CONTRACT_PROGRESS", "PYTEST_ADDOPTS", "PYTEST_BASE_URL", "ZEEG_API_TOKEN", "ZEEG_API_READ_TOKEN")
    return {**{key: value for key, value in os.environ.items() if key not in drop}, **extra}


def run_in_terminal(args: list[str], env: dict[str, str], columns: int = 160) -> tuple[int, str]:
    """Run the suite with stdout and stderr on a pseudo-terminal; its exit code and everything it wrote."""
    import fcntl
    import termios

    controller, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen([*SUITE, *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=terminal,
                               stderr=terminal)
    os.close(terminal)
    output = bytearray()
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            if select.select([controller], [], [], 1)[0]:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: every writer has closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
        else:
            pytest.fail(f"the run took longer than 240 s:\n{output.decode(errors='replace')[-3000:]}")
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
    return process.wait(), output.decode("utf-8", errors="replace")


posix_only = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


@posix_only
def test_in_a_terminal_the_line_replaces_the_dots_and_pytests_summary_follows() -> None:
    code, raw = run_in_terminal(["-k", "test_a1_ or test_a2_"], quiet_environment())
    lines = [line for line in screen(raw) if line]
    shown = "\n".join(lines[-15:])
    assert code == 0, shown
    live = [part for part in ANSI.sub("", raw).split("\r") if "tests ·" in part]
    assert len(live) >= 3 and any(" · A1 test_a1_" in part for part in live), shown  # redrawn as it runs
    final = [line for line in lines if line.startswith("crm-contract: 4/4 tests")]
    assert len(final) == 1 and "clauses 2/2 done" in final[0] and "requests" in final[0], shown
    assert re.search(r"· [1-9][\d,]* requests · 0 failures, 0 inconclusive$", final[0]), shown
    assert SUMMARY.match(lines[-1]), shown  # pytest's summary is still the last word
    assert not any(line.startswith("contract_tests/") for line in lines), shown  # no file names, no dots


def test_in_a_pipe_nothing_is_drawn() -> None:
    result = subprocess.run([*SUITE, "-k", "test_a1_"], cwd=ROOT, env=quiet_environment(), capture_output=True,
                            text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "\r" not in result.stdout and "clauses" not in result.stdout and "·" not in result.stdout
    assert re.search(r"^contract_tests/test_assert_rules\.py \.\. +\[100%\]$", result.stdout, re.M), result.stdout


@posix_only
@pytest.mark.parametrize("switch", [{"CI": "true"}, {"CRM_CONTRACT_PROGRESS": "0"}])
def test_in_ci_or_when_switched_off_a_terminal_gets_pytests_usual_output(switch: dict[str, str]) -> None:
    code, raw = run_in_terminal(["-k", "test_a1_"], quiet_environment(**switch))
    lines = [line for line in screen(raw) if line]
    assert code == 0, "\n".join(lines[-15:])
    assert "clauses" not in raw and "·" not in raw
    assert any(re.match(r"^contract_tests/test_assert_rules\.py \.\. +\[100%\]$", line) for line in lines), lines
    assert SUMMARY.match(lines[-1]), lines[-15:]
