"""The report directory end to end: a passing and a failing run, their artefacts, replay, diff, no tokens.

Two runs of the same seeded selection (the A1 and A2 tests), one against the reference server and one
against it with the fault `update_answers_201` (an update answers 201), both through `crm-contract run`
with their own, distinctive tokens. A third run, against `missing_token_accepted`, fails schemathesis
conformance checks, whose messages print curl lines with headers: none of it may show a token.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from crm_contract.hosting.embedded import EmbeddedServer
from crm_contract.reports import render_in_chromium

pytestmark = pytest.mark.slow  # whole suite runs that write reports, replays in subprocesses

ROOT = Path(__file__).resolve().parent.parent
WRITE = f"e2e-write-{secrets.token_hex(12)}"
READ = f"e2e-read-{secrets.token_hex(12)}"
TOKENS = {WRITE: ("crm:read", "crm:write"), READ: ("crm:read",)}
SELECTION = "test_a1_asserting or test_a2_asserting"
FAULT = "update_answers_201"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("ZEEG_API_TOKEN", "ZEEG_API_READ_TOKEN", "PYTEST_BASE_URL", "CI")}
    return subprocess.run([sys.executable, "-m", "crm_contract", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=300, check=False)


def shown(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-2000:]}"


@dataclass
class Run:
    directory: Path
    result: subprocess.CompletedProcess[str]

    @property
    def report(self) -> dict:
        return json.loads((self.directory / "report.json").read_text(encoding="utf-8"))

    def verdicts(self) -> dict[str, str]:
        return {clause["id"]: clause["verdict"] for clause in self.report["clauses"]}


def run_against(fault: str | None, directory: Path, selection: str = SELECTION) -> Run:
    with EmbeddedServer(fault=fault, tokens=TOKENS) as server:
        result = cli("run", "--base-url", server.base_url, "--token", WRITE, "--read-token", READ,
                     "--profile", "strict", "--report-dir", str(directory), "--seed", "1", "--", "-k", selection)
    return Run(directory, result)


@pytest.fixture(scope="module")
def passing(tmp_path_factory: pytest.TempPathFactory) -> Run:
    run = run_against(None, tmp_path_factory.mktemp("passing"))
    assert run.result.returncode == 0, shown(run.result)
    return run


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> Run:
    run = run_against(FAULT, tmp_path_factory.mktemp("failing"))
    assert run.result.returncode == 1, shown(run.result)
    return run


@pytest.fixture(scope="module")
def conformance(tmp_path_factory: pytest.TempPathFactory) -> Run:
    run = run_against("missing_token_accepted", tmp_path_factory.mktemp("conformance"), "conforms and GET")
    assert run.result.returncode == 1, shown(run.result)
    return run


@pytest.fixture(scope="module")
def faulty_server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(fault=FAULT, tokens=TOKENS) as server:
        yield server


def test_a_failing_run_writes_every_artefact(failing: Run) -> None:
    report = failing.report
    assert report["format"] == "crm-contract-report/1" and report["verdict"] == "fail"
    assert report["exit_code"] == 1 and report["seed"] == 1
    assert failing.verdicts()["A2"] == "fail" and failing.verdicts()["A1"] == "pass"
    assert failing.verdicts()["A9"] == "not-run"  # its tests were deselected
    failed = [test for test in report["tests"] if test["outcome"] == "fail"]
    assert failed and all(test["failure"]["clause"] == "A2" for test in failed)
    for test in failed:
        replay = failing.directory / test["failure"]["replay"]
        data = json.loads(replay.read_text(encoding="utf-8"))
        assert data["clause"] == "A2" and data["exchanges"] and data["reproduction"]["blob"]
        assert data["objects"], "the replay file names the objects its sequence needs"
        assert all(not exchange["path"].startswith("/v2/") for exchange in data["exchanges"])
        script = replay.with_suffix(".sh")
        assert script.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash") and os.access(script, os.X_OK)
        assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    counted = [test for test in report["tests"] if test["outcome"] != "not-run"]
    assert all(test["examples"] and test["requests"] for test in counted), counted
    assert report["totals"]["requests"] >= sum(test["requests"] for test in counted)
    assert report["first_violation"]["rule"].startswith("A2")


def test_junit_has_a_case_per_clause_and_test(failing: Run) -> None:
    root = ElementTree.parse(failing.directory / "junit.xml").getroot()
    suites = {suite.get("name", "").split(":")[0]: suite for suite in root.iter("testsuite")}
    assert int(suites["A2"].get("failures", 0)) >= 1 and suites["A1"].get("failures") == "0"
    names = [case.get("name") for case in suites["A2"].iter("testcase")]
    assert any(name and name.startswith("test_a2_") for name in names)


def test_the_html_page_in_headless_chromium_shows_the_failing_clause(failing: Run, tmp_path: Path) -> None:
    screenshot = tmp_path / "report.png"
    text = render_in_chromium(failing.directory / "report.html", screenshot)
    summary = next(test["failure"]["summary"] for test in failing.report["tests"] if test["failure"])
    assert "A2" in text and summary[:60] in text, text[:2000]
    assert screenshot.stat().st_size > 10_000


def test_replay_says_fixed_on_the_correct_server_and_still_failing_on_the_faulty_one(
        failing: Run, faulty_server: EmbeddedServer) -> None:
    replay = str(next(failing.directory.glob("failures/A2-*.json")))
    fixed = cli("replay", replay, "--token", WRITE)  # no --base-url: the embedded reference server
    assert fixed.returncode == 0 and fixed.stdout.startswith("crm-contract: FIXED: [A2]"), shown(fixed)
    still = cli("replay", replay, "--base-url", faulty_server.base_url, "--token", WRITE, "--read-token", READ)
    assert still.returncode == 1 and still.stdout.startswith("crm-contract: STILL FAILING: [A2]"), shown(still)


def test_replay_of_a_state_machine_failure(tmp_path: Path, faulty_server: EmbeddedServer) -> None:
    """A sequence that no longer fails runs past its failing step, out of recorded choices: still FIXED."""
    run = run_against(FAULT, tmp_path / "machine", "test_every_sequence and unique-key and not non-unique")
    assert run.result.returncode == 1, shown(run.result)
    replay = str(next(run.directory.glob("failures/*.json")))
    fixed = cli("replay", replay, "--token", WRITE)
    assert fixed.returncode == 0 and "FIXED" in fixed.stdout, shown(fixed)
    still = cli("replay", replay, "--base-url", faulty_server.base_url, "--token", WRITE)
    assert still.returncode == 1 and "STILL FAILING" in still.stdout, shown(still)


def test_a_replay_file_of_another_suite_version_is_refused(failing: Run, tmp_path: Path) -> None:
    data = json.loads(next(failing.directory.glob("failures/A2-*.json")).read_text(encoding="utf-8"))
    data["reproduction"]["suite"] = "0000000000000000"
    other = tmp_path / "A2-1.json"
    other.write_text(json.dumps(data), encoding="utf-8")
    result = cli("replay", str(other))
    assert result.returncode == 2 and "another version of the suite" in result.stderr, shown(result)


def test_replay_of_a_file_that_is_not_one_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"format": "something else"}', encoding="utf-8")
    result = cli("replay", str(bogus))
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0, shown(result)
    assert "not a crm-contract replay file" in result.stderr, shown(result)


def new_failures_listed(output: str) -> list[str]:
    """The clauses under the "N new failure(s):" heading of `crm-contract diff`."""
    section = re.search(r"^\d+ new failures?:\n((?:  .*\n)+)", output, re.MULTILINE)
    return re.findall(r"^  (A\d+|section \d+)\s{2,}", section.group(1), re.MULTILINE) if section else []


def test_diff_names_exactly_the_clauses_that_newly_fail(passing: Run, failing: Run) -> None:
    newly = sorted(clause for clause, verdict in failing.verdicts().items()
                   if verdict == "fail" and passing.verdicts()[clause] != "fail")
    assert newly == ["A2"]
    result = cli("diff", str(passing.directory / "report.json"), str(failing.directory / "report.json"))
    assert result.returncode == 1 and new_failures_listed(result.stdout) == newly, shown(result)
    back = cli("diff", str(failing.directory / "report.json"), str(passing.directory / "report.json"))
    assert back.returncode == 0 and not new_failures_listed(back.stdout), shown(back)
    assert re.search(r"^1 fixed:\n  A2\s", back.stdout, re.MULTILINE), shown(back)


def test_no_artefact_and_no_output_shows_a_token(passing: Run, failing: Run, conformance: Run) -> None:
    assert "curl" in conformance.result.stdout, "the schemathesis failures print curl lines"
    assert "Authorization" in conformance.result.stdout
    for run in (passing, failing, conformance):
        files = [path for path in run.directory.rglob("*") if path.is_file()]
        assert {"report.json", "junit.xml", "report.html"} <= {path.name for path in files}
        for text, where in [(run.result.stdout, "stdout"), (run.result.stderr, "stderr"),
                            *((path.read_text(encoding="utf-8"), str(path)) for path in files)]:
            for token in (WRITE, READ):
                assert token not in text, f"a token in {where}"
