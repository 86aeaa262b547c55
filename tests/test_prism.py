"""Validating a real mock: the suite against Stoplight Prism serving `contract/openapi.yaml`.

Prism (`scripts/ensure-prism` installs it from npm when it is missing) answers every call with an
example (static mode) or with data made up from the schemas (dynamic mode, `-d`), and keeps nothing.
The run must say so in a way a mock's author can act on: exit 1, the first failure a section 2 call
shown with its request and answer, the tests that need that set-up not run with the reason, no
exception of the suite's own anywhere, and a fidelity summary that says "stateless".
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cli_support import DEV, ROOT, run, shown
from crm_contract.contract import OPENAPI_PATH

from crm_contract.hosting.embedded import free_port

pytestmark = pytest.mark.slow  # npm, Node and suite runs against Prism

MODES = {"static": [], "dynamic": ["--dynamic"]}
MOCK_TOKEN = {"ZEEG_API_TOKEN": "any-token-will-do"}  # Prism checks that one is sent, not which


@pytest.fixture(scope="module")
def prism() -> str:
    """The path of a `prism` executable, installed on first use."""
    found = subprocess.run([str(ROOT / "scripts" / "ensure-prism")], capture_output=True, text=True, timeout=600,
                           check=False)
    assert found.returncode == 0, f"scripts/ensure-prism failed:\n{found.stderr[-3000:]}"
    return found.stdout.strip().splitlines()[-1]


@pytest.fixture(params=sorted(MODES))
def mock(request: pytest.FixtureRequest, prism: str, tmp_path: Path) -> Iterator[str]:
    with serving(prism, request.param, tmp_path / "prism.log") as base_url:
        yield base_url


@contextmanager
def serving(prism: str, mode: str, log_path: Path) -> Iterator[str]:
    """`prism mock contract/openapi.yaml` in static or dynamic mode; its base URL."""
    port = free_port()
    log = log_path.open("w")
    process = subprocess.Popen([prism, "mock", str(OPENAPI_PATH), "-h", "127.0.0.1", "-p", str(port),
                                *MODES[mode]], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def test_a_run_against_prism_diagnoses_a_stateless_mock(mock: str, tmp_path: Path) -> None:
    result = run("run", "--base-url", mock, *DEV, "--report-dir", str(tmp_path), env=MOCK_TOKEN)
    assert result.returncode == 1, shown(result)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["internal_errors"] == [] and "internal error" not in result.stdout, shown(result)
    failed = [test for test in report["tests"] if test["failure"]]
    first = failed[0]
    assert first["failure"]["clause"] == "section 2" and "POST /crm/objects" in first["failure"]["summary"], first
    for test in failed:
        assert test["failure"]["exception"] in ("ContractViolation", "SetupViolation"), test
        replay = json.loads((tmp_path / test["failure"]["replay"]).read_text())
        assert replay["exchanges"], test
    exchange = json.loads((tmp_path / first["failure"]["replay"]).read_text())["exchanges"][0]
    assert (exchange["method"], exchange["path"], exchange["status"]) == ("POST", "/crm/objects", 201), exchange
    assert not re.search(r"^E +\w*(KeyError|TypeError|ValueError|ZeroDivisionError|AttributeError|IndexError)",
                         result.stdout, re.MULTILINE), shown(result)
    verdicts = {clause["id"]: clause for clause in report["clauses"]}
    for clause in ("A1", "A2", "A5", "section 4", "section 5"):
        assert verdicts[clause]["verdict"] == "not-run" and "set-up" in verdicts[clause]["reason"], verdicts[clause]
    fidelity = report["fidelity"]
    assert fidelity["kind"] == "a stateless mock" and "stateless: reads do not reflect writes" in fidelity["summary"]
    summary = result.stdout.index("fidelity: what kind of target this is")
    assert summary < result.stdout.index("= FAILURES ="), shown(result)  # before any failure
    page = (tmp_path / "report.html").read_text()
    assert page.index('class="fidelity"') < page.index('class="banner"')


def test_compare_puts_what_kind_of_target_each_is_before_the_matrix(prism: str, tmp_path: Path) -> None:
    with serving(prism, "static", tmp_path / "prism.log") as base_url:
        result = run("compare", "--base-url", "reference", "--base-url", base_url, *DEV, "--report-dir",
                     str(tmp_path / "c"), env=MOCK_TOKEN)
    assert result.returncode == 1, shown(result)
    matrix = result.stdout.index("\nclause ")
    assert result.stdout.rindex("1-reference: This target looks like a faithful implementation", 0, matrix) > 0
    assert result.stdout.rindex("This target looks like a stateless mock", 0, matrix) > 0, shown(result)
    page = (tmp_path / "c" / "compare.html").read_text()
    assert page.count('class="fidelity"') == 2 and "stateless: reads do not reflect writes" in page
